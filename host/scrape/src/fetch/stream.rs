//! The byte stream under a scrape connection: plain TCP, TLS over a stream (rustls), or a Unix
//! domain socket (a Docker Engine's `unix://` host), and how it is opened: straight to the
//! target or through a proxy, as Go's transport opens it.
//!
//! One enum rather than a boxed trait object keeps the plain path as it was, a `TcpStream`
//! read straight into the body buffer. TLS runs over a `Stream` itself, so an https target
//! behind an https proxy is TLS inside the proxy's TLS, as in Go. A TLS peer that closes
//! without `close_notify` ends the stream as TCP's FIN would: HTTP's own framing tells a
//! cut-off body from a complete one, as Go's client relies on it to.
//!
//! Through a proxy: an http(s) proxy carries a plain request itself (the caller writes it in
//! absolute form) and an https one through a `CONNECT` tunnel; a SOCKS5 proxy tunnels both.
//! An https proxy is reached with the job's own TLS settings (its CA, client certificate and
//! `server_name`), as Go's transport uses one TLS configuration for proxy and target.
//! Failures on the way to the proxy read `proxyconnect tcp: ...`, as in Go.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use wasmfed_config::{ProxyScheme, ProxyUrl};

use super::socks5;

pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<Stream>>),
    /// A client whose transport dials a socket file ([`super::Transport::Unix`]): every
    /// request goes there whatever its URL's host, as Go's transport with a Unix `DialContext`.
    Unix(UnixStream),
}

/// What a TLS connection needs: the client configuration and the name to verify.
pub(crate) struct TlsTarget {
    pub config: Arc<rustls::ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// A proxy to connect through.
pub(crate) struct Via<'a> {
    pub proxy: &'a ProxyUrl,
    /// For an https proxy: the TLS connection to the proxy itself.
    pub tls: Option<TlsTarget>,
    /// `Proxy-Authorization`'s value, for a `CONNECT`.
    pub authorization: Option<&'a str>,
    /// The header lines of a `CONNECT` after its request line (`proxy_connect_header`).
    pub connect_head: &'a str,
}

impl Stream {
    /// Connects to `host:port` (or to the proxy `via`), and runs the TLS handshake when `tls`
    /// is given (through a tunnel when proxied).
    pub(crate) async fn connect(
        host: &str,
        port: u16,
        tls: Option<TlsTarget>,
        via: Option<Via<'_>>,
    ) -> io::Result<Stream> {
        let stream = match via {
            None => Stream::Plain(tcp(host, port).await?),
            Some(via) => through(via, host, port, tls.is_some()).await?,
        };
        match tls {
            None => Ok(stream),
            Some(tls) => Ok(Stream::Tls(Box::new(handshake(tls, stream).await?))),
        }
    }
}

/// Connects to the Unix domain socket at `path`, worded as Go's dialer words a failure
/// (`dial unix <path>: connect: <why>`).
pub(crate) async fn unix(path: &std::path::Path) -> io::Result<Stream> {
    UnixStream::connect(path)
        .await
        .map(Stream::Unix)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "dial unix {}: connect: {}",
                    path.display(),
                    super::tls::describe(&e)
                ),
            )
        })
}

async fn tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

async fn handshake(tls: TlsTarget, stream: Stream) -> io::Result<TlsStream<Stream>> {
    TlsConnector::from(tls.config)
        .connect(tls.server_name, stream)
        .await
}

/// Opens the way to `host:port` through `via`: to the proxy itself for a plain request to an
/// http(s) proxy, else a tunnel (`tunnel`: the target speaks TLS, which only a tunnel carries
/// through an http(s) proxy).
async fn through(mut via: Via<'_>, host: &str, port: u16, tunnel: bool) -> io::Result<Stream> {
    let proxy = via.proxy;
    let proxyconnect = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("proxyconnect tcp: {}", super::tls::describe(&e)),
        )
    };
    let mut tcp = tcp(&proxy.host, proxy.port).await.map_err(proxyconnect)?;
    let mut stream = match (proxy.scheme, via.tls.take()) {
        (ProxyScheme::Socks5, _) => {
            let address = tcp.peer_addr()?.to_string();
            let credentials = proxy
                .username
                .as_deref()
                .map(|username| socks5::Credentials {
                    username,
                    password: proxy.password.as_deref().unwrap_or_default(),
                });
            socks5::connect(&mut tcp, &address, host, port, credentials).await?;
            return Ok(Stream::Plain(tcp));
        }
        (ProxyScheme::Https, Some(tls)) => Stream::Tls(Box::new(
            handshake(tls, Stream::Plain(tcp))
                .await
                .map_err(proxyconnect)?,
        )),
        _ => Stream::Plain(tcp),
    };
    if tunnel {
        connect_tunnel(&mut stream, host, port, &via).await?;
    }
    Ok(stream)
}

/// `host:port`, an IPv6 host in brackets (Go's `net.JoinHostPort`).
pub(crate) fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Asks an http(s) proxy for a tunnel to `host:port` and reads its answer; anything but 200
/// fails with the answer's reason, as Go's transport words it.
async fn connect_tunnel(
    stream: &mut Stream,
    host: &str,
    port: u16,
    via: &Via<'_>,
) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = join_host_port(host, port);
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = via.authorization {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str(via.connect_head);
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Err(io::Error::other("proxy response head too large"));
        }
        let mut byte = [0u8];
        if stream.read(&mut byte).await? == 0 {
            return Err(io::Error::other(
                "proxy closed the connection before answering CONNECT",
            ));
        }
        head.push(byte[0]);
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    response
        .parse(&head)
        .map_err(|e| io::Error::other(format!("malformed proxy response: {e}")))?;
    match response.code {
        Some(200) => Ok(()),
        _ => Err(io::Error::other(
            response
                .reason
                .filter(|r| !r.is_empty())
                .unwrap_or("unknown status code")
                .to_owned(),
        )),
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => match Pin::new(s).poll_read(cx, buf) {
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
