//! Host capabilities, one module each, all implemented once on [`Host`](crate::host::Host) and
//! shared by every world (the world bindings reuse the interface modules generated for the
//! `capabilities` world).
//!
//! A capability is added to a plugin's linker only when its grants include it; the loader
//! rejects a component importing one that is not granted before linking is even tried.
//!
//! | interface | grant | module |
//! |---|---|---|
//! | `portico:plugin/log` | `log` | [`log`] |
//! | `portico:plugin/config` | always (answers `null` without config) | [`config`] |
//! | `portico:plugin/kv` | `kv` | [`kv`] |
//! | `portico:plugin/http-client` | non-empty `http_allow` | [`http`] |
//! | `portico:plugin/request-tls` | always (answers for the call's own request) | [`tls`] |

pub(crate) mod config;
pub(crate) mod http;
pub(crate) mod kv;
pub(crate) mod log;
pub(crate) mod tls;
