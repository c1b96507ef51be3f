//! Body types: one boxed body for every response, and the wrapper that records a request's
//! metrics and access-log line when its response body has been sent (or dropped).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;

/// Errors inside bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response the gateway sends.
pub type Body = BoxBody<Bytes, BoxError>;

/// A body with all of its bytes at hand.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An empty body.
pub fn empty() -> Body {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed()
}

/// Called once with the number of body bytes sent, when the body ends or is dropped.
pub trait OnDone: Send + Sync + 'static {
    /// The body is finished.
    fn done(self: Box<Self>, bytes_sent: u64);
}

/// Counts the bytes of a body and reports them when it is finished.
pub struct Observed {
    inner: Body,
    sent: u64,
    on_done: Option<Box<dyn OnDone>>,
}

impl Observed {
    /// Wraps `inner`.
    pub fn new(inner: Body, on_done: Box<dyn OnDone>) -> Self {
        Self {
            inner,
            sent: 0,
            on_done: Some(on_done),
        }
    }

    fn finish(&mut self) {
        if let Some(cb) = self.on_done.take() {
            cb.done(self.sent);
        }
    }
}

impl HttpBody for Observed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent += data.len() as u64;
                }
                if self.inner.is_end_stream() {
                    self.finish();
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        self.finish();
    }
}
