//! `portico plugin ...`, `portico cache ...`, `portico authorizers ...`, `portico keys ...`,
//! `portico usage ...`, `portico deploy`, `portico deployments ...`, `portico stage ...`,
//! `portico reload`, `portico health`, `portico metrics` and `portico apis`: thin clients of
//! the admin API.
//!
//! `--output json` prints the admin API's JSON answer as it is; `--output text` (the default)
//! prints deployments and stages for people, and the other answers as JSON.
//!
//! Each sends the admin token as `Authorization: Bearer`: from the file `--token-file` names,
//! else from `PORTICO_ADMIN_TOKEN`, else from the token the gateway generates in its default
//! data directory (`$XDG_DATA_HOME/portico/admin-token`, or
//! `~/.local/share/portico/admin-token`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use serde_json::{Value, json};

use crate::{
    AuthorizersAction, CacheAction, DeploymentsAction, KeysAction, PlansAction, PluginAction,
    StageAction, UsageAction,
};

/// How answers are printed.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// For people.
    Text,
    /// The admin API's JSON, unchanged.
    Json,
}

/// Which gateway to talk to, and with which token.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The gateway's admin address, `IP:PORT`, or `https://HOST:PORT` for an admin listener
    /// with `admin.tls` (then pass `--admin-ca`).
    #[arg(long, default_value = "127.0.0.1:9080", global = true)]
    admin: String,
    /// A PEM file of the CA certificates that an `https://` admin listener's certificate
    /// chains to.
    #[arg(long, global = true)]
    admin_ca: Option<PathBuf>,
    /// A file holding the admin token (default: `PORTICO_ADMIN_TOKEN`, else the token
    /// generated in the default data directory).
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text", global = true)]
    output: Output,
}

impl Target {
    /// `http://IP:PORT` or the `https://` URL given, without a trailing slash.
    fn base_url(&self) -> Result<String, String> {
        let a = self.admin.trim_end_matches('/');
        if a.starts_with("https://") || a.starts_with("http://") {
            return Ok(a.to_owned());
        }
        a.parse::<SocketAddr>()
            .map(|addr| format!("http://{addr}"))
            .map_err(|_| format!("--admin {a:?}: IP:PORT or https://HOST:PORT"))
    }

    /// A connector for `http://`, and for `https://` trusting `--admin-ca`.
    fn connector(
        &self,
    ) -> Result<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        String,
    > {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        if let Some(ca) = &self.admin_ca {
            let certs = CertificateDer::pem_file_iter(ca)
                .map_err(|e| format!("--admin-ca {}: {e}", ca.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("--admin-ca {}: {e}", ca.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("--admin-ca {}: {e}", ca.display()))?;
            }
        } else if self.admin.starts_with("https://") {
            return Err(
                "an https:// admin address needs --admin-ca (the CA of its certificate)".into(),
            );
        }
        let config = rustls::ClientConfig::builder_with_provider(
            portico_config::transport::crypto_provider(),
        )
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .build())
    }

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

/// Runs one usage-plan command.
pub fn plans(admin: &Target, action: PlansAction) -> ExitCode {
    match action {
        PlansAction::List => call(admin, "GET", "/usageplans".into(), Bytes::new()),
        PlansAction::Show { plan } => {
            call(admin, "GET", format!("/usageplans/{plan}"), Bytes::new())
        }
        PlansAction::Delete { plan } => {
            call(admin, "DELETE", format!("/usageplans/{plan}"), Bytes::new())
        }
        PlansAction::AddKey { plan, key } => call(
            admin,
            "POST",
            format!("/usageplans/{plan}/keys"),
            Bytes::from(serde_json::json!({"keyId": key, "keyType": "API_KEY"}).to_string()),
        ),
        PlansAction::Create {
            name,
            stages,
            rate,
            burst,
            quota,
            description,
        } => {
            let mut api_stages = Vec::new();
            for s in &stages {
                let Some((api, stage)) = s.split_once('/') else {
                    eprintln!("error: --stage {s}: expected API/STAGE");
                    return ExitCode::FAILURE;
                };
                api_stages.push(serde_json::json!({"apiId": api, "stage": stage}));
            }
            let mut body = serde_json::json!({"name": name, "apiStages": api_stages});
            if let Some(d) = description {
                body["description"] = d.into();
            }
            if let (Some(rate), Some(burst)) = (rate, burst) {
                body["throttle"] = serde_json::json!({"rateLimit": rate, "burstLimit": burst});
            }
            if let Some(q) = quota {
                let parsed = q
                    .split_once('/')
                    .and_then(|(limit, period)| Some((limit.parse::<u64>().ok()?, period)));
                let Some((limit, period)) = parsed else {
                    eprintln!("error: --quota {q}: expected LIMIT/DAY, LIMIT/WEEK or LIMIT/MONTH");
                    return ExitCode::FAILURE;
                };
                body["quota"] =
                    serde_json::json!({"limit": limit, "period": period.to_ascii_uppercase()});
            }
            call(
                admin,
                "POST",
                "/usageplans".into(),
                Bytes::from(body.to_string()),
            )
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
    finish(target, send(target, method, &path, body), |v| {
        serde_json::to_string_pretty(v).unwrap_or_default()
    })
}

/// Prints a JSON answer (`render` makes the text form), or the error; the exit code says which.
fn finish(
    target: &Target,
    answer: Result<Value, String>,
    render: impl FnOnce(&Value) -> String,
) -> ExitCode {
    match answer {
        Ok(value) => {
            match target.output {
                Output::Json => println!("{value}"),
                Output::Text => println!("{}", render(&value).trim_end()),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portico: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sends one request; a 2xx answer's JSON body (`null` when empty), else the error.
fn send(target: &Target, method: &str, path: &str, body: Bytes) -> Result<Value, String> {
    let (status, body) = exchange(target, method, path, body)?;
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        return Err(format!("{status}: {text}"));
    }
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).or_else(|_| Ok(Value::String(text.into_owned())))
}

/// Sends one request to the admin API with the token.
fn exchange(
    target: &Target,
    method: &str,
    path: &str,
    body: Bytes,
) -> Result<(hyper::StatusCode, Bytes), String> {
    let admin = target.base_url()?;
    let token = target.token()?;
    let connector = target.connector()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(connector);
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("{admin}{path}"))
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::new(body))?;
        let resp = client.request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, body))
    });
    result.map_err(|e| format!("cannot reach the admin API at {admin}: {e:#}"))
}

/// A bodiless admin request whose answer is printed as it comes (`portico reload`, `health`,
/// `metrics`, `apis`).
pub fn get_or_post(admin: &Target, method: &str, path: &str) -> ExitCode {
    let answer = send(admin, method, path, Bytes::new());
    finish(admin, answer, |v| match v {
        Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    })
}

/// What `portico deploy` asks for.
pub struct DeployRequest {
    pub api: String,
    pub stage: Option<String>,
    pub description: Option<String>,
    pub canary_percent: Option<f64>,
    pub canary_vars: Vec<String>,
    pub canary_use_stage_cache: bool,
}

/// `portico deploy`.
pub fn deploy(admin: &Target, request: DeployRequest) -> ExitCode {
    let mut body = json!({});
    if let Some(stage) = &request.stage {
        body["stageName"] = json!(stage);
    }
    if let Some(d) = &request.description {
        body["description"] = json!(d);
    }
    if let Some(percent) = request.canary_percent {
        let overrides = match variables(&request.canary_vars) {
            Ok(v) => v,
            Err(e) => return finish(admin, Err(e), |_| String::new()),
        };
        body["canarySettings"] = json!({
            "percentTraffic": percent,
            "stageVariableOverrides": overrides,
            "useStageCache": request.canary_use_stage_cache,
        });
    }
    let path = format!("/apis/{}/deployments", request.api);
    let answer = send(admin, "POST", &path, Bytes::from(body.to_string()));
    finish(admin, answer, |d| {
        let mut out = format!("deployment {}", text(&d["id"]));
        match (&request.stage, request.canary_percent) {
            (Some(stage), Some(p)) => {
                out += &format!("\nstage {stage}: canary at {p}% serves it");
            }
            (Some(stage), None) => out += &format!("\nstage {stage} serves it"),
            _ => {}
        }
        out
    })
}

/// `portico deployments ...`.
pub fn deployments(admin: &Target, action: DeploymentsAction) -> ExitCode {
    match action {
        DeploymentsAction::List { api } => {
            let answer = send(
                admin,
                "GET",
                &format!("/apis/{api}/deployments"),
                Bytes::new(),
            );
            finish(admin, answer, |v| {
                let mut out = format!(
                    "{:<12} {:<20} {:<20} DESCRIPTION\n",
                    "ID", "CREATED (UTC)", "STAGES"
                );
                for d in v["items"].as_array().into_iter().flatten() {
                    let stages: Vec<String> = d["stages"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(text)
                        .collect();
                    out += &format!(
                        "{:<12} {:<20} {:<20} {}\n",
                        text(&d["id"]),
                        date(d["createdDate"].as_u64().unwrap_or(0)),
                        stages.join(","),
                        text(&d["description"])
                    );
                }
                out + &format!("current definition: {}", text(&v["currentDeploymentId"]))
            })
        }
        DeploymentsAction::Show { api, id } => {
            let answer = send(
                admin,
                "GET",
                &format!("/apis/{api}/deployments/{id}"),
                Bytes::new(),
            );
            finish(admin, answer, |d| {
                format!(
                    "deployment {} of {}\ncreated {}\ndescription: {}\nserved by: {}\nplugins: {}\n\n{}",
                    text(&d["id"]),
                    text(&d["api"]),
                    date(d["createdDate"].as_u64().unwrap_or(0)),
                    text(&d["description"]),
                    d["stages"],
                    d["plugins"],
                    text(&d["definition"])
                )
            })
        }
        DeploymentsAction::Diff { api, from, to } => {
            let definition = |id: &str| -> Result<String, String> {
                if id == "current" {
                    return Err(String::new());
                }
                let d = send(
                    admin,
                    "GET",
                    &format!("/apis/{api}/deployments/{id}"),
                    Bytes::new(),
                )?;
                Ok(text(&d["definition"]))
            };
            let current = || -> Result<String, String> {
                // The current definition is the deployment `deploy` would make: shown by id.
                let list = send(
                    admin,
                    "GET",
                    &format!("/apis/{api}/deployments"),
                    Bytes::new(),
                )?;
                let id = text(&list["currentDeploymentId"]);
                definition(&id).map_err(|_| {
                    format!("the current definition of {api} ({id}) is not stored yet: `portico deploy {api}` stores it")
                })
            };
            let fetch = |id: &str| {
                if id == "current" {
                    current()
                } else {
                    definition(id)
                }
            };
            let answer = fetch(&from).and_then(|a| {
                let b = fetch(&to)?;
                let diff = similar::TextDiff::from_lines(&a, &b)
                    .unified_diff()
                    .context_radius(3)
                    .header(&from, &to)
                    .to_string();
                Ok(json!({"from": from, "to": to, "diff": diff}))
            });
            finish(admin, answer, |v| text(&v["diff"]))
        }
    }
}

/// `portico stage ...`.
pub fn stage(admin: &Target, action: StageAction) -> ExitCode {
    let (api, stage, method, suffix, body) = match action {
        StageAction::Show { api, stage } => (api, stage, "GET", "", Value::Null),
        StageAction::Rollback { api, stage, to } => {
            let body = match to {
                Some(id) => json!({"deploymentId": id}),
                None => json!({}),
            };
            (api, stage, "POST", "/rollback", body)
        }
        StageAction::Canary {
            api,
            stage,
            percent,
            deployment,
            vars,
            use_stage_cache,
        } => {
            let mut ops = Vec::new();
            if let Some(p) = percent {
                ops.push(json!({"op": "replace", "path": "/canarySettings/percentTraffic", "value": p.to_string()}));
            }
            if let Some(d) = deployment {
                ops.push(
                    json!({"op": "replace", "path": "/canarySettings/deploymentId", "value": d}),
                );
            }
            if let Some(u) = use_stage_cache {
                ops.push(json!({"op": "replace", "path": "/canarySettings/useStageCache", "value": u.to_string()}));
            }
            match variables(&vars) {
                Ok(vars) => {
                    for (name, value) in vars {
                        let name = name.replace('~', "~0").replace('/', "~1");
                        ops.push(json!({"op": "replace", "path": format!("/canarySettings/stageVariableOverrides/{name}"), "value": value}));
                    }
                }
                Err(e) => return finish(admin, Err(e), |_| String::new()),
            }
            (api, stage, "PATCH", "", json!({"patchOperations": ops}))
        }
        StageAction::Promote { api, stage } => (
            api,
            stage,
            "PATCH",
            "",
            json!({"patchOperations": [
                {"op": "copy", "from": "/canarySettings/deploymentId", "path": "/deploymentId"},
                {"op": "copy", "from": "/canarySettings/stageVariableOverrides", "path": "/variables"},
                {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "0.0"},
            ]}),
        ),
        StageAction::DeleteCanary { api, stage } => (
            api,
            stage,
            "PATCH",
            "",
            json!({"patchOperations": [{"op": "remove", "path": "/canarySettings"}]}),
        ),
    };
    let body = if body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(body.to_string())
    };
    let path = format!("/apis/{api}/stages/{stage}{suffix}");
    let answer = send(admin, method, &path, body);
    finish(admin, answer, |s| describe_stage(&api, s))
}

/// A stage for people.
fn describe_stage(api: &str, s: &Value) -> String {
    let follows = if s["pinned"].as_bool() == Some(true) {
        "pinned"
    } else {
        "follows the gateway file"
    };
    let mut out = format!(
        "stage {} of {api} serves deployment {} ({follows})",
        text(&s["stageName"]),
        text(&s["deploymentId"])
    );
    if let Some(c) = s.get("canarySettings") {
        out += &format!(
            "\ncanary: deployment {} at {}% (overrides {}, stage cache {})",
            text(&c["deploymentId"]),
            c["percentTraffic"],
            c["stageVariableOverrides"],
            if c["useStageCache"].as_bool() == Some(true) {
                "shared"
            } else {
                "its own"
            }
        );
    }
    out + &format!("\nvariables: {}", s["variables"])
}

/// `NAME=VALUE` pairs.
fn variables(pairs: &[String]) -> Result<serde_json::Map<String, Value>, String> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), json!(v))),
            _ => Err(format!("{p:?} is not NAME=VALUE")),
        })
        .collect()
}

/// A JSON string's text (anything else as JSON).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Seconds since the epoch as `2026-12-03 13:20:00`.
fn date(secs: u64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}
