//! Calling a `wasi:http/incoming-handler` function with a whole request, and collecting its
//! whole response ([`handle`]) or handing its body on as the guest writes it ([`prepare`] and
//! [`streamed`], for `Plugin::invoke_http_streaming` and `responseTransferMode: STREAM`).
//!
//! The guest sets the response head through `response-outparam.set` and then writes the body
//! into a bounded pipe, possibly while still running. So the call and the body are driven
//! together: wait for whichever comes first, the response head or the end of the call; once
//! the head is there, read the body while the call finishes. A guest that returns without ever
//! setting a response, or sets an error code, or breaks off its body, has given a malformed
//! answer ([`Fault::BadReturn`]); a trap at any point is a trap.

use std::pin::{Pin, pin};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

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

/// What a `wasi:http` call produced, before checking: a whole body, or a streamed one.
pub(crate) enum Outcome<B = Bytes> {
    Response(http::Response<B>),
    NoResponse,
    ErrorCode(ErrorCode),
    BrokenBody(String),
}

/// The body of a streamed function response, as the guest writes it. It fails when the guest
/// breaks it off (a trap, its deadline, an error code).
pub type StreamedBody =
    http_body_util::combinators::BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A guest's outgoing body as a [`StreamedBody`]. `failed` is sent when the call fails (before
/// the store is dropped): wasmtime-wasi-http ends a body whose guest died without finishing
/// it as if it were complete, and this turns that end into the error it is.
pub(crate) fn streamed(body: HyperOutgoingBody, failed: oneshot::Receiver<()>) -> StreamedBody {
    SyncBody {
        body: Mutex::new(body),
        failed,
    }
    .boxed()
}

/// wasmtime-wasi-http's body is `Send` but not `Sync`; the gateway's bodies are both. A body is
/// only ever polled through `&mut`, so the mutex is never locked: `get_mut` borrows through it.
struct SyncBody {
    body: Mutex<HyperOutgoingBody>,
    failed: oneshot::Receiver<()>,
}

impl hyper::body::Body for SyncBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let body = this.body.get_mut().unwrap_or_else(PoisonError::into_inner);
        match Pin::new(body).poll_frame(cx) {
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(format!(
                "the function's response body broke off: {e:#}"
            )
            .into()))),
            Poll::Ready(None) if this.failed.try_recv().is_ok() => Poll::Ready(Some(Err(
                "the function failed before finishing its response body".into(),
            ))),
            other => other.map_err(|e| e.into()),
        }
    }
}

type Head = Result<hyper::Response<HyperOutgoingBody>, ErrorCode>;

/// The request and response-outparam resources of one call, in `store`; the response head
/// arrives on the returned receiver.
pub(crate) fn prepare(
    store: &mut Store<Host>,
    mut req: http::Request<Bytes>,
) -> wasmtime::Result<(
    wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostIncomingRequest>,
    wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostResponseOutparam>,
    oneshot::Receiver<Head>,
)> {
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
    Ok((incoming, outparam, rx))
}

/// Sends `req` to the guest's handler.
pub(crate) async fn handle(
    store: &mut Store<Host>,
    proxy: &Proxy,
    req: http::Request<Bytes>,
) -> wasmtime::Result<Outcome> {
    let (incoming, outparam, rx) = prepare(store, req)?;
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
pub(crate) fn check<B>(outcome: Outcome<B>) -> Result<http::Response<B>, Fault> {
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
