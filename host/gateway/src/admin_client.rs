//! `portico plugin ...`, `portico cache ...`, `portico authorizers ...`, `portico keys ...` and
//! `portico usage ...`: thin clients of the admin API.
//!
//! Each sends the admin token as `Authorization: Bearer`: from `PORTICO_ADMIN_TOKEN`, else
//! from `--token-file`, else from the token the gateway generates in its default data
//! directory (`$XDG_DATA_HOME/portico/admin-token`, or `~/.local/share/portico/admin-token`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::{AuthorizersAction, CacheAction, KeysAction, PluginAction, UsageAction};

/// Which gateway to talk to, and with which token.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The gateway's admin address.
    #[arg(long, default_value = "127.0.0.1:9080", global = true)]
    admin: SocketAddr,
    /// A file holding the admin token (default: `PORTICO_ADMIN_TOKEN`, else the token
    /// generated in the default data directory).
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
}

impl Target {
    /// The token, or why there is none.
    fn token(&self) -> Result<String, String> {
        if self.token_file.is_none()
            && let Ok(t) = std::env::var("PORTICO_ADMIN_TOKEN")
        {
            return Ok(t.trim().to_owned());
        }
        let path = match &self.token_file {
            Some(p) => p.clone(),
            None => portico_config::usage::default_data_dir()
                .map(|d| d.join(portico_config::admin::TOKEN_FILE_NAME))
                .ok_or("no admin token: set PORTICO_ADMIN_TOKEN or pass --token-file")?,
        };
        std::fs::read_to_string(&path)
            .map(|t| t.trim().to_owned())
            .map_err(|e| {
                format!(
                    "cannot read the admin token {}: {e} (set PORTICO_ADMIN_TOKEN or pass --token-file)",
                    path.display()
                )
            })
    }
}

/// Runs one cache command against the admin listener at `admin`.
pub fn cache(admin: &Target, action: CacheAction) -> ExitCode {
    let (method, api, stage) = match &action {
        CacheAction::Flush { api, stage } => ("DELETE", api, stage),
        CacheAction::Stats { api, stage } => ("GET", api, stage),
    };
    call(admin, method, format!("/cache/{api}/{stage}"), Bytes::new())
}

/// Runs one authorizer-cache command.
pub fn authorizers(admin: &Target, action: AuthorizersAction) -> ExitCode {
    let AuthorizersAction::Flush { api, stage } = action;
    call(
        admin,
        "DELETE",
        format!("/authorizers/{api}/{stage}"),
        Bytes::new(),
    )
}

/// Runs one API-key command.
pub fn keys(admin: &Target, action: KeysAction) -> ExitCode {
    match action {
        KeysAction::Create {
            name,
            value,
            plans,
            disabled,
        } => {
            let mut body =
                serde_json::json!({"name": name, "usagePlans": plans, "enabled": !disabled});
            if let Some(v) = value {
                body["value"] = v.into();
            }
            call(
                admin,
                "POST",
                "/apikeys".into(),
                Bytes::from(body.to_string()),
            )
        }
        KeysAction::List { values } => {
            let path = if values {
                "/apikeys?includeValues=true"
            } else {
                "/apikeys"
            };
            call(admin, "GET", path.into(), Bytes::new())
        }
    }
}

/// Runs one usage command.
pub fn usage(admin: &Target, action: UsageAction) -> ExitCode {
    match action {
        UsageAction::Get { plan, from, to } => {
            let mut query = Vec::new();
            if let Some(f) = from {
                query.push(format!("startDate={f}"));
            }
            if let Some(t) = to {
                query.push(format!("endDate={t}"));
            }
            let path = format!("/usageplans/{plan}/usage?{}", query.join("&"));
            call(admin, "GET", path, Bytes::new())
        }
        UsageAction::Extend { plan, key, n } => call(
            admin,
            "POST",
            format!("/usageplans/{plan}/keys/{key}/usage"),
            Bytes::from(serde_json::json!({ "extend": n }).to_string()),
        ),
        UsageAction::Reset { plan, key } => call(
            admin,
            "POST",
            format!("/usageplans/{plan}/keys/{key}/usage"),
            Bytes::from(r#"{"reset":true}"#),
        ),
    }
}

/// Runs one plugin command against the admin listener at `admin`.
pub fn plugin(admin: &Target, action: PluginAction) -> ExitCode {
    let (method, path, body) = match &action {
        PluginAction::Deploy { name, file } => match std::fs::read(file) {
            Ok(bytes) => ("PUT", format!("/plugins/{name}"), Bytes::from(bytes)),
            Err(e) => {
                eprintln!("portico: cannot read {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        },
        PluginAction::Rollback { name } => {
            ("POST", format!("/plugins/{name}/rollback"), Bytes::new())
        }
        PluginAction::List => ("GET", "/plugins".to_owned(), Bytes::new()),
    };
    call(admin, method, path, body)
}

/// Sends one request to the admin API and prints the answer; fails unless it is a 2xx.
fn call(target: &Target, method: &str, path: String, body: Bytes) -> ExitCode {
    let admin = target.admin;
    let token = match target.token() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("portico: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("portico: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{admin}{path}"))
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::new(body))?;
        let resp = client.request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, body))
    });
    match result {
        Ok((status, body)) => {
            if status.is_success() {
                println!("{}", String::from_utf8_lossy(&body));
                ExitCode::SUCCESS
            } else {
                eprintln!("portico: {status}: {}", String::from_utf8_lossy(&body));
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("portico: cannot reach the admin API at {admin}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
