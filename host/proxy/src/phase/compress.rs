//! Payload compression (REST API `minimumCompressionSize`, reference §8.9,
//! `[DG:api-gateway-gzip-compression-decompression]`): request bodies sent with a
//! `Content-Encoding` are decoded before anything reads them, and integration answers of at
//! least the threshold are encoded as the client's `Accept-Encoding` asks.
//!
//! The codings are API Gateway's: `gzip`, `deflate` (the zlib format, RFC 9110 §8.4.1.2) and
//! `identity` (`[DG:api-gateway-enable-compression]`), plus `br` (RFC 7932), which API Gateway
//! lacks. The codecs are `flate2`'s and `brotli`'s.
//!
//! - [`negotiate`] picks the response coding: only a coding the client names counts (`*`, or
//!   no header, never turns compression on, as AWS documents), and only when it has the
//!   highest q-value the client gave: if its first choice is one the gateway lacks (`zstd`)
//!   or `identity`, nothing is compressed. Ties go to gzip, then deflate, then br, so a client
//!   that takes gzip gets what API Gateway would send it; `br` is chosen when the client
//!   prefers it or takes nothing else.
//! - [`compress`] encodes as a stream: a body of unknown length is buffered only up to the
//!   threshold, to learn whether it reaches it; the encoder is flushed whenever the upstream
//!   has nothing more at hand, so a streamed answer keeps streaming.
//! - [`collect_decoded`] decodes a request body as it arrives, failing (413) as soon as the
//!   decoded bytes pass the gateway's body limit: a decompression bomb costs at most the
//!   limit in memory.

use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use flate2::write::{GzDecoder, GzEncoder, ZlibEncoder};
use flate2::{Compression, Decompress, FlushDecompress, Status};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{BodyExt, LengthLimitError};

use crate::pipeline::body::{Body, BoxError, full};
use crate::pipeline::error::GatewayError;

/// A content coding the gateway encodes and decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` (also `x-gzip` on requests).
    Gzip,
    /// `deflate`: zlib-wrapped DEFLATE.
    Deflate,
    /// `br`: brotli.
    Brotli,
}

/// Brotli's quality for responses: 5 is about gzip's default speed with smaller output
/// (11, the format's best, is tens of times slower: for static files, not live answers).
const BROTLI_QUALITY: u32 = 5;
/// Brotli's window for responses, as a power of two: 512 KiB, nginx's `brotli_window` default.
/// It bounds the encoder's memory per response.
const BROTLI_WINDOW: u32 = 19;
/// The brotli coders' working buffer.
const BROTLI_BUFFER: usize = 16 * 1024;

impl Coding {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            Self::Brotli => "br",
        })
    }
}

/// A q-value in thousandths (`q=0.5` → 500); `None` when malformed.
fn qvalue(params: &str) -> Option<u16> {
    let mut q = 1000;
    for p in params.split(';') {
        let p = p.trim();
        let Some((k, v)) = p.split_once('=') else {
            if p.is_empty() {
                continue;
            }
            return None;
        };
        if !k.trim().eq_ignore_ascii_case("q") {
            continue;
        }
        let v = v.trim();
        let (int, frac) = v.split_once('.').unwrap_or((v, ""));
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let thousandths = frac
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0u16, |n, b| n * 10 + u16::from(b - b'0'));
        q = match int {
            "0" => thousandths,
            "1" if thousandths == 0 => 1000,
            _ => return None,
        };
    }
    Some(q)
}

/// The coding to answer with, from the request's `Accept-Encoding`; `None`: identity.
pub fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let mut gzip = 0u16;
    let mut deflate = 0u16;
    let mut br = 0u16;
    let mut other = 0u16;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let (name, params) = item.split_once(';').unwrap_or((item, ""));
            let name = name.trim();
            if name.is_empty() || name == "*" {
                continue;
            }
            let Some(q) = qvalue(params) else { continue };
            if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                gzip = q;
            } else if name.eq_ignore_ascii_case("deflate") {
                deflate = q;
            } else if name.eq_ignore_ascii_case("br") {
                br = q;
            } else {
                other = other.max(q);
            }
        }
    }
    let best = gzip.max(deflate).max(br);
    if best == 0 || other > best {
        None
    } else if gzip == best {
        Some(Coding::Gzip)
    } else if deflate == best {
        Some(Coding::Deflate)
    } else {
        Some(Coding::Brotli)
    }
}

/// Whether a response may be encoded at all: it has a body that is not already encoded.
pub fn eligible(head_request: bool, response: &Response<Body>) -> bool {
    let status = response.status();
    !head_request
        && !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
        && status != StatusCode::PARTIAL_CONTENT
        && !response.headers().contains_key(header::CONTENT_ENCODING)
}

/// Encodes `response` with `coding` when its body has at least `min` bytes; adds
/// `Vary: Accept-Encoding` either way. The caller has checked [`eligible`].
pub async fn compress(
    response: Response<Body>,
    coding: Option<Coding>,
    min: u64,
) -> Response<Body> {
    let (mut head, body) = response.into_parts();
    head.headers
        .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let Some(coding) = coding else {
        return Response::from_parts(head, body);
    };
    let (prefix, rest) = match body.size_hint().exact() {
        Some(n) if n < min.max(1) => return Response::from_parts(head, body),
        Some(_) => (Bytes::new(), Some(body)),
        None => {
            // Unknown length: read up to the threshold to learn whether it is reached.
            let mut body = body;
            let mut buf = BytesMut::new();
            let mut ended = false;
            while (buf.len() as u64) < min.max(1) {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            buf.extend_from_slice(data);
                        }
                        // Trailers are dropped: a buffered answer is sent whole.
                    }
                    Some(Err(e)) => {
                        let failed = Chain {
                            first: Some(buf.freeze()),
                            rest: Some(Failed(Some(e)).boxed()),
                        };
                        return Response::from_parts(head, failed.boxed());
                    }
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            if ended {
                head.headers.remove(header::CONTENT_LENGTH);
                return Response::from_parts(head, full(buf.freeze()));
            }
            (buf.freeze(), Some(body))
        }
    };
    head.headers.remove(header::CONTENT_LENGTH);
    head.headers
        .insert(header::CONTENT_ENCODING, coding.header());
    let encoder = match coding {
        Coding::Gzip => Encoder::Gzip(GzEncoder::new(Vec::new(), Compression::default())),
        Coding::Deflate => Encoder::Zlib(ZlibEncoder::new(Vec::new(), Compression::default())),
        Coding::Brotli => Encoder::Brotli {
            coder: Some(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                BROTLI_BUFFER,
                BROTLI_QUALITY,
                BROTLI_WINDOW,
            ))),
            tail: Vec::new(),
        },
    };
    let body = Encode {
        inner: rest,
        prefix: (!prefix.is_empty()).then_some(prefix),
        encoder,
        dirty: false,
        finished: false,
        trailers: None,
    };
    Response::from_parts(head, body.boxed())
}

enum Encoder {
    Gzip(GzEncoder<Vec<u8>>),
    Zlib(ZlibEncoder<Vec<u8>>),
    /// `coder` is `None` once finished (brotli's writer finishes only by giving up its output,
    /// which is then `tail`).
    Brotli {
        coder: Option<Box<brotli::CompressorWriter<Vec<u8>>>>,
        tail: Vec<u8>,
    },
}

/// Writing to a finished encoder: a bug in [`Encode`], reported as a failed body.
fn finished() -> io::Error {
    io::Error::other("the encoder has already finished")
}

impl Encoder {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Self::Gzip(e) => e.write_all(data),
            Self::Zlib(e) => e.write_all(data),
            Self::Brotli { coder, .. } => coder.as_mut().ok_or_else(finished)?.write_all(data),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Gzip(e) => e.flush(),
            Self::Zlib(e) => e.flush(),
            Self::Brotli { coder, .. } => coder.as_mut().ok_or_else(finished)?.flush(),
        }
    }
    fn finish(&mut self) -> io::Result<()> {
        match self {
            Self::Gzip(e) => e.try_finish(),
            Self::Zlib(e) => e.try_finish(),
            Self::Brotli { coder, tail } => {
                if let Some(coder) = coder.take() {
                    *tail = coder.into_inner();
                }
                Ok(())
            }
        }
    }
    /// The encoded bytes produced so far, taken.
    fn take(&mut self) -> Option<Bytes> {
        let out = match self {
            Self::Gzip(e) => e.get_mut(),
            Self::Zlib(e) => e.get_mut(),
            Self::Brotli {
                coder: Some(coder), ..
            } => coder.get_mut(),
            Self::Brotli { coder: None, tail } => tail,
        };
        (!out.is_empty()).then(|| Bytes::from(std::mem::take(out)))
    }
}

/// A body encoded as it streams.
struct Encode {
    /// `None` once the source has ended.
    inner: Option<Body>,
    /// Bytes read ahead to check the threshold.
    prefix: Option<Bytes>,
    encoder: Encoder,
    /// Input written since the last flush.
    dirty: bool,
    finished: bool,
    trailers: Option<HeaderMap>,
}

impl HttpBody for Encode {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            if let Some(prefix) = this.prefix.take() {
                this.encoder.write(&prefix)?;
                this.dirty = true;
                if let Some(out) = this.encoder.take() {
                    return Poll::Ready(Some(Ok(Frame::data(out))));
                }
                continue;
            }
            let Some(inner) = this.inner.as_mut() else {
                this.encoder.finish()?;
                this.finished = true;
                if let Some(out) = this.encoder.take() {
                    return Poll::Ready(Some(Ok(Frame::data(out))));
                }
                continue;
            };
            match Pin::new(inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.encoder.write(&data)?;
                        this.dirty = true;
                        if let Some(out) = this.encoder.take() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(frame) => {
                        this.trailers = frame.into_trailers().ok();
                        this.inner = None;
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => this.inner = None,
                Poll::Pending => {
                    // Nothing more at hand: send what has been encoded so far.
                    if this.dirty {
                        this.dirty = false;
                        this.encoder.flush()?;
                        if let Some(out) = this.encoder.take() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Some bytes, then the rest of a body.
struct Chain {
    first: Option<Bytes>,
    rest: Option<Body>,
}

impl HttpBody for Chain {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }
}

/// A body that fails with the error its source failed with.
struct Failed(Option<BoxError>);

impl HttpBody for Failed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(self.0.take().map(Err))
    }
}

/// How a request body is encoded, from its `Content-Encoding`: `Ok(None)` for none or
/// `identity`; 415 for a coding API Gateway does not decode, or a stack of several.
pub fn request_coding(headers: &HeaderMap) -> Result<Option<Coding>, GatewayError> {
    let mut found = None;
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let value = value
            .to_str()
            .map_err(|_| GatewayError::UnsupportedMediaType)?;
        for item in value.split(',') {
            let item = item.trim();
            let coding = if item.is_empty() || item.eq_ignore_ascii_case("identity") {
                continue;
            } else if item.eq_ignore_ascii_case("gzip") || item.eq_ignore_ascii_case("x-gzip") {
                Coding::Gzip
            } else if item.eq_ignore_ascii_case("deflate") {
                Coding::Deflate
            } else if item.eq_ignore_ascii_case("br") {
                Coding::Brotli
            } else {
                return Err(GatewayError::UnsupportedMediaType);
            };
            if found.replace(coding).is_some() {
                return Err(GatewayError::UnsupportedMediaType);
            }
        }
    }
    Ok(found)
}

/// Collects into memory, failing once more than `max` bytes would be held.
struct Bounded {
    buf: Vec<u8>,
    max: usize,
    over: bool,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.max {
            self.over = true;
            return Err(io::Error::other("decoded body over the limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    /// The gzip decoder checks the trailer's CRC and length in `try_finish`.
    Gzip(Box<GzDecoder<Bounded>>),
    Zlib(ZlibStream),
    /// Brotli's decoder refuses bytes after the stream's end (a short write), and `close`
    /// fails on a truncated stream. Its window is the stream's own, at most 16 MiB (RFC 7932
    /// §9.1; the large-window extension is not enabled).
    Brotli(Box<brotli::DecompressorWriter<Bounded>>),
}

/// A zlib stream decoded into a [`Bounded`], knowing whether it reached its end (a truncated
/// stream, or bytes after the end, are errors).
struct ZlibStream {
    z: Decompress,
    sink: Bounded,
    ended: bool,
}

impl ZlibStream {
    fn write(&mut self, mut input: &[u8]) -> io::Result<()> {
        let mut out = [0u8; 16 * 1024];
        loop {
            if self.ended {
                return if input.is_empty() {
                    Ok(())
                } else {
                    Err(io::Error::other("bytes after the end of the zlib stream"))
                };
            }
            let (before_in, before_out) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .decompress(input, &mut out, FlushDecompress::None)
                .map_err(io::Error::other)?;
            let consumed = usize::try_from(self.z.total_in() - before_in).unwrap_or(input.len());
            let produced = usize::try_from(self.z.total_out() - before_out).unwrap_or(0);
            self.sink.write_all(&out[..produced])?;
            input = &input[consumed.min(input.len())..];
            if status == Status::StreamEnd {
                self.ended = true;
                continue;
            }
            if (input.is_empty() && produced < out.len()) || (consumed == 0 && produced == 0) {
                return Ok(());
            }
        }
    }
}

impl Decoder {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Self::Gzip(d) => d.write_all(data),
            Self::Zlib(z) => z.write(data),
            Self::Brotli(d) => d.write_all(data),
        }
    }
    fn finish(&mut self) -> io::Result<()> {
        match self {
            Self::Gzip(d) => d.try_finish(),
            Self::Zlib(z) if z.ended => Ok(()),
            Self::Zlib(_) => Err(io::Error::other("truncated zlib stream")),
            Self::Brotli(d) => d.close(),
        }
    }
    fn sink(&mut self) -> &mut Bounded {
        match self {
            Self::Gzip(d) => d.get_mut(),
            Self::Zlib(z) => &mut z.sink,
            Self::Brotli(d) => d.get_mut(),
        }
    }
}

/// Reads a request body encoded with `coding` and decodes it: 413 once the decoded bytes pass
/// `max` (or the encoded ones do), 415 when the bytes are not valid `coding`.
pub async fn collect_decoded(
    mut body: Body,
    coding: Coding,
    max: u64,
) -> Result<Bytes, GatewayError> {
    let sink = Bounded {
        buf: Vec::new(),
        max: usize::try_from(max).unwrap_or(usize::MAX),
        over: false,
    };
    let mut decoder = match coding {
        Coding::Gzip => Decoder::Gzip(Box::new(GzDecoder::new(sink))),
        Coding::Deflate => Decoder::Zlib(ZlibStream {
            z: Decompress::new(true),
            sink,
            ended: false,
        }),
        Coding::Brotli => Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(
            sink,
            BROTLI_BUFFER,
        ))),
    };
    let failed = |decoder: &mut Decoder| {
        if decoder.sink().over {
            GatewayError::BodyTooLarge(max)
        } else {
            GatewayError::UnsupportedMediaType
        }
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                GatewayError::BodyTooLarge(max)
            } else {
                GatewayError::IntegrationFailure(format!("reading the request body: {e}"))
            }
        })?;
        if let Ok(data) = frame.into_data()
            && decoder.write(&data).is_err()
        {
            return Err(failed(&mut decoder));
        }
    }
    if decoder.finish().is_err() {
        return Err(failed(&mut decoder));
    }
    Ok(Bytes::from(std::mem::take(&mut decoder.sink().buf)))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn accept(v: &'static str) -> Option<Coding> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
        negotiate(&h)
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(&HeaderMap::new()), None);
        assert_eq!(accept(""), None);
        assert_eq!(accept("*"), None);
        assert_eq!(accept("gzip"), Some(Coding::Gzip));
        assert_eq!(accept("deflate,gzip"), Some(Coding::Gzip));
        assert_eq!(accept("gzip, deflate, br"), Some(Coding::Gzip));
        assert_eq!(accept("deflate;q=0.5,gzip;q=1.0"), Some(Coding::Gzip));
        assert_eq!(accept("deflate;q=1,gzip;q=0.999"), Some(Coding::Deflate));
        assert_eq!(
            accept("gzip;q=1.0,identity;q=0.5,*;q=0"),
            Some(Coding::Gzip)
        );
        assert_eq!(accept("gzip;q=0, deflate"), Some(Coding::Deflate));
        assert_eq!(accept("gzip;q=0"), None);
        assert_eq!(accept("br"), Some(Coding::Brotli));
        assert_eq!(accept("br;q=1, gzip;q=0.8"), Some(Coding::Brotli));
        assert_eq!(accept("br, gzip"), Some(Coding::Gzip));
        assert_eq!(accept("br, deflate"), Some(Coding::Deflate));
        assert_eq!(accept("zstd, br;q=0.9"), None);
        assert_eq!(accept("zstd;q=0.5, br;q=0.9"), Some(Coding::Brotli));
        assert_eq!(accept("identity;q=1, gzip;q=0.5"), None);
        assert_eq!(accept("identity;q=0, gzip;q=0.2"), Some(Coding::Gzip));
        assert_eq!(accept("GZIP;Q=0.3"), Some(Coding::Gzip));
        assert_eq!(accept("gzip;q=2"), None);
        assert_eq!(accept("gzip;q=abc"), None);
        assert_eq!(accept("gzip;q=0.1234"), None);
        assert_eq!(qvalue(";q=0.05"), Some(50));
    }

    #[test]
    fn request_codings() {
        let ce = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(v));
            request_coding(&h)
        };
        assert_eq!(request_coding(&HeaderMap::new()).ok(), Some(None));
        assert_eq!(ce("identity").ok(), Some(None));
        assert_eq!(ce("GZIP").ok(), Some(Some(Coding::Gzip)));
        assert_eq!(ce("deflate").ok(), Some(Some(Coding::Deflate)));
        assert_eq!(ce("br").ok(), Some(Some(Coding::Brotli)));
        assert!(ce("zstd").is_err());
        assert!(ce("br, gzip").is_err());
        assert!(ce("gzip, gzip").is_err());
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    fn zl(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn br(data: &[u8]) -> Vec<u8> {
        let mut e = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
        e.write_all(data).unwrap();
        e.into_inner()
    }

    fn decode(coding: Coding, bytes: Vec<u8>, max: u64) -> Result<Bytes, GatewayError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(collect_decoded(full(bytes), coding, max))
    }

    #[test]
    fn decodes_bounded_and_refuses_garbage() {
        let text = b"hello hello hello hello".repeat(100);
        for (coding, enc) in [
            (Coding::Gzip, gz(&text)),
            (Coding::Deflate, zl(&text)),
            (Coding::Brotli, br(&text)),
        ] {
            assert_eq!(decode(coding, enc.clone(), 1 << 20).unwrap(), text);
            assert!(matches!(
                decode(coding, enc.clone(), 100),
                Err(GatewayError::BodyTooLarge(100))
            ));
            let truncated = enc[..enc.len() / 2].to_vec();
            assert!(
                matches!(
                    decode(coding, truncated, 1 << 20),
                    Err(GatewayError::UnsupportedMediaType)
                ),
                "{coding:?} truncated"
            );
            let mut trailing = enc.clone();
            trailing.extend_from_slice(b"junk");
            assert!(
                matches!(
                    decode(coding, trailing, 1 << 20),
                    Err(GatewayError::UnsupportedMediaType)
                ),
                "{coding:?} trailing garbage"
            );
        }
        assert!(matches!(
            decode(Coding::Gzip, b"not gzip at all".to_vec(), 1 << 20),
            Err(GatewayError::UnsupportedMediaType)
        ));
        assert!(matches!(
            decode(Coding::Deflate, b"not zlib at all".to_vec(), 1 << 20),
            Err(GatewayError::UnsupportedMediaType)
        ));
        assert!(matches!(
            decode(Coding::Brotli, b"not brotli at all".to_vec(), 1 << 20),
            Err(GatewayError::UnsupportedMediaType)
        ));
        // A bomb: 64 MiB of zeros stops at the limit.
        let zeros = vec![0u8; 64 << 20];
        for (coding, bomb) in [(Coding::Gzip, gz(&zeros)), (Coding::Brotli, br(&zeros))] {
            assert!(bomb.len() < 128 << 10, "{coding:?}: {}", bomb.len());
            assert!(matches!(
                decode(coding, bomb, 1 << 20),
                Err(GatewayError::BodyTooLarge(_))
            ));
        }
    }

    #[test]
    fn encodes_streams_and_respects_the_threshold() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let text = b"abcdefgh".repeat(1000);
        let make = || {
            let mut r = Response::new(full(text.clone()));
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
            r
        };
        rt.block_on(async {
            let below = compress(make(), Some(Coding::Gzip), 8001).await;
            assert!(!below.headers().contains_key(header::CONTENT_ENCODING));
            assert_eq!(below.headers()[header::VARY], "Accept-Encoding");
            let at = compress(make(), Some(Coding::Gzip), 8000).await;
            assert_eq!(at.headers()[header::CONTENT_ENCODING], "gzip");
            assert!(!at.headers().contains_key(header::CONTENT_LENGTH));
            let bytes = at.into_body().collect().await.unwrap().to_bytes();
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, text);
            let z = compress(make(), Some(Coding::Deflate), 0).await;
            let bytes = z.into_body().collect().await.unwrap().to_bytes();
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, text);
            let b = compress(make(), Some(Coding::Brotli), 0).await;
            assert_eq!(b.headers()[header::CONTENT_ENCODING], "br");
            let bytes = b.into_body().collect().await.unwrap().to_bytes();
            assert!(bytes.len() < text.len() / 10, "{} bytes", bytes.len());
            let mut out = Vec::new();
            brotli::Decompressor::new(&bytes[..], 4096)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, text);
        });
    }
}
