//! Logging through the host (`portico:plugin/log`): each line is tied by the gateway to the
//! request being served.
//!
//! ```ignore
//! portico_sdk::log::info!("token for {} accepted", principal);
//! portico_sdk::log::warn("no token");
//! ```
//!
//! A plugin that logs imports the `log` capability; one that never does, does not.

use crate::bindings::capabilities::portico::plugin::log as host;

pub use host::Level;

/// Writes `message` at `level`.
pub fn write(level: Level, message: &str) {
    host::write(level, message);
}

/// Writes `message` at debug level.
pub fn debug(message: &str) {
    write(Level::Debug, message);
}

/// Writes `message` at info level.
pub fn info(message: &str) {
    write(Level::Info, message);
}

/// Writes `message` at warn level.
pub fn warn(message: &str) {
    write(Level::Warn, message);
}

/// Writes `message` at error level.
pub fn error(message: &str) {
    write(Level::Error, message);
}

// The macros are exported at the crate root (as `#[macro_export]` requires) under prefixed names,
// and re-exported here under their short names: `portico_sdk::log::info!(..)`.

#[doc(hidden)]
#[macro_export]
macro_rules! __portico_log_debug {
    ($($arg:tt)+) => { $crate::log::debug(&::std::format!($($arg)+)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __portico_log_info {
    ($($arg:tt)+) => { $crate::log::info(&::std::format!($($arg)+)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __portico_log_warn {
    ($($arg:tt)+) => { $crate::log::warn(&::std::format!($($arg)+)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __portico_log_error {
    ($($arg:tt)+) => { $crate::log::error(&::std::format!($($arg)+)) };
}

/// Formats and writes a line at debug level, like `format!`.
#[doc(inline)]
pub use crate::__portico_log_debug as debug;
/// Formats and writes a line at error level, like `format!`.
#[doc(inline)]
pub use crate::__portico_log_error as error;
/// Formats and writes a line at info level, like `format!`.
#[doc(inline)]
pub use crate::__portico_log_info as info;
/// Formats and writes a line at warn level, like `format!`.
#[doc(inline)]
pub use crate::__portico_log_warn as warn;
