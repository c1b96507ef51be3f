//! `portico:plugin/config`: the plugin's own configuration. The JSON text is validated once, at
//! load (an invalid config rejects the plugin there); each call gets the same text back, or
//! `null` when the gateway file sets none.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::caps::portico::plugin::config;
use crate::host::Host;

impl config::Host for Host {
    fn get(&mut self) -> String {
        String::from(&*self.shared.config)
    }
}

/// Validates `config` as JSON and returns the text every call will get.
pub(crate) fn prepare(config: Option<&str>) -> Result<Arc<str>, String> {
    match config {
        None => Ok(Arc::from("null")),
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(_) => Ok(Arc::from(text.trim())),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// Links `portico:plugin/config`.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    config::add_to_linker::<Host, HasSelf<Host>>(linker, |h| h)
}

#[cfg(test)]
mod tests {
    use super::prepare;

    #[test]
    fn config_is_checked_once() {
        assert_eq!(&*prepare(None).unwrap(), "null");
        assert_eq!(&*prepare(Some(" {\"a\": [1]}\n")).unwrap(), "{\"a\": [1]}");
        assert!(prepare(Some("{\"a\":")).is_err());
        assert!(prepare(Some("")).is_err());
    }
}
