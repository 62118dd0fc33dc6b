//! The byte stream under a scrape connection: plain TCP, or TLS over it (rustls).
//!
//! One enum rather than a boxed trait object keeps the plain path as it was, a `TcpStream`
//! read straight into the body buffer. A TLS peer that closes without `close_notify` ends the
//! stream as TCP's FIN would: HTTP's own framing tells a cut-off body from a complete one, as
//! Go's client relies on it to.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::proxy::ProxyRoute;

pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// What a TLS connection needs: the client configuration and the name to verify.
pub(crate) struct TlsTarget {
    pub config: Arc<rustls::ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// A proxy to connect through: for TLS, a `CONNECT` tunnel opened with `connect_head` (the
/// request's header lines after its request line).
pub(crate) struct Via<'a> {
    pub route: &'a ProxyRoute,
    pub connect_head: &'a str,
}

impl Stream {
    /// Connects to `host:port` (or to the proxy `via`), and runs the TLS handshake when `tls`
    /// is given (through a `CONNECT` tunnel when proxied).
    pub(crate) async fn connect(
        host: &str,
        port: u16,
        tls: Option<TlsTarget>,
        via: Option<Via<'_>>,
    ) -> io::Result<Stream> {
        let mut tcp = match &via {
            None => TcpStream::connect((host, port)).await?,
            Some(via) => TcpStream::connect((via.route.host.as_str(), via.route.port))
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("proxyconnect tcp: {e}")))?,
        };
        tcp.set_nodelay(true)?;
        if let (Some(via), Some(_)) = (&via, &tls) {
            tunnel(&mut tcp, host, port, via).await?;
        }
        match tls {
            None => Ok(Stream::Plain(tcp)),
            Some(tls) => {
                let stream = TlsConnector::from(tls.config)
                    .connect(tls.server_name, tcp)
                    .await?;
                Ok(Stream::Tls(Box::new(stream)))
            }
        }
    }
}

/// `host:port`, an IPv6 host in brackets (Go's `net.JoinHostPort`).
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Asks the proxy for a tunnel to `host:port` and reads its answer; anything but 200 fails
/// with the answer's reason, as Go's transport words it.
async fn tunnel(tcp: &mut TcpStream, host: &str, port: u16, via: &Via<'_>) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = join_host_port(host, port);
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = &via.route.authorization {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str(via.connect_head);
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await?;
    // Byte by byte: nothing of the tunnel's own traffic may be read here.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Err(io::Error::other("proxy response head too large"));
        }
        let mut byte = [0u8];
        if tcp.read(&mut byte).await? == 0 {
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
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
