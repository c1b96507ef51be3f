//! Who may use the admin API: the bearer token, read or generated at start and on every reload.
//!
//! A bearer token is hashed and compared in constant time with the token's SHA-256. The AWS
//! CLI and SDKs cannot send a bearer token: they sign with SigV4, so a request signed with
//! the admin token as its secret access key (any access key id, service `apigateway`, the
//! gateway's `aws.region`) is accepted too; checking that signature needs the token itself,
//! which [`Token`] keeps in memory and never prints. Nothing here logs a token; a refused
//! request is logged with its peer and the reason only.

use std::io::Write as _;
use std::path::Path;

use http::HeaderMap;
use portico_config::admin::AdminToken;
use sha2::{Digest, Sha256};

/// Shortest token accepted from a file or the environment.
pub const MIN_TOKEN_LEN: usize = 16;

/// Random bytes in a generated token (base64url: 43 characters).
const GENERATED_TOKEN_BYTES: usize = 32;

/// The admin token: its SHA-256 (bearer checks, the fingerprint) and its text (the SigV4
/// secret). `Debug` shows the fingerprint only.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
    secret: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({})", self.fingerprint())
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer` header: 401.
    Missing,
    /// A token that is not the admin token: 403.
    Wrong,
}

impl Token {
    /// Reads the token from where `source` says, generating it first for
    /// [`AdminToken::Generated`] when the file does not exist yet.
    pub fn resolve(source: &AdminToken) -> Result<Self, String> {
        match source {
            AdminToken::File(path) => Self::read(path, "admin.token_file"),
            AdminToken::Env(var) => {
                let value = std::env::var(var)
                    .map_err(|e| format!("admin.token_env: environment variable {var}: {e}"))?;
                Self::from_text(&value).map_err(|e| format!("admin.token_env {var}: {e}"))
            }
            AdminToken::Generated(path) => match std::fs::metadata(path) {
                Ok(_) => Self::read(path, "the generated admin token"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::generate(path),
                Err(e) => Err(format!("admin token {}: {e}", path.display())),
            },
        }
    }

    /// A token from its text (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "the token must be at least {MIN_TOKEN_LEN} characters"
            ));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the token must be printable ASCII without spaces".into());
        }
        Ok(Self {
            digest: Sha256::digest(text.as_bytes()).into(),
            secret: text.to_owned(),
        })
    }

    fn read(path: &Path, what: &str) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
        warn_if_readable_by_others(path);
        Self::from_text(&text).map_err(|e| format!("{what} {}: {e}", path.display()))
    }

    /// Generates a token into `path` (mode 0600, its directory 0700), never overwriting one.
    fn generate(path: &Path) -> Result<Self, String> {
        use base64::Engine as _;
        let mut bytes = [0u8; GENERATED_TOKEN_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| format!("no randomness for the admin token: {e}"))?;
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let fail =
            |e: std::io::Error| format!("cannot write the admin token {}: {e}", path.display());
        if let Some(dir) = path.parent() {
            create_private_dir(dir).map_err(fail)?;
        }
        let mut file = private_file(path).map_err(fail)?;
        file.write_all(format!("{text}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(fail)?;
        tracing::info!("generated an admin token in {}", path.display());
        Self::from_text(&text)
    }

    /// Checks a request's `Authorization` header.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let presented = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(Refusal::Missing)?;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Constant time: every byte is compared whatever the first difference.
        let diff = digest
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            Ok(())
        } else {
            Err(Refusal::Wrong)
        }
    }

    /// Checks a SigV4-signed request (`Authorization: AWS4-HMAC-SHA256 ...`) whose secret
    /// access key is the token; returns the access key id it was signed with.
    pub fn check_sigv4(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        region: &str,
    ) -> Result<String, Refusal> {
        use portico_auth::sigv4::{
            self, PayloadHash, SignedRequest, UriNormalization, VerifyConfig,
        };
        struct AnyKey<'a>(&'a str);
        impl sigv4::Credentials for AnyKey<'_> {
            fn secret(&self, _: &str) -> Option<&str> {
                Some(self.0)
            }
        }
        let headers: Vec<(&str, &[u8])> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect();
        let hash = sigv4::canonical::sha256_hex(body);
        let req = SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &headers,
            payload_hash: PayloadHash::Computed(&hash),
        };
        let config = VerifyConfig {
            service: "apigateway",
            region,
            uri: UriNormalization::Either,
            allow_unsigned_session_token: true,
        };
        match sigv4::verify(
            &req,
            &AnyKey(&self.secret),
            std::time::SystemTime::now(),
            &config,
        ) {
            Ok(v) => Ok(v.access_key),
            Err(e) => {
                tracing::warn!("admin SigV4 refused: {}", e.aws_message());
                Err(Refusal::Wrong)
            }
        }
    }

    /// A short name for the token in the audit log: the first 8 hex digits of its SHA-256,
    /// which reveal nothing usable about it.
    pub fn fingerprint(&self) -> String {
        portico_auth::sigv4::canonical::hex(&self.digest[..4])
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Opens a new file that only its owner can read (fails if it exists).
pub(crate) fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "the admin token file {} can be read by other users: chmod 600 it",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn checks_the_bearer_token() {
        let t = Token::from_text("  0123456789abcdef\n").unwrap();
        assert_eq!(t.check(&bearer("Bearer 0123456789abcdef")), Ok(()));
        assert_eq!(t.check(&bearer("bearer 0123456789abcdef")), Ok(()));
        assert_eq!(
            t.check(&bearer("Bearer 0123456789abcdeF")),
            Err(Refusal::Wrong)
        );
        assert_eq!(
            t.check(&bearer("Basic 0123456789abcdef")),
            Err(Refusal::Missing)
        );
        assert_eq!(t.check(&HeaderMap::new()), Err(Refusal::Missing));
        assert!(Token::from_text("short").is_err());
        assert!(Token::from_text("0123456789 abcdef").is_err());
        assert!(!format!("{t:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn generates_once_and_rereads() {
        let dir = std::env::temp_dir().join(format!("portico-token-{}", std::process::id()));
        let path = dir.join("sub").join("admin-token");
        let _ = std::fs::remove_dir_all(&dir);
        let first = Token::resolve(&AdminToken::Generated(path.clone())).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            first.check(&bearer(&format!("Bearer {}", text.trim()))),
            Ok(())
        );
        let again = Token::resolve(&AdminToken::Generated(path.clone())).unwrap();
        assert_eq!(again.fingerprint(), first.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
