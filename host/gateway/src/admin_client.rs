//! `portico plugin ...` and `portico cache ...`: thin clients of the admin API.

use std::net::SocketAddr;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::{CacheAction, PluginAction};

/// Runs one cache command against the admin listener at `admin`.
pub fn cache(admin: SocketAddr, action: CacheAction) -> ExitCode {
    let (method, api, stage) = match &action {
        CacheAction::Flush { api, stage } => ("DELETE", api, stage),
        CacheAction::Stats { api, stage } => ("GET", api, stage),
    };
    call(admin, method, format!("/cache/{api}/{stage}"), Bytes::new())
}

/// Runs one plugin command against the admin listener at `admin`.
pub fn plugin(admin: SocketAddr, action: PluginAction) -> ExitCode {
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
fn call(admin: SocketAddr, method: &str, path: String, body: Bytes) -> ExitCode {
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
            .body(Full::new(body))?;
        let resp = client.request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, body))
    });
    match result {
        Ok((status, body)) => {
            println!("{}", String::from_utf8_lossy(&body));
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("portico: cannot reach the admin API at {admin}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
