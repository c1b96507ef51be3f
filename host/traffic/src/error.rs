//! Errors of the traffic core. This module owns [`TrafficError`] (what an operation failed
//! with) and [`Warning`] (what went wrong at start without stopping it).

use std::path::PathBuf;

/// Why a traffic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// The persisted state could not be written.
    #[error("traffic state I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The persisted state could not be encoded.
    #[error("encoding traffic state: {0}")]
    Encode(#[from] serde_json::Error),
    /// Redis refused or did not answer.
    #[error("redis: {0}")]
    Redis(String),
    /// The Redis URL is invalid.
    #[error("invalid redis url: {0}")]
    RedisUrl(String),
    /// Background tasks need a tokio runtime and none is running.
    #[error("the traffic core must be started inside a tokio runtime")]
    NoRuntime,
    /// A date range was empty or reversed.
    #[error("invalid date range: {0}")]
    DateRange(String),
}

/// Something wrong found at start that did not stop it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The persisted state could not be read; the core started empty and moved the file aside.
    CorruptState {
        /// The file that could not be read.
        path: PathBuf,
        /// Where it was moved (`None` if the move failed too).
        moved_to: Option<PathBuf>,
        /// Why it could not be read.
        error: String,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::CorruptState {
                path,
                moved_to,
                error,
            } => {
                write!(f, "traffic state {} unreadable ({error}); ", path.display())?;
                match moved_to {
                    Some(to) => write!(f, "moved to {}, starting empty", to.display()),
                    None => write!(f, "could not move it aside, starting empty"),
                }
            }
        }
    }
}
