//! The `admin:` section: where the admin listener binds and where its bearer token comes from.
//!
//! Every admin request but `GET /health` needs `Authorization: Bearer <token>`. The token is,
//! in order: the file `admin.token_file` names, the environment variable `admin.token_env`
//! names, or one the gateway generates on first start into `<data_dir>/admin-token` (mode
//! 0600). This crate only says where the token is; the proxy reads or generates it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::Report;
use crate::gateway::RawAdmin;

/// Why an admin listener has no token: no source configured, and no data directory.
pub const NO_TOKEN_SOURCE: &str = "the admin API needs a token and `data_dir: off` leaves nowhere to generate one: set admin.token_file or admin.token_env";

/// Name of the generated token's file in the data directory.
pub const TOKEN_FILE_NAME: &str = "admin-token";

/// The admin listener, validated.
#[derive(Debug, Clone)]
pub struct Admin {
    /// Where it listens (loopback by default in the shipped configurations).
    pub address: SocketAddr,
    /// Where its bearer token comes from.
    pub token: AdminToken,
    /// TLS on the admin listener (`admin.tls`), for an admin API bound beyond loopback. Its
    /// certificate is read at start.
    pub tls: Option<crate::transport::ListenerTls>,
}

/// Where the admin bearer token comes from. Never the token itself, so a `Config` can be
/// printed or logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminToken {
    /// Read from this file (written by the operator; surrounding whitespace ignored).
    File(PathBuf),
    /// Read from this environment variable.
    Env(String),
    /// Read from this file in the data directory, generated there on first start.
    Generated(PathBuf),
}

impl Admin {
    /// An admin listener at `address` with the default token source: a token generated into
    /// `data_dir`. [`NO_TOKEN_SOURCE`] without a data directory.
    pub fn with_generated_token(
        address: SocketAddr,
        data_dir: Option<&Path>,
    ) -> Result<Self, &'static str> {
        let dir = data_dir.ok_or(NO_TOKEN_SOURCE)?;
        Ok(Self {
            address,
            token: AdminToken::Generated(dir.join(TOKEN_FILE_NAME)),
            tls: None,
        })
    }
}

/// Validates `admin:`. `resolve` names a file relative to the gateway file; `tls` reads the
/// `tls:` block (certificate and key files).
pub(crate) fn admin(
    report: &mut Report,
    file: &str,
    raw: &RawAdmin,
    data_dir: Option<&Path>,
    resolve: impl Fn(&str) -> PathBuf,
    tls: impl FnOnce(&mut Report) -> Option<crate::transport::ListenerTls>,
) -> Option<Admin> {
    let tls = match &raw.tls {
        Some(_) => Some(tls(report)?),
        None => None,
    };
    let address = raw
        .address
        .parse()
        .map_err(|_| {
            report.error(
                file,
                "admin.address",
                format!("{:?} is not an IP:PORT address", raw.address),
            )
        })
        .ok()?;
    let token = match (&raw.token_file, &raw.token_env) {
        (Some(_), Some(_)) => {
            report.error(
                file,
                "admin",
                "token_file and token_env are exclusive: name one source for the admin token",
            );
            return None;
        }
        (Some(f), None) => AdminToken::File(resolve(f)),
        (None, Some(var)) => {
            if var.is_empty() {
                report.error(file, "admin.token_env", "must name an environment variable");
                return None;
            }
            AdminToken::Env(var.clone())
        }
        (None, None) => {
            return Admin::with_generated_token(address, data_dir)
                .map(|a| Admin { tls, ..a })
                .map_err(|e| report.error(file, "admin", e))
                .ok();
        }
    };
    Some(Admin {
        address,
        token,
        tls,
    })
}
