//! Test fixtures: the real `portico` binary on `127.0.0.1:0`, real upstream servers, and real
//! HTTP clients.
//!
//! - [`Dir`] writes a gateway file and OpenAPI documents into a temporary directory.
//! - [`Portico::start`] runs `portico serve` on it and reads the addresses it prints.
//! - [`Upstream::start`] is an HTTP server that echoes what it received as JSON and can be told
//!   (by request headers) to answer slowly or with another status; [`Upstream::answering`]
//!   answers with a function of the request instead. Both count connections and requests.
//! - [`send`] / [`get`] are plain hyper clients. A request to the admin listener of a gateway
//!   started here carries that gateway's admin token (see [`register_admin_token`]) unless it
//!   names its own `authorization`; [`send_without_token`] sends none.

#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// The binary under test.
pub const PORTICO: &str = env!("CARGO_BIN_EXE_portico");

/// A temporary configuration directory.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Writes a file (atomically, by rename, so a watcher never reads half of it).
    pub fn write(&self, name: &str, text: &str) -> &Self {
        let path = self.path(name);
        let tmp = self.path(&format!(".{name}.tmp"));
        std::fs::write(&tmp, text).expect("write");
        std::fs::rename(&tmp, &path).expect("rename");
        self
    }

    /// Writes `gateway.yaml` naming one API, `api.yaml`, with the given stages block
    /// (YAML, indented for `stages:`), plus the OpenAPI document.
    pub fn single_api(&self, openapi: &str, stages: &str, extra: &str) -> &Self {
        self.write("api.yaml", openapi);
        self.write(
            "gateway.yaml",
            &format!(
                "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nreload:\n  poll_interval_ms: 100\n{extra}apis:\n  - name: testapi\n    spec: api.yaml\n    stages:\n{stages}"
            ),
        )
    }
}

/// Reads from a hand-written upstream's connection until the request head has arrived;
/// returns every byte read so far (the head, and whatever part of the body came with it), or
/// `None` if the connection closed or failed first.
pub async fn read_head(conn: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(head)
}

/// A running `portico serve`.
pub struct Portico {
    pub child: Child,
    pub addr: SocketAddr,
    /// The first TLS listener, when the gateway file has one.
    pub tls_addr: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
    /// Every line printed on stdout so far (access-log lines included).
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    /// The default data directory, when the test named none.
    _data_home: tempfile::TempDir,
}

impl Portico {
    /// Starts `portico serve --config DIR/gateway.yaml`, with the default data directory
    /// (`$XDG_DATA_HOME/portico`) inside DIR so tests never share quota state.
    pub fn start(dir: &Dir) -> Self {
        Self::start_with_env(dir, &[])
    }

    /// Like [`Portico::start`], with extra environment variables.
    pub fn start_with_env(dir: &Dir, env: &[(&str, &str)]) -> Self {
        let data = dir.path("xdg-data");
        let mut all = vec![("XDG_DATA_HOME", data.to_str().expect("utf-8 path"))];
        all.extend_from_slice(env);
        Self::start_env(
            &[
                "serve",
                "--config",
                dir.path("gateway.yaml").to_str().expect("utf-8 path"),
            ],
            &all,
        )
    }

    /// Starts the binary with `args` and waits for its listening lines.
    pub fn start_with(args: &[&str]) -> Self {
        Self::start_env(args, &[])
    }

    /// Like [`Portico::start_with`], with extra environment variables.
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        // Never the user's own data directory (admin token, audit log, quota state).
        let data_home = tempfile::tempdir().expect("tempdir");
        let mut command = Command::new(PORTICO);
        if !env.iter().any(|(k, _)| *k == "XDG_DATA_HOME") {
            command.env("XDG_DATA_HOME", data_home.path());
        }
        let mut child = command
            .args(args)
            .envs(env.iter().copied())
            .env("PORTICO_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn portico");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let out = child.stdout.take().expect("stdout");
        let lines = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                lines.lock().unwrap().push(line);
            }
        });
        let err = child.stderr.take().expect("stderr");
        let elines = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                elines.lock().unwrap().push(line);
            }
        });
        let mut addr = None;
        let mut tls_addr = None;
        let mut admin = None;
        let deadline = Instant::now() + Duration::from_secs(180);
        while addr.is_none() || (admin.is_none() && Instant::now() < deadline) {
            // The admin line, if any, follows the data listeners at once.
            let wait = if addr.is_some() {
                Duration::from_millis(500)
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            let Ok(line) = rx.recv_timeout(wait) else {
                if addr.is_some() {
                    break;
                }
                let _ = child.kill();
                panic!(
                    "portico did not print its listening line; stderr: {:?}",
                    stderr.lock().unwrap()
                );
            };
            if let Some(a) = line.strip_prefix("listening on http://") {
                addr = Some(a.parse().expect("listen addr"));
            } else if let Some(a) = line.strip_prefix("listening on https://") {
                tls_addr = tls_addr.or(Some(a.parse().expect("listen addr")));
            } else if let Some(a) = line
                .strip_prefix("admin listening on http://")
                .or_else(|| line.strip_prefix("admin listening on https://"))
            {
                admin = Some(a.parse().expect("admin addr"));
                // The admin line follows the data listeners.
                break;
            }
        }
        // A generated admin token: its path is printed on stderr before the admin line.
        if let Some(admin) = admin {
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                let path = stderr
                    .lock()
                    .unwrap()
                    .iter()
                    .find_map(|l| l.strip_prefix("admin token in ").map(str::to_owned));
                if let Some(path) = path {
                    let token = std::fs::read_to_string(&path).expect("the admin token file");
                    register_admin_token(admin, &token);
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let addr = addr.expect("addr");
        forget_admin_tokens([Some(addr), tls_addr].into_iter().flatten());
        Self {
            child,
            addr,
            tls_addr,
            admin,
            stdout,
            stderr,
            _data_home: data_home,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin.expect("admin listener"))
    }

    /// The admin token this gateway generated (for `PORTICO_ADMIN_TOKEN`).
    pub fn admin_token(&self) -> String {
        admin_token_for(&self.admin_url("")).expect("a generated admin token")
    }

    /// Sends a signal (`HUP`, `TERM`, ...).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Parsed JSON access-log lines so far.
    pub fn access_log(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for an access-log line with this request id.
    pub async fn access_log_for(&self, request_id: &str) -> serde_json::Value {
        for _ in 0..100 {
            if let Some(l) = self
                .access_log()
                .into_iter()
                .find(|l| l["requestId"] == request_id)
            {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no access-log line for {request_id}");
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Portico {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        forget_admin_tokens(self.admin);
    }
}

/// What the upstream saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    /// Path and query, raw.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An upstream HTTP server.
///
/// Behaviour by request header: `x-test-sleep-ms: N` waits before answering;
/// `x-test-status: N` answers with that status. It answers JSON describing the request, with
/// headers `x-upstream: yes`, `server: test-upstream` and `connection`-named `x-hop`.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// TCP connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// A function from what an upstream received to its answer: status and JSON body.
pub type Respond = dyn Fn(&Seen) -> (StatusCode, String) + Send + Sync;

/// A custom upstream answer, shared by the upstream's connections.
pub type Responder = Arc<Respond>;

impl Upstream {
    /// The echo upstream.
    pub async fn start() -> Self {
        Self::serve(None).await
    }

    /// An upstream that answers every request with `respond(request)`.
    pub async fn answering(
        respond: impl Fn(&Seen) -> (StatusCode, String) + Send + Sync + 'static,
    ) -> Self {
        Self::serve(Some(Arc::new(respond))).await
    }

    async fn serve(responder: Option<Responder>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let addr = listener.local_addr().expect("addr");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let connections: Arc<AtomicUsize> = Arc::default();
        let record = Arc::clone(&seen);
        let accepted = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let record = Arc::clone(&record);
                let responder = responder.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let record = Arc::clone(&record);
                        let responder = responder.clone();
                        async move {
                            Ok::<_, Infallible>(answer(req, &record, responder.as_deref()).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            seen,
            connections,
            task,
        }
    }

    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the upstream saw no request")
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    req: Request<Incoming>,
    record: &Mutex<Vec<Seen>>,
    responder: Option<&Respond>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let sleep = header("x-test-sleep-ms");
    let status = header("x-test-status").and_then(|s| u16::try_from(s).ok());
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.clone(),
        target: target.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    };
    let custom = responder.map(|respond| respond(&seen));
    record.lock().unwrap().push(seen);
    if let Some((status, json)) = custom {
        return Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(json)))
            .expect("response");
    }
    if let Some(ms) = sleep {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let json = serde_json::json!({
        "method": parts.method.as_str(),
        "target": target,
        "headers": headers,
        "bodyLength": body.len(),
    });
    Response::builder()
        .status(status.unwrap_or(200))
        .header("content-type", "application/json")
        .header("x-upstream", "yes")
        .header("server", "test-upstream")
        .header("connection", "x-hop")
        .header("x-hop", "secret")
        .body(Full::new(Bytes::from(json.to_string())))
        .expect("response")
}

/// A client's view of a response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn request_id(&self) -> &str {
        self.header("x-amzn-requestid")
            .expect("x-amzn-RequestId on every response")
    }
}

/// Admin address → that gateway's admin token.
static ADMIN_TOKENS: Mutex<BTreeMap<SocketAddr, String>> = Mutex::new(BTreeMap::new());

/// Makes [`send`] authenticate requests to `admin` with `token`.
pub fn register_admin_token(admin: SocketAddr, token: &str) {
    ADMIN_TOKENS
        .lock()
        .unwrap()
        .insert(admin, token.trim().to_owned());
}

/// Forgets the tokens registered for `addrs`: a gateway's admin address when it stops, and a
/// new gateway's data-plane addresses when it starts. Ports are reused within the test process,
/// and a stale entry would make [`send`] add an admin token as the `Authorization` of a
/// data-plane request, which a TOKEN authorizer then reads.
pub fn forget_admin_tokens(addrs: impl IntoIterator<Item = SocketAddr>) {
    let mut tokens = ADMIN_TOKENS.lock().unwrap();
    for addr in addrs {
        tokens.remove(&addr);
    }
}

/// The admin token registered for the authority of `url`, if any.
pub fn admin_token_for(url: &str) -> Option<String> {
    let authority = url
        .parse::<http::Uri>()
        .ok()?
        .authority()?
        .as_str()
        .to_owned();
    let addr: SocketAddr = authority.parse().ok()?;
    ADMIN_TOKENS.lock().unwrap().get(&addr).cloned()
}

/// Sends one request over a fresh HTTP/1.1 client. A request to a registered admin listener
/// carries its token unless `headers` has an `authorization`.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let named = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
    let bearer = admin_token_for(url)
        .filter(|_| !named)
        .map(|t| format!("Bearer {t}"));
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if let Some(b) = &bearer {
        all.push(("authorization", b));
    }
    send_without_token(method, url, &all, body).await
}

/// Sends one request with exactly `headers`: no admin token is added.
pub async fn send_without_token(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body.into())).expect("request");
    let resp = client.request(req).await.expect("request failed");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// `GET url`.
pub async fn get(url: &str) -> Reply {
    send("GET", url, &[], Bytes::new()).await
}

/// What `portico check --config DIR/gateway.yaml` printed.
pub struct Checked {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Checked {
    /// Standard output, then standard error.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `portico check` on the directory's gateway file.
pub fn check(dir: &Dir) -> Checked {
    let out = Command::new(PORTICO)
        .args([
            "check",
            "--config",
            dir.path("gateway.yaml").to_str().expect("utf-8 path"),
        ])
        .output()
        .expect("run portico check");
    Checked {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts an AWS-style gateway error.
#[track_caller]
pub fn assert_gateway_error(reply: &Reply, status: u16, body: &str, error_type: &str) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.text());
    assert_eq!(reply.text(), body);
    assert_eq!(reply.header("x-amzn-errortype"), Some(error_type));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.header("x-amzn-requestid").is_some());
}

/// An OpenAPI document with one `http_proxy` route per `(path, method, uri)`.
pub fn proxy_api(routes: &[(&str, &str, &str)]) -> String {
    let mut out = String::from("openapi: 3.0.1\ninfo: {title: t, version: '1'}\npaths:\n");
    let mut by_path: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (path, method, uri) in routes {
        by_path.entry(path).or_default().push((method, uri));
    }
    for (path, methods) in by_path {
        out.push_str(&format!("  '{path}':\n"));
        for (method, uri) in methods {
            let key = if method == "ANY" {
                "x-amazon-apigateway-any-method".to_owned()
            } else {
                method.to_lowercase()
            };
            out.push_str(&format!(
                "    {key}:\n      x-amazon-apigateway-integration:\n        type: http_proxy\n        httpMethod: ANY\n        uri: '{uri}'\n"
            ));
        }
    }
    out
}

/// The Lambda invocation ARN prefix; `{LAMBDA}:NAME/invocations` names a function plugin.
pub const LAMBDA: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function";

/// A TOKEN authorizer security scheme `name` served by the plugin `function`, result caching
/// off (indented for `components.securitySchemes`).
pub fn authorizer_scheme(name: &str, function: &str) -> String {
    lambda_authorizer_scheme(
        name,
        "token",
        function,
        0,
        "        identitySource: method.request.header.Authorization\n",
    )
}

/// A Lambda authorizer security scheme `name` of type `kind` (`token`, `request`) served by
/// the plugin `function`, with result TTL `ttl` and `extra` lines of
/// `x-amazon-apigateway-authorizer` (indented 8; a TOKEN authorizer reads `Authorization`
/// without an `identitySource`).
pub fn lambda_authorizer_scheme(
    name: &str,
    kind: &str,
    function: &str,
    ttl: u32,
    extra: &str,
) -> String {
    format!(
        r#"    {name}:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: {kind}
        authorizerUri: {LAMBDA}:{function}/invocations
        authorizerResultTtlInSeconds: {ttl}
{extra}"#
    )
}

/// One `method` of a path item, answered by a MOCK integration with 200 and `template`;
/// `security` is its requirement (`name: [scopes]`), or empty for none.
pub fn mock_method(method: &str, security: &str, template: &str) -> String {
    let security = if security.is_empty() {
        String::new()
    } else {
        format!("      security: [{{{security}}}]\n")
    };
    format!(
        r#"    {method}:
{security}      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{{"statusCode": 200}}'
        responses:
          default:
            statusCode: 200
            responseTemplates:
              application/json: '{template}'
"#
    )
}

/// A path whose GET is [`mock_method`].
pub fn mock_at(path: &str, security: &str, template: &str) -> String {
    format!("  {path}:\n{}", mock_method("get", security, template))
}

/// A built plugin component, `plugins/dist/NAME.wasm`.
pub fn component(name: &str) -> PathBuf {
    let path = repo_file(&format!("plugins/dist/{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `bash plugins/build.sh --all` first",
        path.display()
    );
    path
}

/// Path of a file in the repository.
pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// A `redis-server` on a fixed port, killed on drop.
pub struct Redis {
    port: u16,
    child: std::process::Child,
}

impl Redis {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        Self::on(port)
    }

    pub fn on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--bind", "127.0.0.1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-server ({e}): the cluster tests need it; install it with \
                     `apt-get install redis-server` (tests/run.sh does)"
                )
            });
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { port, child }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash would.
    pub fn kill(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `portico serve` on `dir/gateway.yaml`, which must refuse to start: it must exit with
/// an error (a gateway still running after 20 s accepted the file). Its standard error.
pub fn serve_refuses(dir: &Dir) -> String {
    let mut child = Command::new(PORTICO)
        .args(["serve", "--config"])
        .arg(dir.path("gateway.yaml"))
        .env("XDG_DATA_HOME", dir.path("xdg-data"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run portico serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve accepted the file: still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "serve must refuse the file: {stderr}");
    stderr
}
