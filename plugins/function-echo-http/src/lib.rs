//! Example `wasi:http/proxy` component (what `wasmtime serve` runs, and what Portico accepts as a
//! function): answers 200 with `content-type: application/json`, `x-handler: wasi-http` and the
//! body `{"method": .., "path": .., "body": ..}`, where `path` is the path with its query and
//! `body` the request body as text (invalid UTF-8 replaced).
//!
//! A path ending in `/stream` streams instead (for `responseTransferMode: STREAM`): status 200,
//! `content-type: text/event-stream`, then `chunks` server-sent events (`data: <i>`, default
//! 5), flushed one by one with `every_ms` milliseconds between them (default 100). With
//! `trap_after=<k>` it traps after writing `k` events, to break the stream off.
//!
//! It uses `wit-bindgen` directly on the vendored WASI WIT in `wit/deps/` (`wasi:http@0.2.12`,
//! the version wasmtime 48 bundles), not the Portico SDK: this world is the standard one.

use bindings::exports::wasi::http::incoming_handler::Guest;
use bindings::wasi::clocks::monotonic_clock;
use bindings::wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use bindings::wasi::io::streams::StreamError;

#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "wasi:http/proxy@0.2.12",
        generate_all,
    });
}

/// Bytes asked for per read of the request body.
const READ_CHUNK: u64 = 64 * 1024;

/// Bytes per write: `blocking-write-and-flush` takes at most 4096 at a time.
const WRITE_CHUNK: usize = 4096;

/// The handler.
struct Echo;

impl Guest for Echo {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let method = method_name(&request.method());
        let path = request.path_with_query().unwrap_or_default();
        if path
            .split('?')
            .next()
            .is_some_and(|p| p.ends_with("/stream"))
        {
            return stream_events(&path, response_out);
        }
        let body = read_body(&request);
        let echo = portico_echo_json(&method, &path, &String::from_utf8_lossy(&body));

        let headers = Fields::from_list(&[
            ("content-type".to_owned(), b"application/json".to_vec()),
            ("x-handler".to_owned(), b"wasi-http".to_vec()),
        ])
        .expect("static headers are valid");
        let response = OutgoingResponse::new(headers);
        response
            .set_status_code(200)
            .expect("200 is a valid status");
        let out_body = response.body().expect("the body is taken once");
        ResponseOutparam::set(response_out, Ok(response));

        let stream = out_body.write().expect("the stream is taken once");
        for chunk in echo.as_bytes().chunks(WRITE_CHUNK) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                // The client went away: nothing left to do.
                return;
            }
        }
        drop(stream);
        let _ = OutgoingBody::finish(out_body, None);
    }
}

/// The `name=<number>` query parameter of `path`, or `default`.
fn query_number(path: &str, name: &str, default: u64) -> u64 {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `chunks` server-sent events, `every_ms` apart, flushing each.
fn stream_events(path: &str, response_out: ResponseOutparam) {
    let chunks = query_number(path, "chunks", 5);
    let every = query_number(path, "every_ms", 100);
    let trap_after = query_number(path, "trap_after", u64::MAX);
    let headers = Fields::from_list(&[("content-type".to_owned(), b"text/event-stream".to_vec())])
        .expect("static headers are valid");
    let response = OutgoingResponse::new(headers);
    let out_body = response.body().expect("the body is taken once");
    ResponseOutparam::set(response_out, Ok(response));
    let stream = out_body.write().expect("the stream is taken once");
    for i in 0..chunks {
        if i == trap_after {
            panic!("trap_after={trap_after}: breaking the stream off");
        }
        if i > 0 {
            monotonic_clock::subscribe_duration(every * 1_000_000).block();
        }
        if stream
            .blocking_write_and_flush(format!("data: {i}\n\n").as_bytes())
            .is_err()
        {
            return;
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(out_body, None);
}

/// The method as its upper-case name.
fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => other,
    }
    .to_owned()
}

/// The whole request body (empty when there is none).
fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let Ok(body) = request.consume() else {
        return Vec::new();
    };
    let mut bytes = Vec::new();
    if let Ok(stream) = body.stream() {
        loop {
            match stream.blocking_read(READ_CHUNK) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(_)) => break,
            }
        }
    }
    let _trailers = IncomingBody::finish(body);
    bytes
}

/// `{"method": .., "path": .., "body": ..}` as JSON text.
fn portico_echo_json(method: &str, path: &str, body: &str) -> String {
    serde_json::json!({ "method": method, "path": path, "body": body }).to_string()
}

// The export glue is generated `unsafe` code (exported symbols): allowed here only.
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(Echo with_types_in bindings);
};
