//! Access logs: one JSON line per request, keyed by API Gateway's `$context` variable names.
//!
//! Lines are built on the request's task and handed to one writer thread through a bounded
//! channel, so a slow disk or a blocked pipe never stalls a request. When the channel is full
//! the line is dropped and `portico_access_log_dropped_total` counts it.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use portico_config::AccessLog;
use prometheus_client::metrics::counter::Counter;
use serde::Serialize;

/// Lines buffered between requests and the writer thread.
const CHANNEL_CAPACITY: usize = 16 * 1024;

/// One access-log record.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// `$context.requestId`.
    #[serde(rename = "requestId")]
    pub request_id: &'a str,
    /// `$context.identity.sourceIp`.
    #[serde(rename = "identity.sourceIp")]
    pub source_ip: &'a str,
    /// `$context.requestTime` (CLF format).
    #[serde(rename = "requestTime")]
    pub request_time: &'a str,
    /// `$context.httpMethod`.
    #[serde(rename = "httpMethod")]
    pub http_method: &'a str,
    /// `$context.resourcePath` (empty when no route matched).
    #[serde(rename = "resourcePath")]
    pub resource_path: &'a str,
    /// `$context.path`: the request path, stage included.
    pub path: &'a str,
    /// `$context.status`.
    pub status: u16,
    /// `$context.protocol`.
    pub protocol: &'a str,
    /// `$context.responseLength`: body bytes sent.
    #[serde(rename = "responseLength")]
    pub response_length: u64,
    /// `$context.integrationLatency` in ms, `null` when no integration ran.
    #[serde(rename = "integrationLatency")]
    pub integration_latency: Option<u64>,
    /// `$context.responseLatency` in ms.
    #[serde(rename = "responseLatency")]
    pub response_latency: u64,
    /// `$context.apiId`.
    #[serde(rename = "apiId")]
    pub api_id: &'a str,
    /// `$context.stage`.
    pub stage: &'a str,
    /// `$context.deploymentId`: the deployment that served the request.
    #[serde(rename = "deploymentId", skip_serializing_if = "str::is_empty")]
    pub deployment_id: &'a str,
    /// `$context.isCanaryRequest`, present (as `true`) only on canary requests.
    #[serde(rename = "isCanaryRequest", skip_serializing_if = "std::ops::Not::not")]
    pub is_canary: bool,
    /// `$context.error.responseType`, when the gateway answered on its own behalf.
    #[serde(rename = "error.responseType", skip_serializing_if = "str::is_empty")]
    pub error_type: &'a str,
    /// What the stage cache did: `HIT`, `MISS`, `COALESCED` (served a concurrent miss's
    /// response) or `REFRESH` (invalidated by the client); absent when the method is not cached.
    #[serde(rename = "cacheStatus", skip_serializing_if = "str::is_empty")]
    pub cache_status: &'a str,
    /// `$context.identity.apiKeyId`, when the method required a key and it was valid.
    #[serde(rename = "identity.apiKeyId", skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<&'a str>,
    /// `$context.authorizer.principalId` when an authorizer let the request through (a JWT's
    /// `sub`; for `AWS_IAM`, the caller's user ARN).
    #[serde(
        rename = "authorizer.principalId",
        skip_serializing_if = "Option::is_none"
    )]
    pub principal_id: Option<&'a str>,
}

/// The sending side of the access log.
#[derive(Debug, Clone)]
pub struct AccessLogger {
    tx: Option<SyncSender<String>>,
    dropped: Counter,
}

impl AccessLogger {
    /// Starts the writer thread for `dest`.
    pub fn start(dest: &AccessLog, dropped: Counter) -> io::Result<Self> {
        let out: Box<dyn Write + Send> = match dest {
            AccessLog::Off => return Ok(Self { tx: None, dropped }),
            AccessLog::Stdout => Box::new(io::stdout()),
            AccessLog::Stderr => Box::new(io::stderr()),
            AccessLog::File(path) => {
                Box::new(OpenOptions::new().create(true).append(true).open(path)?)
            }
        };
        let (tx, rx) = mpsc::sync_channel(CHANNEL_CAPACITY);
        std::thread::Builder::new()
            .name("portico-access-log".into())
            .spawn(move || writer(rx, out))?;
        Ok(Self {
            tx: Some(tx),
            dropped,
        })
    }

    /// True when lines are written somewhere.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues one record.
    pub fn log(&self, record: &Record<'_>) {
        let Some(tx) = &self.tx else { return };
        let Ok(mut line) = serde_json::to_string(record) else {
            return;
        };
        line.push('\n');
        match tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.inc();
            }
        }
    }
}

fn writer(rx: Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    while let Ok(line) = rx.recv() {
        let _ = out.write_all(line.as_bytes());
        // Drain what is queued, then flush once: batches under load, prompt when idle.
        while let Ok(line) = rx.try_recv() {
            let _ = out.write_all(line.as_bytes());
        }
        let _ = out.flush();
    }
}
