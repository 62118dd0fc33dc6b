//! Percent-encoding the few request-target bytes Go's server accepts and hyper's does not.
//!
//! Operators type `curl -g 'http://node/federate?match[]={job="x"}'` against Prometheus every
//! day: Go's `net/http` takes the raw `"` in the query. The `http` crate refuses it (and `<`,
//! `>`, `` ` ``), so hyper would answer 400 before any handler ran. This reader sits between
//! the socket and hyper and rewrites those bytes to `%22`, `%3C`, `%3E`, `%60` inside request
//! lines only. That is lossless: form decoding turns them back into the same characters.
//!
//! To know where request lines are, it follows HTTP/1.1 framing: header lines until the blank
//! line, then `Content-Length` bytes of body. A chunked request body is passed through and the
//! rest of that connection is left alone (no client of these endpoints sends one).

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Header lines longer than this are not inspected for framing (they can't be the two we need).
const MAX_INSPECTED_HEADER: usize = 256;

#[derive(Debug, PartialEq)]
enum State {
    /// In a request line; `spaces` counts the separators seen (the target is between 1 and 2).
    RequestLine {
        spaces: u8,
    },
    /// In the header block; `line` holds the start of the current header line.
    Headers {
        line: Vec<u8>,
        content_length: u64,
        chunked: bool,
    },
    Body {
        remaining: u64,
    },
    /// Framing unknown from here on: copy bytes unchanged.
    PassThrough,
}

/// Rewrites request targets in a byte stream; see the module docs.
#[derive(Debug)]
pub struct TargetEscaper {
    state: State,
}

impl Default for TargetEscaper {
    fn default() -> Self {
        TargetEscaper {
            state: State::RequestLine { spaces: 0 },
        }
    }
}

impl TargetEscaper {
    /// Appends the rewritten form of `input` to `out`.
    pub fn rewrite(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match &mut self.state {
                State::PassThrough => {
                    out.extend_from_slice(&input[i..]);
                    return;
                }
                State::Body { remaining } => {
                    let n = (*remaining).min((input.len() - i) as u64) as usize;
                    out.extend_from_slice(&input[i..i + n]);
                    *remaining -= n as u64;
                    i += n;
                    if *remaining == 0 {
                        self.state = State::RequestLine { spaces: 0 };
                    }
                    continue;
                }
                State::RequestLine { spaces } => {
                    match b {
                        b' ' => *spaces += 1,
                        // Blank lines before a request are allowed and ignored.
                        b'\n' if *spaces == 0 => {}
                        b'\n' => {
                            self.state = State::Headers {
                                line: Vec::new(),
                                content_length: 0,
                                chunked: false,
                            }
                        }
                        b'"' | b'<' | b'>' | b'`' if *spaces == 1 => {
                            out.extend_from_slice(format!("%{b:02X}").as_bytes());
                            i += 1;
                            continue;
                        }
                        _ => {}
                    }
                    out.push(b);
                }
                State::Headers {
                    line,
                    content_length,
                    chunked,
                } => {
                    out.push(b);
                    if b != b'\n' {
                        if line.len() < MAX_INSPECTED_HEADER {
                            line.push(b);
                        }
                    } else if line.is_empty() || line.as_slice() == b"\r" {
                        self.state = if *chunked {
                            State::PassThrough
                        } else if *content_length > 0 {
                            State::Body {
                                remaining: *content_length,
                            }
                        } else {
                            State::RequestLine { spaces: 0 }
                        };
                    } else {
                        inspect_header(line, content_length, chunked);
                        line.clear();
                    }
                }
            }
            i += 1;
        }
    }
}

fn inspect_header(line: &[u8], content_length: &mut u64, chunked: &mut bool) {
    let text = String::from_utf8_lossy(line);
    let Some((name, value)) = text.split_once(':') else {
        return;
    };
    let value = value.trim();
    if name.trim().eq_ignore_ascii_case("content-length") {
        *content_length = value.parse().unwrap_or(0);
    } else if name.trim().eq_ignore_ascii_case("transfer-encoding") {
        *chunked = value.to_ascii_lowercase().contains("chunked");
    }
}

/// A connection whose incoming bytes go through a [`TargetEscaper`]; writes pass unchanged.
pub struct EscapingStream<S> {
    inner: S,
    escaper: TargetEscaper,
    raw: Vec<u8>,
    ready: Vec<u8>,
    offset: usize,
}

impl<S> EscapingStream<S> {
    pub fn new(inner: S) -> Self {
        EscapingStream {
            inner,
            escaper: TargetEscaper::default(),
            raw: vec![0; 16 * 1024],
            ready: Vec::new(),
            offset: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for EscapingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.offset == this.ready.len() {
            this.ready.clear();
            this.offset = 0;
            let mut raw = ReadBuf::new(&mut this.raw);
            match Pin::new(&mut this.inner).poll_read(cx, &mut raw) {
                Poll::Ready(Ok(())) => {
                    let filled = raw.filled();
                    if filled.is_empty() {
                        return Poll::Ready(Ok(())); // end of stream
                    }
                    this.escaper.rewrite(filled, &mut this.ready);
                }
                other => return other,
            }
        }
        let n = buf.remaining().min(this.ready.len() - this.offset);
        buf.put_slice(&this.ready[this.offset..this.offset + n]);
        this.offset += n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for EscapingStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite_in_pieces(input: &str, piece: usize) -> String {
        let mut e = TargetEscaper::default();
        let mut out = Vec::new();
        for chunk in input.as_bytes().chunks(piece) {
            e.rewrite(chunk, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn targets_are_escaped_and_everything_else_kept() {
        let input =
            "GET /federate?match[]={job=\"x\"}&a=<b> HTTP/1.1\r\nHost: h\r\nX-Q: \"kept\"\r\n\r\n\
                     POST /federate HTTP/1.1\r\nContent-Length: 12\r\n\r\nmatch[]=\"q\"\
                     GET /x?y=\"z\" HTTP/1.1\r\n\r\n";
        let want = "GET /federate?match[]={job=%22x%22}&a=%3Cb%3E HTTP/1.1\r\nHost: h\r\nX-Q: \"kept\"\r\n\r\n\
                    POST /federate HTTP/1.1\r\nContent-Length: 12\r\n\r\nmatch[]=\"q\"\
                    GET /x?y=%22z%22 HTTP/1.1\r\n\r\n";
        for piece in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(rewrite_in_pieces(input, piece), want, "pieces of {piece}");
        }
    }

    #[test]
    fn chunked_bodies_end_the_rewriting() {
        let input = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /\"x\" HTTP/1.1\r\n\r\n";
        assert_eq!(rewrite_in_pieces(input, 5), input);
    }
}
