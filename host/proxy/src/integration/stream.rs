//! `responseTransferMode: STREAM`: the limits of a streamed response body.
//!
//! A streamed body goes to the client frame by frame, as the integration produces it (hyper
//! polls it only when the connection can take more, so a slow client slows the upstream
//! instead of filling the gateway's memory). [`Limited`] wraps it with AWS's two limits:
//!
//! - **idle**: no frame for [`StreamLimits::idle`] (AWS: 5 minutes) ends the stream;
//! - **total**: the exchange lasting longer than [`StreamLimits::max_duration`] (AWS: 15
//!   minutes, counted from the integration request) ends the stream.
//!
//! Ending means the body fails: HTTP/1.1 closes the connection before the last chunk, HTTP/2
//! and HTTP/3 reset the stream, so the client sees an incomplete response, never a hang.
//! BUFFERED routes never build a [`Limited`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::time::{Instant, Sleep};

use crate::pipeline::body::{Body, BoxError};

/// The limits of one streamed body (from the snapshot's `limits`).
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Longest wait for the next frame.
    pub idle: Duration,
    /// Longest exchange, from the integration request to the body's end.
    pub max_duration: Duration,
}

/// Why a stream was cut.
#[derive(Debug)]
pub enum StreamCut {
    /// No frame within the idle timeout.
    Idle(Duration),
    /// The stream lasted longer than its limit.
    TooLong(Duration),
}

impl fmt::Display for StreamCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamCut::Idle(d) => write!(
                f,
                "the streamed response sent nothing for {} ms (idle timeout)",
                d.as_millis()
            ),
            StreamCut::TooLong(d) => write!(
                f,
                "the streamed response lasted more than {} ms",
                d.as_millis()
            ),
        }
    }
}

impl std::error::Error for StreamCut {}

/// A body cut by its [`StreamLimits`].
pub struct Limited {
    inner: Body,
    limits: StreamLimits,
    idle: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
    cut: bool,
}

impl Limited {
    /// Wraps `inner`, whose exchange started at `started`.
    pub fn new(inner: Body, limits: StreamLimits, started: std::time::Instant) -> Self {
        let now = Instant::now();
        let started = Instant::from_std(started);
        Self {
            inner,
            limits,
            idle: Box::pin(tokio::time::sleep_until(now + limits.idle)),
            deadline: Box::pin(tokio::time::sleep_until(started + limits.max_duration)),
            cut: false,
        }
    }

    /// Wraps `inner` and boxes it.
    pub fn boxed(inner: Body, limits: StreamLimits, started: std::time::Instant) -> Body {
        Self::new(inner, limits, started).boxed()
    }
}

impl HttpBody for Limited {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.cut {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.cut = true;
            return Poll::Ready(Some(Err(Box::new(StreamCut::TooLong(
                this.limits.max_duration,
            )))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = Instant::now() + this.limits.idle;
                this.idle.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => {
                if this.idle.as_mut().poll(cx).is_ready() {
                    this.cut = true;
                    return Poll::Ready(Some(Err(Box::new(StreamCut::Idle(this.limits.idle)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.cut || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::body::full;

    fn limits(idle_ms: u64, max_ms: u64) -> StreamLimits {
        StreamLimits {
            idle: Duration::from_millis(idle_ms),
            max_duration: Duration::from_millis(max_ms),
        }
    }

    /// A body whose frames come from a channel.
    struct Chan(tokio::sync::mpsc::Receiver<Bytes>);

    impl HttpBody for Chan {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
        }
    }

    fn channel() -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        (tx, Chan(rx).boxed())
    }

    #[tokio::test]
    async fn a_complete_body_passes() {
        let body = Limited::boxed(full("abc"), limits(100, 1000), std::time::Instant::now());
        let bytes = body.collect().await.map(|c| c.to_bytes());
        assert_eq!(bytes.ok(), Some(Bytes::from("abc")));
    }

    #[tokio::test]
    async fn each_frame_restarts_the_idle_timer() {
        let (tx, body) = channel();
        let mut body = Limited::new(body, limits(400, 60_000), std::time::Instant::now());
        tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = tx.send(Bytes::from_static(b"x")).await;
            }
        });
        let mut got = 0;
        while let Some(frame) = body.frame().await {
            assert!(
                frame.is_ok(),
                "100 ms gaps are under the 400 ms idle timeout"
            );
            got += 1;
        }
        assert_eq!(got, 5);
    }

    #[tokio::test]
    async fn a_stalled_body_is_cut() {
        let (tx, body) = channel();
        let mut body = Limited::new(body, limits(100, 60_000), std::time::Instant::now());
        tx.send(Bytes::from_static(b"x")).await.ok();
        assert!(matches!(body.frame().await, Some(Ok(_))));
        let started = std::time::Instant::now();
        let err = body
            .frame()
            .await
            .and_then(Result::err)
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("idle")));
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(body.frame().await.is_none());
        drop(tx);
    }

    #[tokio::test]
    async fn a_long_body_is_cut_at_its_total_limit() {
        let (tx, body) = channel();
        let mut body = Limited::new(body, limits(1000, 500), std::time::Instant::now());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if tx.send(Bytes::from_static(b"x")).await.is_err() {
                    break;
                }
            }
        });
        let mut ok = 0;
        let last = loop {
            match body.frame().await {
                Some(Ok(_)) => ok += 1,
                other => break other,
            }
        };
        assert!(ok >= 1, "frames pass until the limit");
        let err = last.and_then(Result::err).map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("lasted more than 500")));
    }
}
