//! HTTP/2 cleartext upgrade ("h2c upgrade", RFC 7540 §3.2).
//!
//! An HTTP/1.1 client may ask to switch to HTTP/2 on the same connection:
//!
//! ```text
//! GET /x HTTP/1.1
//! Host: example.com
//! Connection: Upgrade, HTTP2-Settings
//! Upgrade: h2c
//! HTTP2-Settings: <base64url SETTINGS payload>
//! ```
//!
//! The server answers `101 Switching Protocols`, both sides then speak
//! HTTP/2, and the response to the original request goes out on stream 1.
//!
//! # Why this module exists
//!
//! hyper 1 can hand over the raw connection after a 101
//! ([`hyper::upgrade::on`]), and it can serve HTTP/2 on any IO, but its
//! HTTP/2 server (the `h2` crate) has no way to be told that stream 1 already
//! exists with a request on it.
//!
//! # The injection trick
//!
//! After the 101, the upgraded IO is wrapped in [`InjectStream1`], which
//! passes the client's bytes to hyper's HTTP/2 server unchanged except for one
//! thing: right after the client connection preface and the client's first
//! frame (its SETTINGS), it inserts a synthetic HEADERS frame for stream 1
//! that carries the original request head (see [`headers_frame`]). To hyper,
//! the client simply opened stream 1 itself, so the request runs through the
//! normal service and its response is sent on stream 1, exactly as RFC 7540
//! requires. Later client requests (streams 3, 5, ...) work as usual.
//!
//! The header block uses only HPACK "literal header field without indexing —
//! new name" representations, so the HPACK dynamic table the client and the
//! server share stays untouched by the synthetic frame.
//!
//! # Limits
//!
//! - Only requests without a body are upgraded (no `Transfer-Encoding`,
//!   `Content-Length` absent or 0); others are served as plain HTTP/1.1,
//!   which RFC 7230 allows (a server may ignore `Upgrade`).
//! - The head must fit one HEADERS frame of the default maximum frame size
//!   (16384 bytes) and stay under hyper's default header-list limit (16 KiB,
//!   counted as in RFC 7540 §6.5.2); otherwise no upgrade.
//! - Connection-specific headers (`Connection`, `Upgrade`, `HTTP2-Settings`,
//!   `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `TE` other than
//!   `trailers`, and any header named in `Connection`) are dropped; `Host`
//!   becomes `:authority` and `:scheme` is always `http`.
//! - The `HTTP2-Settings` header is only checked for its form; the settings
//!   take effect when the client's SETTINGS frame arrives, which is before
//!   the injected stream-1 request is read.
//! - Extensions of the original HTTP/1.1 request (for example connection
//!   info) do not travel with the stream-1 request: the service given to
//!   [`serve_upgraded`] must carry what it needs.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The HTTP/2 client connection preface (RFC 7540 §3.5).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Length of an HTTP/2 frame header.
const FRAME_HEADER_LEN: usize = 9;
/// Default SETTINGS_MAX_FRAME_SIZE: the largest header block we may send.
const MAX_BLOCK_LEN: usize = 16_384;
/// hyper's default SETTINGS_MAX_HEADER_LIST_SIZE for its HTTP/2 server.
const MAX_HEADER_LIST_SIZE: usize = 16_384;
/// Frame type SETTINGS.
const TYPE_SETTINGS: u8 = 0x4;
/// Frame type HEADERS.
const TYPE_HEADERS: u8 = 0x1;
/// Flags END_STREAM | END_HEADERS.
const FLAGS_END_STREAM_HEADERS: u8 = 0x1 | 0x4;

/// The `HTTP2-Settings` header's name, parsed once (a `&str` name is parsed and hashed again on
/// every lookup, and every HTTP/1.1 request is checked for an upgrade).
const HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// True when `req` is an HTTP/1.1 request asking for `Upgrade: h2c` (with
/// `HTTP2-Settings` header and `Connection` listing both `upgrade` and
/// `http2-settings`, case-insensitive token match) that can be honoured (no
/// body, head encodes to <= 16384 bytes).
///
/// The head must also stay under hyper's default HTTP/2 header-list limit,
/// so that the stream-1 request is not refused with a 431 after the switch.
pub fn wants_upgrade<B>(req: &Request<B>) -> bool {
    let headers = req.headers();
    let mut settings = headers.get_all(HTTP2_SETTINGS).iter();
    let one_settings =
        matches!((settings.next(), settings.next()), (Some(v), None) if is_token68(v));
    req.version() == Version::HTTP_11
        && req.method() != Method::CONNECT
        && one_settings
        && has_token(headers, &header::UPGRADE, "h2c")
        && has_token(headers, &header::CONNECTION, "upgrade")
        && has_token(headers, &header::CONNECTION, "http2-settings")
        && !headers.contains_key(header::TRANSFER_ENCODING)
        && headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .all(|v| v.as_bytes() == b"0")
        && header_block(req.method(), req.uri(), headers).is_some()
}

/// The 101 response to send for an accepted upgrade.
pub fn switching_protocols<B: Default>() -> Response<B> {
    let mut res = Response::new(B::default());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = res.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("h2c"));
    res
}

/// Builds the HEADERS frame (9-byte frame header + HPACK block) for stream 1
/// from the request head. None if too large.
pub fn headers_frame(parts: &http::request::Parts) -> Option<Bytes> {
    let block = header_block(&parts.method, &parts.uri, &parts.headers)?;
    let len = u32::try_from(block.len()).ok()?;
    let mut frame = BytesMut::with_capacity(FRAME_HEADER_LEN + block.len());
    frame.put_uint(u64::from(len), 3);
    frame.put_u8(TYPE_HEADERS);
    frame.put_u8(FLAGS_END_STREAM_HEADERS);
    frame.put_u32(1);
    frame.put_slice(&block);
    Some(frame.freeze())
}

/// Whether any comma-separated token of any `name` header equals `token`
/// (ASCII case-insensitive).
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Whether `value` has the form of a base64url token (RFC 7540 §3.2.1).
fn is_token68(value: &HeaderValue) -> bool {
    let trimmed = value.as_bytes().trim_ascii_end();
    let unpadded = trimmed.strip_suffix(b"=").unwrap_or(trimmed);
    let unpadded = unpadded.strip_suffix(b"=").unwrap_or(unpadded);
    unpadded
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// Whether a header must not be forwarded to HTTP/2 (RFC 7540 §8.1.2.2).
fn is_connection_specific(name: &HeaderName, value: &HeaderValue, headers: &HeaderMap) -> bool {
    match name.as_str() {
        "te" => value.as_bytes() != b"trailers",
        "host" => true,
        hop if crate::integration::headers::is_hop_by_hop(hop) => true,
        // Headers nominated by `Connection` are hop-by-hop as well.
        other => has_token(headers, &header::CONNECTION, other),
    }
}

/// HPACK-encodes the request head as literal-without-indexing fields.
/// None when the block exceeds one default-sized frame or the header list
/// would exceed hyper's default limit.
fn header_block(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<BytesMut> {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    let authority = headers
        .get(header::HOST)
        .map(HeaderValue::as_bytes)
        .or_else(|| uri.authority().map(|a| a.as_str().as_bytes()));

    let mut fields: Vec<(&[u8], &[u8])> = vec![
        (b":method", method.as_str().as_bytes()),
        (b":scheme", b"http"),
        (b":path", path.as_bytes()),
    ];
    if let Some(authority) = authority {
        fields.push((b":authority", authority));
    }
    for (name, value) in headers {
        if !is_connection_specific(name, value, headers) {
            fields.push((name.as_str().as_bytes(), value.as_bytes()));
        }
    }

    let mut block = BytesMut::new();
    let mut list_size = 0;
    for (name, value) in fields {
        list_size += name.len() + value.len() + 32;
        block.put_u8(0x00);
        encode_string(name, &mut block);
        encode_string(value, &mut block);
    }
    (block.len() <= MAX_BLOCK_LEN && list_size < MAX_HEADER_LIST_SIZE).then_some(block)
}

/// Encodes a non-Huffman HPACK string literal (RFC 7541 §5.2).
fn encode_string(s: &[u8], dst: &mut BytesMut) {
    encode_int(s.len(), 7, 0x00, dst);
    dst.put_slice(s);
}

/// Encodes an HPACK integer with an `prefix_bits`-bit prefix (RFC 7541
/// §5.1); `first` holds the bits above the prefix in the first byte.
fn encode_int(mut value: usize, prefix_bits: u8, first: u8, dst: &mut BytesMut) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        // Fits the prefix; `value < max <= 255` so the cast is lossless.
        dst.put_u8(first | value as u8);
        return;
    }
    dst.put_u8(first | max as u8);
    value -= max;
    while value >= 128 {
        dst.put_u8((value % 128) as u8 | 0x80);
        value /= 128;
    }
    dst.put_u8(value as u8);
}

/// Where [`InjectStream1`] is in the client's opening bytes.
#[derive(Debug)]
enum State {
    /// Matching the connection preface; holds how many bytes matched.
    Preface(usize),
    /// Collecting the first frame's header.
    FrameHeader([u8; FRAME_HEADER_LEN], usize),
    /// Skipping over the first SETTINGS frame's payload; holds bytes left.
    SettingsPayload(usize),
    /// Handing out the injected frame; holds the cursor into it.
    Inject(usize),
    /// Everything else passes through unchanged.
    Passthrough,
}

/// IO adapter: passes reads through, injecting `frame` after the client
/// preface and the first (SETTINGS) frame. Writes pass straight through.
///
/// If the preface is wrong or the first frame is not SETTINGS, nothing is
/// injected and the bytes pass through unchanged (the HTTP/2 server then
/// rejects the connection itself).
#[derive(Debug)]
pub struct InjectStream1<IO> {
    io: IO,
    frame: Bytes,
    state: State,
}

impl<IO> InjectStream1<IO> {
    /// Wraps `io`; `frame` is the complete frame to inject (see
    /// [`headers_frame`]).
    pub fn new(io: IO, frame: Bytes) -> Self {
        Self {
            io,
            frame,
            state: State::Preface(0),
        }
    }

    /// Bytes still to read from the client before the injection point, or
    /// None once past the opening.
    fn until_injection(&self) -> Option<usize> {
        match self.state {
            State::Preface(seen) => Some(PREFACE.len() - seen),
            State::FrameHeader(_, have) => Some(FRAME_HEADER_LEN - have),
            State::SettingsPayload(left) => Some(left),
            State::Inject(_) | State::Passthrough => None,
        }
    }

    /// Advances the state over client bytes that do not cross the
    /// injection point.
    fn observe(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.state {
                State::Preface(seen) => {
                    let n = data.len().min(PREFACE.len() - *seen);
                    if data[..n] != PREFACE[*seen..*seen + n] {
                        self.state = State::Passthrough;
                        return;
                    }
                    *seen += n;
                    if *seen == PREFACE.len() {
                        self.state = State::FrameHeader([0; FRAME_HEADER_LEN], 0);
                    }
                    data = &data[n..];
                }
                State::FrameHeader(head, have) => {
                    let n = data.len().min(FRAME_HEADER_LEN - *have);
                    head[*have..*have + n].copy_from_slice(&data[..n]);
                    *have += n;
                    data = &data[n..];
                    if *have == FRAME_HEADER_LEN {
                        let len = usize::from(head[0]) << 16
                            | usize::from(head[1]) << 8
                            | usize::from(head[2]);
                        self.state = match (head[3], len) {
                            (TYPE_SETTINGS, 0) => State::Inject(0),
                            (TYPE_SETTINGS, len) => State::SettingsPayload(len),
                            _ => State::Passthrough,
                        };
                    }
                }
                State::SettingsPayload(left) => {
                    let n = data.len().min(*left);
                    *left -= n;
                    data = &data[n..];
                    if *left == 0 {
                        self.state = State::Inject(0);
                    }
                }
                State::Inject(_) | State::Passthrough => return,
            }
        }
    }

    /// Copies as much of the injected frame as fits into `buf`.
    fn drain_injected(&mut self, buf: &mut ReadBuf<'_>) {
        if let State::Inject(pos) = &mut self.state {
            let n = buf.remaining().min(self.frame.len() - *pos);
            buf.put_slice(&self.frame[*pos..*pos + n]);
            *pos += n;
            if *pos == self.frame.len() {
                self.state = State::Passthrough;
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for InjectStream1<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if let State::Inject(_) = this.state {
            this.drain_injected(buf);
            return Poll::Ready(Ok(()));
        }
        let Some(limit) = this.until_injection() else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        // Never read past the injection point: the injected frame must come
        // before whatever the client sent after its SETTINGS frame.
        let dst = buf.initialize_unfilled_to(limit.min(buf.remaining()));
        let mut sub = ReadBuf::new(dst);
        ready!(Pin::new(&mut this.io).poll_read(cx, &mut sub))?;
        let n = sub.filled().len();
        this.observe(sub.filled());
        buf.advance(n);
        this.drain_injected(buf);
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for InjectStream1<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Serves an accepted upgrade: waits for the connection to be upgraded, then
/// runs hyper's HTTP/2 server on it with stream 1 injected. Errors are logged
/// with `tracing::debug!` and swallowed.
pub async fn serve_upgraded<S, B>(
    on_upgrade: hyper::upgrade::OnUpgrade,
    frame: Bytes,
    service: S,
    shutdown: impl std::future::Future<Output = ()>,
) where
    S: hyper::service::Service<Request<hyper::body::Incoming>, Response = Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(err) => {
            tracing::debug!(error = %err, "h2c upgrade failed");
            return;
        }
    };
    let io = TokioIo::new(InjectStream1::new(TokioIo::new(upgraded), frame));
    // The same HTTP/2 limits and timers as connections that start in HTTP/2.
    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(hyper_util::rt::TokioTimer::new())
        .max_header_list_size(super::H2_MAX_HEADER_LIST)
        .serve_connection(io, service);
    tokio::pin!(conn, shutdown);
    // On shutdown, send GOAWAY and let in-flight streams finish.
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = &mut shutdown => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(error = %err, "h2c connection error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn int(value: usize, prefix_bits: u8) -> Vec<u8> {
        let mut dst = BytesMut::new();
        encode_int(value, prefix_bits, 0, &mut dst);
        dst.to_vec()
    }

    #[test]
    fn hpack_integers() {
        assert_eq!(int(0, 7), [0]);
        assert_eq!(int(126, 7), [126]);
        assert_eq!(int(127, 7), [127, 0]);
        assert_eq!(int(128, 7), [127, 1]);
        assert_eq!(int(254, 7), [127, 127]);
        assert_eq!(int(255, 7), [127, 0x80, 1]);
        assert_eq!(int(16_384, 7), [127, 0x81, 0x7f]);
        // RFC 7541 C.1 examples.
        assert_eq!(int(10, 5), [10]);
        assert_eq!(int(1337, 5), [31, 154, 10]);
        assert_eq!(int(42, 8), [42]);
    }

    #[test]
    fn hpack_string_keeps_high_bit_clear() {
        let mut dst = BytesMut::new();
        encode_string(&[b'a'; 200], &mut dst);
        assert_eq!(&dst[..2], [127, 73]);
        assert_eq!(dst.len(), 2 + 200);
    }

    fn upgrade_request() -> http::request::Builder {
        Request::get("/x?y=1")
            .header("host", "example.com:8080")
            .header("connection", "Upgrade, HTTP2-Settings")
            .header("upgrade", "h2c")
            .header("http2-settings", "AAMAAABkAAQCAAAAAAIAAAAA")
    }

    /// Decodes a block made only of literal-without-indexing, new-name fields.
    fn decode(mut block: &[u8]) -> Vec<(String, String)> {
        fn string(block: &mut &[u8]) -> String {
            let (len, used) = match block[0] {
                127 => {
                    let mut len = 127;
                    let mut shift = 0;
                    let mut i = 1;
                    loop {
                        len += usize::from(block[i] & 0x7f) << shift;
                        shift += 7;
                        i += 1;
                        if block[i - 1] & 0x80 == 0 {
                            break (len, i);
                        }
                    }
                }
                b => (usize::from(b), 1),
            };
            let s = String::from_utf8(block[used..used + len].to_vec()).unwrap();
            *block = &block[used + len..];
            s
        }
        let mut fields = Vec::new();
        while !block.is_empty() {
            assert_eq!(block[0], 0x00);
            block = &block[1..];
            let name = string(&mut block);
            let value = string(&mut block);
            fields.push((name, value));
        }
        fields
    }

    #[test]
    fn frame_layout_and_fields() {
        let (parts, ()) = upgrade_request()
            .header("Accept", "*/*")
            .header("te", "trailers")
            .header("te", "gzip")
            .header("keep-alive", "timeout=5")
            .header("proxy-connection", "keep-alive")
            .header("X-Long", "v".repeat(300))
            .body(())
            .unwrap()
            .into_parts();
        let frame = headers_frame(&parts).unwrap();
        let len = usize::from(frame[0]) << 16 | usize::from(frame[1]) << 8 | usize::from(frame[2]);
        assert_eq!(len, frame.len() - 9);
        assert_eq!(frame[3], 0x1, "type HEADERS");
        assert_eq!(frame[4], 0x5, "END_STREAM | END_HEADERS");
        assert_eq!(&frame[5..9], [0, 0, 0, 1], "stream 1");
        let fields = decode(&frame[9..]);
        let expect = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/x?y=1"),
            (":authority", "example.com:8080"),
            ("accept", "*/*"),
            ("te", "trailers"),
        ];
        for (got, (name, value)) in fields.iter().zip(expect) {
            assert_eq!((got.0.as_str(), got.1.as_str()), (name, value));
        }
        assert_eq!(fields[6], ("x-long".into(), "v".repeat(300)));
        assert_eq!(fields.len(), 7);
    }

    #[test]
    fn too_large_head_is_refused() {
        let big = "v".repeat(MAX_BLOCK_LEN);
        let req = upgrade_request().header("x-big", big).body(()).unwrap();
        assert!(!wants_upgrade(&req));
        assert!(headers_frame(&req.into_parts().0).is_none());

        // Small block, but a header list over hyper's 16 KiB limit.
        let mut req = upgrade_request();
        for i in 0..450 {
            req = req.header(format!("x-h{i}"), "v");
        }
        let (parts, ()) = req.body(()).unwrap().into_parts();
        assert!(header_block(&parts.method, &parts.uri, &parts.headers).is_none());
    }

    #[test]
    fn wants_upgrade_cases() {
        let ok = |r: http::request::Builder| wants_upgrade(&r.body(()).unwrap());
        assert!(ok(upgrade_request()));
        assert!(ok(upgrade_request().header("content-length", "0")));
        assert!(ok(Request::get("/")
            .header("connection", "keep-alive")
            .header("connection", "http2-settings , UPGRADE")
            .header("upgrade", "H2C")
            .header("http2-settings", "")));
        assert!(!ok(upgrade_request().version(Version::HTTP_10)));
        assert!(!ok(upgrade_request().method(Method::CONNECT)));
        assert!(!ok(upgrade_request().header("content-length", "5")));
        assert!(!ok(upgrade_request().header("transfer-encoding", "chunked")));
        assert!(!ok(upgrade_request().header("http2-settings", "AAAA")));
        assert!(!ok(Request::get("/")
            .header("connection", "Upgrade")
            .header("upgrade", "h2c")
            .header("http2-settings", "AAAA")));
        assert!(!ok(Request::get("/")
            .header("connection", "Upgrade, HTTP2-Settings")
            .header("upgrade", "websocket")
            .header("http2-settings", "AAAA")));
        assert!(!ok(Request::get("/")
            .header("connection", "Upgrade, HTTP2-Settings")
            .header("upgrade", "h2c")));
        assert!(!ok(Request::get("/")
            .header("connection", "Upgrade, HTTP2-Settings")
            .header("upgrade", "h2c")
            .header("http2-settings", "not base64!")));
        assert!(!ok(Request::get("/")));
    }

    #[test]
    fn switching_protocols_response() {
        let res: Response<()> = switching_protocols();
        assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(res.headers()["connection"], "Upgrade");
        assert_eq!(res.headers()["upgrade"], "h2c");
    }

    /// Yields its data `chunk` bytes at a time, returning Pending in between.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
        stall: bool,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.stall = !self.stall;
            if self.stall {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = self
                .chunk
                .min(buf.remaining())
                .min(self.data.len() - self.pos);
            let pos = self.pos;
            buf.put_slice(&self.data[pos..pos + n]);
            self.pos += n;
            Poll::Ready(Ok(()))
        }
    }

    async fn run(input: &[u8], chunk: usize, read_size: usize) -> Vec<u8> {
        let io = Trickle {
            data: input.to_vec(),
            pos: 0,
            chunk,
            stall: false,
        };
        let mut stream = InjectStream1::new(io, Bytes::from_static(b"<INJECTED FRAME>"));
        let mut out = Vec::new();
        let mut buf = vec![0; read_size];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn settings(payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut frame = len[1..].to_vec();
        frame.extend_from_slice(&[0x4, 0, 0, 0, 0, 0]);
        frame.extend_from_slice(payload);
        frame
    }

    #[tokio::test]
    async fn injects_after_settings_with_split_reads() {
        for payload in [&b""[..], &[0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0]] {
            let mut input = PREFACE.to_vec();
            input.extend(settings(payload));
            let after = b"\x00\x00\x04\x08\x00\x00\x00\x00\x00WINDOWUPDATE+more";
            input.extend_from_slice(after);
            let mut expect = PREFACE.to_vec();
            expect.extend(settings(payload));
            expect.extend_from_slice(b"<INJECTED FRAME>");
            expect.extend_from_slice(after);
            for (chunk, read_size) in [(1, 1), (1, 64), (3, 5), (7, 2), (1000, 1000), (1000, 3)] {
                assert_eq!(
                    run(&input, chunk, read_size).await,
                    expect,
                    "{chunk}/{read_size}"
                );
            }
        }
    }

    #[tokio::test]
    async fn wrong_preface_passes_through() {
        let input = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789".to_vec();
        assert_eq!(run(&input, 1, 1).await, input);
        let mut almost = PREFACE.to_vec();
        almost[23] = b'X';
        almost.extend(settings(b""));
        assert_eq!(run(&almost, 1, 4).await, almost);
    }

    #[tokio::test]
    async fn non_settings_first_frame_passes_through() {
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(b"\x00\x00\x08\x06\x00\x00\x00\x00\x00PINGPING");
        input.extend(settings(b""));
        assert_eq!(run(&input, 1, 1).await, input);
        assert_eq!(run(&input, 100, 100).await, input);
    }

    #[tokio::test]
    async fn truncated_opening_ends_cleanly() {
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(&settings(&[0, 3, 0, 0, 0, 100])[..11]);
        assert_eq!(run(&input, 2, 3).await, input);
    }
}
