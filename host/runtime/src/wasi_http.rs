//! Calling a `wasi:http/incoming-handler` function with a whole request and collecting its
//! whole response.
//!
//! The guest sets the response head through `response-outparam.set` and then writes the body
//! into a bounded pipe, possibly while still running. So the call and the body are driven
//! together: wait for whichever comes first, the response head or the end of the call; once
//! the head is there, read the body while the call finishes. A guest that returns without ever
//! setting a response, or sets an error code, or breaks off its body, has given a malformed
//! answer ([`Fault::BadReturn`]); a trap at any point is a trap.

use std::pin::pin;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use tokio::sync::oneshot;
use wasmtime::Store;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::Proxy;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::error::Fault;
use crate::host::Host;

/// Largest response body collected from a function (Lambda's own limit is 6 MB).
pub(crate) const MAX_RESPONSE_BODY: usize = 16 << 20;

/// What a `wasi:http` call produced, before checking.
pub(crate) enum Outcome {
    Response(http::Response<Bytes>),
    NoResponse,
    ErrorCode(ErrorCode),
    BrokenBody(String),
}

type Head = Result<hyper::Response<HyperOutgoingBody>, ErrorCode>;

/// Sends `req` to the guest's handler.
pub(crate) async fn handle(
    store: &mut Store<Host>,
    proxy: &Proxy,
    mut req: http::Request<Bytes>,
) -> wasmtime::Result<Outcome> {
    if req.uri().authority().is_none() && !req.headers().contains_key(http::header::HOST) {
        req.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("localhost"),
        );
    }
    let scheme = if req.uri().scheme() == Some(&http::uri::Scheme::HTTPS) {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let (tx, rx) = oneshot::channel::<Head>();
    let mut view = store.data_mut().http();
    let incoming = view.new_incoming_request(scheme, req.map(Full::new))?;
    let outparam = view.new_response_outparam(tx)?;

    let mut call = pin!(proxy.wasi_http_incoming_handler().call_handle(
        &mut *store,
        incoming,
        outparam
    ));
    let mut rx = pin!(rx);
    tokio::select! {
        head = &mut rx => match head {
            Ok(Ok(resp)) => {
                let (call, body) = tokio::join!(call, collect(resp));
                call?;
                Ok(body)
            }
            Ok(Err(code)) => {
                call.await?;
                Ok(Outcome::ErrorCode(code))
            }
            Err(_) => {
                call.await?;
                Ok(Outcome::NoResponse)
            }
        },
        done = &mut call => {
            done?;
            match rx.try_recv() {
                Ok(Ok(resp)) => Ok(collect(resp).await),
                Ok(Err(code)) => Ok(Outcome::ErrorCode(code)),
                Err(_) => Ok(Outcome::NoResponse),
            }
        }
    }
}

async fn collect(resp: hyper::Response<HyperOutgoingBody>) -> Outcome {
    let (parts, body) = resp.into_parts();
    match Limited::new(body, MAX_RESPONSE_BODY).collect().await {
        Ok(body) => Outcome::Response(http::Response::from_parts(parts, body.to_bytes())),
        Err(e) => Outcome::BrokenBody(e.to_string()),
    }
}

/// Turns an outcome into the response or a malformed-return fault.
pub(crate) fn check(outcome: Outcome) -> Result<http::Response<Bytes>, Fault> {
    match outcome {
        Outcome::Response(resp) => Ok(resp),
        Outcome::NoResponse => Err(Fault::BadReturn(
            "the function returned without setting a response".into(),
        )),
        Outcome::ErrorCode(code) => Err(Fault::BadReturn(format!(
            "the function answered with error code {code:?}"
        ))),
        Outcome::BrokenBody(e) => Err(Fault::BadReturn(format!(
            "the function's response body broke off: {e}"
        ))),
    }
}
