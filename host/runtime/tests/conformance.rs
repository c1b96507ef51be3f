//! The JSON-Schema-Test-Suite, draft 4, through the `validator-jsonschema` component (the
//! native run of the same suite is `host/schema/tests/suite.rs`).
//!
//! One component load, one reused instance, one `prepare` per schema (the host's
//! `validate_model` prepares on the first case of a group; the rest find the model in the
//! instance). Required cases (`tests/draft4/*.json`) must all pass; optional ones
//! (`tests/draft4/optional/**`) are counted and printed. `refRemote.json`'s documents are not
//! supplied: a small HTTP server on `127.0.0.1:0` serves `remotes/`, `http://localhost:1234`
//! in every schema and served document is rewritten to its address, and the component fetches
//! them through its `http-client` capability (granted `127.0.0.1:{port}`), via the test's
//! [`OutboundHttp`], a blocking HTTP/1.1 GET.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use portico_runtime::{
    BoxFuture, Grants, InstancePolicy, ModelFailure, OutboundError, OutboundHttp, Plugin,
    PluginKind, Runtime, RuntimeOptions,
};
use serde_json::Value;
use support::{cache_dir, cx, fixture, spec};

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/conformance/json-schema-test-suite"
);

/// Documents the remotes server has answered with 200.
static SERVED: AtomicUsize = AtomicUsize::new(0);

/// What the suite's remote refs point at.
const SUITE_REMOTE: &str = "http://localhost:1234";

/// Serves `dir` over HTTP/1.1 on an ephemeral port, `SUITE_REMOTE` in each file rewritten to
/// `http://{its own address}`; returns that address. One thread, one request per connection.
fn serve_remotes(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let served = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &dir, &served);
        }
    });
    base
}

fn answer(mut stream: TcpStream, dir: &Path, base: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    // The rest of the head.
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let file = dir.join(path.trim_start_matches('/'));
    let (status, body) = match std::fs::read_to_string(&file) {
        Ok(text) if !path.contains("..") => {
            SERVED.fetch_add(1, Ordering::Relaxed);
            ("200 OK", text.replace(SUITE_REMOTE, base))
        }
        _ => ("404 Not Found", String::new()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The test's outbound client: a blocking GET (the runtime has checked the allow-list).
struct BlockingGet;

impl OutboundHttp for BlockingGet {
    fn fetch(
        &self,
        req: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<Result<http::Response<Bytes>, OutboundError>> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || get(req.uri(), timeout))
                .await
                .map_err(|e| OutboundError::Failed(e.to_string()))?
                .map_err(|e| OutboundError::Failed(e.to_string()))
        })
    }
}

fn get(uri: &http::Uri, timeout: Duration) -> std::io::Result<http::Response<Bytes>> {
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(timeout.min(Duration::from_secs(10))))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no response head"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let body = Bytes::copy_from_slice(&raw[split + 4..]);
    http::Response::builder()
        .status(status)
        .body(body)
        .map_err(std::io::Error::other)
}

/// Every `.json` file under `dir`, recursively, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("read suite directory")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Runs one suite file through the component: (passed, failures). `next_id` numbers the
/// schemas, one model id each.
async fn run_file(p: &Plugin, path: &Path, base: &str, next_id: &mut u64) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(path).expect("read suite file");
    let groups: Vec<Value> = serde_json::from_str(&text).expect("suite file is JSON");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (mut passed, mut failures) = (0, Vec::new());
    for group in &groups {
        let description = group["description"].as_str().unwrap_or("?");
        let schema = group["schema"].to_string().replace(SUITE_REMOTE, base);
        *next_id += 1;
        let id = *next_id;
        for test in group["tests"].as_array().into_iter().flatten() {
            let case = format!(
                "{name}: {description}: {}",
                test["description"].as_str().unwrap_or("?")
            );
            let expected = test["valid"].as_bool().unwrap_or(false);
            let body = serde_json::to_vec(&test["data"]).expect("data serializes");
            match p.validate_model(&cx(), id, &schema, &[], &body).await {
                Ok(Ok(())) if expected => passed += 1,
                Ok(Err(ModelFailure::Invalid(_))) if !expected => passed += 1,
                Ok(Err(ModelFailure::Model(e))) => {
                    failures.push(format!("{case}: schema did not compile: {e}"));
                }
                Ok(got) => failures.push(format!("{case}: expected valid={expected}, got {got:?}")),
                Err(fault) => failures.push(format!("{case}: fault {fault}")),
            }
        }
    }
    (passed, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_schema_test_suite_draft4_through_the_component() {
    let suite = PathBuf::from(SUITE);
    let base = serve_remotes(suite.join("remotes"));
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir()),
        outbound: Arc::new(BlockingGet),
        max_instances: 16,
        ..RuntimeOptions::default()
    })
    .expect("runtime");
    let mut s = spec("validator-jsonschema", PluginKind::ModelValidator);
    s.grants = Grants {
        http_allow: vec![base.trim_start_matches("http://").to_owned()],
        ..Grants::default()
    };
    s.instances = InstancePolicy::Reuse { max_uses: u32::MAX };
    let p = runtime
        .load(&s, &fixture("validator-jsonschema"))
        .expect("load validator-jsonschema");

    let draft4 = suite.join("tests/draft4");
    let optional_dir = draft4.join("optional");
    let mut next_id = 0;
    let (mut required, mut failures) = (0, Vec::new());
    let mut optional = Vec::new();
    for path in files(&draft4) {
        let (passed, failed) = run_file(&p, &path, &base, &mut next_id).await;
        if path.starts_with(&optional_dir) {
            let rel = path
                .strip_prefix(&optional_dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            optional.push((rel, passed, passed + failed.len()));
        } else {
            required += passed;
            failures.extend(failed);
        }
    }
    println!(
        "draft4 required through the component: {required}/{} passed",
        required + failures.len()
    );
    for (file, passed, total) in &optional {
        println!("draft4 optional {file}: {passed}/{total}");
    }
    let served = SERVED.load(Ordering::Relaxed);
    println!(
        "{next_id} schemas in {} instance(s); {served} remote documents fetched over HTTP",
        p.instantiations()
    );
    assert!(
        served > 0,
        "refRemote.json fetched nothing through http-client"
    );
    assert!(
        failures.is_empty(),
        "{} required case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
