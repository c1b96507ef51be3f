//! The audit log: one JSON line per admin mutation, appended to `<data_dir>/audit.log`.
//!
//! A line says who (the token's fingerprint, never the token), from where, what (method and
//! path, never the body), when, the HTTP status, and the gateway's state digest before and
//! after ([`crate::Gateway::state_digest`]). Refused mutations are recorded too, with equal
//! digests. The file is opened in append mode with mode 0600 and never rewritten; without a
//! data directory the lines go to the log (target `portico::audit`) instead.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

/// The audit log's file name in the data directory.
pub const FILE_NAME: &str = "audit.log";

/// Where audit lines go.
pub struct Audit {
    file: Option<(PathBuf, Mutex<std::fs::File>)>,
}

/// One audited request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry<'a> {
    /// RFC 3339, UTC.
    pub time: String,
    /// `token:<fingerprint>`, or `anonymous` for a refused request.
    pub actor: &'a str,
    /// The client's address.
    pub peer: SocketAddr,
    /// The HTTP method.
    pub method: &'a str,
    /// The path (no query string).
    pub path: &'a str,
    /// The answer's status code.
    pub status: u16,
    /// The state digest before the request.
    pub before: &'a str,
    /// The state digest after it.
    pub after: &'a str,
}

impl Audit {
    /// Opens (creating if needed) `<data_dir>/audit.log` for appending.
    pub fn open(data_dir: Option<&Path>) -> std::io::Result<Self> {
        let Some(dir) = data_dir else {
            return Ok(Self { file: None });
        };
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(&path)?;
        Ok(Self {
            file: Some((path, Mutex::new(file))),
        })
    }

    /// The file, if there is one.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }

    /// Appends one line. A failed write is logged, and does not fail the request that was
    /// already applied.
    pub fn record(&self, entry: &Entry<'_>) {
        let line = match serde_json::to_string(entry) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("audit: cannot encode an entry: {e}");
                return;
            }
        };
        match &self.file {
            None => tracing::info!(target: "portico::audit", "{line}"),
            Some((path, file)) => {
                let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = writeln!(file, "{line}") {
                    tracing::error!(
                        "audit: cannot append to {}: {e}; entry: {line}",
                        path.display()
                    );
                }
            }
        }
    }
}

/// Now, RFC 3339 with milliseconds, UTC.
pub fn now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}
