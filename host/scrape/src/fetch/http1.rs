//! One HTTP/1.1 client connection, just what a scrape needs: a GET, the response head, and the
//! body read straight into the caller's buffer in whichever of the three framings the server
//! chose (RFC 9112 §6.3: chunked, `Content-Length`, or until the connection closes).
//!
//! A scrape is one small request and one body headed for a parser, over a connection kept
//! alive for the target's next scrape. A general client (pool checkout, a connector future per
//! request, a dispatch task handing the body over in frames) spent about 55 µs of CPU per
//! scrape on that machinery, a tenth of a steady scrape of 1,000 series; this connection is
//! driven by the scrape's own task and copies each body byte once.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::stream::Stream;

/// The most response-head bytes accepted (Go's `http.Transport` default is the same 1 MiB).
const MAX_HEAD_BYTES: usize = 1 << 20;
/// The most headers a response may have.
const MAX_HEADERS: usize = 100;
/// The longest chunk-size line or trailer line accepted.
const MAX_LINE_BYTES: usize = 4096;
/// Bytes asked of the socket per read outside the body's own buffer.
const READ_BYTES: usize = 16 * 1024;

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("{}", super::tls::describe(.0))]
    Io(#[from] io::Error),
    /// The connection closed before a byte of the response: on a reused connection the
    /// request may simply be retried on a new one.
    #[error("server closed the connection before responding")]
    ClosedBeforeResponse,
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
    #[error("body size limit exceeded ({0} bytes)")]
    BodyTooLarge(u64),
}

impl HttpError {
    /// Whether the request never reached a live server: a kept-alive connection the server
    /// had closed meanwhile. A GET is safe to send again on a new connection, as Go's client
    /// does.
    pub(crate) fn is_stale_connection(&self) -> bool {
        match self {
            HttpError::ClosedBeforeResponse => true,
            HttpError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
            ),
            _ => false,
        }
    }
}

/// How the body of a response ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// The status line and the headers a scrape uses.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub status: u16,
    pub content_type: Option<String>,
    pub gzip: bool,
    pub location: Option<String>,
    pub framing: Framing,
    /// Whether the connection can carry another request once the body is read.
    pub keep_alive: bool,
    /// The value of the header the request asked to capture (the first, if repeated).
    pub captured: Option<String>,
}

/// How far a body read piece by piece ([`Connection::read_body_part`]) has come.
pub(crate) struct BodyParts {
    framing: Framing,
    /// Bytes left in the current chunk, or in a body of known length.
    left: u64,
    /// Whether a chunk was read (the next size line follows its CRLF).
    started: bool,
    done: bool,
}

impl BodyParts {
    pub(crate) fn new(framing: Framing) -> BodyParts {
        BodyParts {
            framing,
            left: match framing {
                Framing::Length(len) => len,
                _ => 0,
            },
            started: false,
            done: false,
        }
    }
}

/// An open connection and the bytes read from it but not yet consumed.
pub(crate) struct Connection {
    stream: Stream,
    buf: Vec<u8>,
    /// Where the unconsumed bytes of `buf` start.
    pos: usize,
}

impl Connection {
    pub(crate) fn new(stream: Stream) -> Connection {
        Connection {
            stream,
            buf: Vec::with_capacity(READ_BYTES),
            pos: 0,
        }
    }

    /// Sends a request and reads the head of its final (non-1xx) response, keeping the value
    /// of the header `capture` names.
    pub(crate) async fn exchange(
        &mut self,
        request: &[u8],
        capture: Option<&str>,
    ) -> Result<ResponseHead, HttpError> {
        self.buf.clear();
        self.pos = 0;
        self.stream.write_all(request).await?;
        // TLS holds records back until flushed; for TCP this does nothing.
        self.stream.flush().await?;
        let mut first = true;
        loop {
            let head = self.read_head(first, capture).await?;
            first = false;
            // Informational responses precede the real one (101 is never asked for).
            if !(100..200).contains(&head.status) || head.status == 101 {
                return Ok(head);
            }
        }
    }

    /// Reads one response head; `first` when nothing of the response has been read yet.
    async fn read_head(
        &mut self,
        first: bool,
        capture: Option<&str>,
    ) -> Result<ResponseHead, HttpError> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[self.pos..]) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = response_head(&response, capture)?;
                    self.pos += len;
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(HttpError::Malformed(e.to_string())),
            }
            if self.buf.len() - self.pos > MAX_HEAD_BYTES {
                return Err(HttpError::Malformed("response head too large".into()));
            }
            if self.fill().await? == 0 {
                return Err(if first && self.buf.is_empty() {
                    HttpError::ClosedBeforeResponse
                } else {
                    HttpError::Malformed("connection closed in the response head".into())
                });
            }
        }
    }

    /// Appends the body to `out`. `limit` (0 for none) bounds the body's length as sent.
    pub(crate) async fn read_body(
        &mut self,
        framing: Framing,
        limit: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), HttpError> {
        let start = out.len();
        // Refuses a body of `len` bytes (so far, or announced) over the limit.
        let within = |len: u64| {
            if limit > 0 && len > limit {
                Err(HttpError::BodyTooLarge(limit))
            } else {
                Ok(())
            }
        };
        match framing {
            Framing::Length(len) => {
                within(len)?;
                self.read_exact_into(len, out).await?;
            }
            Framing::UntilClose => loop {
                out.extend_from_slice(self.take_buffered(usize::MAX));
                within((out.len() - start) as u64)?;
                out.reserve(READ_BYTES);
                if self.stream.read_buf(out).await? == 0 {
                    return within((out.len() - start) as u64);
                }
            },
            Framing::Chunked => loop {
                let size = self.chunk_size().await?;
                if size == 0 {
                    return self.skip_trailers().await;
                }
                within((out.len() - start) as u64 + size)?;
                self.read_exact_into(size, out).await?;
                self.expect_crlf().await?;
            },
        }
        Ok(())
    }

    /// Appends the next piece of a body that is read as it arrives (a Kubernetes WATCH's
    /// events) to `out`; false once the body has ended.
    pub(crate) async fn read_body_part(
        &mut self,
        part: &mut BodyParts,
        out: &mut Vec<u8>,
    ) -> Result<bool, HttpError> {
        if part.done {
            return Ok(false);
        }
        match part.framing {
            Framing::Chunked if part.left == 0 => {
                if part.started {
                    self.expect_crlf().await?;
                }
                part.started = true;
                let size = self.chunk_size().await?;
                if size == 0 {
                    part.done = true;
                    self.skip_trailers().await?;
                    return Ok(false);
                }
                part.left = size;
            }
            Framing::Length(_) if part.left == 0 => {
                part.done = true;
                return Ok(false);
            }
            _ => {}
        }
        let until_close = part.framing == Framing::UntilClose;
        let want = if until_close {
            READ_BYTES
        } else {
            part.left.min(READ_BYTES as u64) as usize
        };
        let buffered = self.take_buffered(want);
        let read = if buffered.is_empty() {
            (&mut self.stream).take(want as u64).read_buf(out).await?
        } else {
            out.extend_from_slice(buffered);
            buffered.len()
        };
        if read == 0 {
            if until_close {
                part.done = true;
                return Ok(false);
            }
            return Err(HttpError::Malformed("connection closed in the body".into()));
        }
        if !until_close {
            part.left -= read as u64;
        }
        Ok(true)
    }

    /// Moves exactly `len` body bytes to `out`: those already buffered, then the rest read
    /// from the socket straight into `out`.
    async fn read_exact_into(&mut self, len: u64, out: &mut Vec<u8>) -> Result<(), HttpError> {
        let len = usize::try_from(len).map_err(|_| HttpError::Malformed("body too long".into()))?;
        let buffered = self.take_buffered(len);
        out.extend_from_slice(buffered);
        let mut remaining = len - buffered.len();
        out.reserve(remaining);
        while remaining > 0 {
            let read = (&mut self.stream)
                .take(remaining as u64)
                .read_buf(out)
                .await?;
            if read == 0 {
                return Err(HttpError::Malformed("connection closed in the body".into()));
            }
            remaining -= read;
        }
        Ok(())
    }

    /// Up to `max` buffered bytes, consumed.
    fn take_buffered(&mut self, max: usize) -> &[u8] {
        let n = max.min(self.buf.len() - self.pos);
        let taken = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        taken
    }

    /// Reads more from the socket into `buf`, first dropping what was consumed.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(READ_BYTES);
        self.stream.read_buf(&mut self.buf).await
    }

    /// The next line (without its CRLF), read as needed.
    async fn line(&mut self) -> Result<&[u8], HttpError> {
        loop {
            if let Some(end) = memchr::memchr(b'\n', &self.buf[self.pos..]) {
                let line = &self.buf[self.pos..self.pos + end];
                self.pos += end + 1;
                return Ok(line.strip_suffix(b"\r").unwrap_or(line));
            }
            if self.buf.len() - self.pos > MAX_LINE_BYTES {
                return Err(HttpError::Malformed("chunk line too long".into()));
            }
            if self.fill().await? == 0 {
                return Err(HttpError::Malformed("connection closed in a chunk".into()));
            }
        }
    }

    async fn chunk_size(&mut self) -> Result<u64, HttpError> {
        let line = self.line().await?;
        chunk_size(line).ok_or_else(|| {
            HttpError::Malformed(format!(
                "invalid chunk size line {:?}",
                String::from_utf8_lossy(line)
            ))
        })
    }

    async fn expect_crlf(&mut self) -> Result<(), HttpError> {
        if self.line().await?.is_empty() {
            Ok(())
        } else {
            Err(HttpError::Malformed("chunk not followed by CRLF".into()))
        }
    }

    /// Trailer fields end with an empty line; their content is of no use to a scrape.
    async fn skip_trailers(&mut self) -> Result<(), HttpError> {
        while !self.line().await?.is_empty() {}
        Ok(())
    }
}

/// The hex size of a chunk-size line, extensions (`;name=value`) ignored.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.split(|&b| b == b';').next()?.trim_ascii();
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// What a scrape needs of a parsed head (and the value of the header `capture` names), and
/// how its body is framed.
fn response_head(
    response: &httparse::Response<'_, '_>,
    capture: Option<&str>,
) -> Result<ResponseHead, HttpError> {
    let status = response.code.unwrap_or(0);
    let mut head = ResponseHead {
        status,
        content_type: None,
        gzip: false,
        location: None,
        framing: Framing::UntilClose,
        keep_alive: response.version == Some(1),
        captured: None,
    };
    let mut length: Option<u64> = None;
    let mut chunked = None;
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| HttpError::Malformed(format!("header {} is not UTF-8", h.name)))?
            .trim();
        let name = h.name;
        if head.captured.is_none() && capture.is_some_and(|c| name.eq_ignore_ascii_case(c)) {
            head.captured = Some(value.to_owned());
        }
        if name.eq_ignore_ascii_case("content-type") {
            head.content_type = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("content-encoding") {
            head.gzip = value.eq_ignore_ascii_case("gzip");
        } else if name.eq_ignore_ascii_case("location") {
            head.location = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("connection") {
            let has = |token: &str| {
                value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case(token))
            };
            if has("close") {
                head.keep_alive = false;
            } else if has("keep-alive") {
                head.keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked must be the last coding; anything else is read until close.
            let last = value.rsplit(',').next().unwrap_or("").trim();
            chunked = Some(last.eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value
                .parse()
                .map_err(|_| HttpError::Malformed(format!("invalid Content-Length {value:?}")))?;
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::Malformed("conflicting Content-Length".into()));
            }
            length = Some(n);
        }
    }
    head.framing = match (status, chunked, length) {
        (100..=199 | 204 | 304, _, _) => Framing::Length(0),
        (_, Some(true), _) => Framing::Chunked,
        (_, Some(false), _) | (_, None, None) => Framing::UntilClose,
        (_, None, Some(n)) => Framing::Length(n),
    };
    if head.framing == Framing::UntilClose {
        head.keep_alive = false;
    }
    Ok(head)
}

#[cfg(test)]
mod tests;
