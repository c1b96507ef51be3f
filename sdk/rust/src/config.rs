//! The plugin's own configuration (`portico:plugin/config`): the JSON the gateway file gives it.

use std::sync::OnceLock;

use crate::bindings::capabilities::portico::plugin::config as host;

/// The configuration as JSON text, as the host gives it (`null` when none is set).
pub fn config_text() -> String {
    host::get()
}

/// The configuration, parsed (`Value::Null` when none is set).
///
/// Parsed on first use and kept for the instance's life, so an instance the host reuses parses it
/// once. The host has already checked that it is JSON; text that is not reads as `Null`.
pub fn config() -> &'static serde_json::Value {
    static CONFIG: OnceLock<serde_json::Value> = OnceLock::new();
    CONFIG.get_or_init(|| serde_json::from_str(&host::get()).unwrap_or(serde_json::Value::Null))
}

/// The configuration deserialised into `T`, or why it does not fit.
pub fn config_as<T: serde::de::DeserializeOwned>() -> Result<T, String> {
    serde_json::from_str(&host::get()).map_err(|e| format!("plugin config: {e}"))
}
