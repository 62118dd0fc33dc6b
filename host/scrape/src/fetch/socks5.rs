//! The client side of a SOCKS5 `CONNECT` (RFC 1928) with username/password authentication
//! (RFC 1929), as Go's transport speaks it for a `socks5://` proxy: no authentication offered
//! unless the proxy URL has a user, then both "none" and username/password; names are sent to
//! the proxy unresolved (the proxy resolves them, so `socks5` and `socks5h` behave alike); and
//! failures worded as Go's `x/net/internal/socks` words them, e.g. `socks connect tcp
//! 127.0.0.1:1080->node:9100: username/password authentication failed`, so a target's
//! `lastError` reads as in Prometheus.
//!
//! Only the handshake lives here: afterwards the stream is the tunnel, and TLS (for https
//! targets) and HTTP run over it as over a direct connection.

use std::io;
use std::net::IpAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::stream::join_host_port;

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0x00;
const USERNAME_PASSWORD: u8 = 0x02;
const NO_ACCEPTABLE_METHODS: u8 = 0xff;
const USERNAME_PASSWORD_VERSION: u8 = 0x01;
const CONNECT: u8 = 0x01;
const ADDRESS_IPV4: u8 = 0x01;
const ADDRESS_FQDN: u8 = 0x03;
const ADDRESS_IPV6: u8 = 0x04;

/// The credentials of a proxy URL's user (an unset password is empty, as in Go).
pub(crate) struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// Asks the proxy at `proxy` (its address, for messages) on `stream` for a tunnel to
/// `host:port`.
pub(crate) async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    proxy: &str,
    host: &str,
    port: u16,
    credentials: Option<Credentials<'_>>,
) -> io::Result<()> {
    handshake(stream, host, port, credentials)
        .await
        .map_err(|why| {
            let target = join_host_port(host, port);
            io::Error::new(
                why.kind(),
                format!("socks connect tcp {proxy}->{target}: {why}"),
            )
        })
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    port: u16,
    credentials: Option<Credentials<'_>>,
) -> io::Result<()> {
    let greeting: &[u8] = match credentials {
        None => &[VERSION, 1, NO_AUTH],
        Some(_) => &[VERSION, 2, NO_AUTH, USERNAME_PASSWORD],
    };
    stream.write_all(greeting).await?;
    let mut chosen = [0u8; 2];
    read_exact(stream, &mut chosen).await?;
    if chosen[0] != VERSION {
        return Err(failure(format!(
            "unexpected protocol version {}",
            chosen[0]
        )));
    }
    match (chosen[1], &credentials) {
        (NO_AUTH, _) => {}
        (NO_ACCEPTABLE_METHODS, _) => {
            return Err(failure("no acceptable authentication methods"));
        }
        (USERNAME_PASSWORD, Some(credentials)) => authenticate(stream, credentials).await?,
        (method, _) => {
            return Err(failure(format!(
                "unsupported authentication method {method}"
            )));
        }
    }
    let mut request = vec![VERSION, CONNECT, 0];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            request.push(ADDRESS_IPV4);
            request.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            request.push(ADDRESS_IPV6);
            request.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let name = u8::try_from(host.len()).map_err(|_| failure("FQDN too long"))?;
            request.push(ADDRESS_FQDN);
            request.push(name);
            request.extend_from_slice(host.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&request).await?;
    let mut reply = [0u8; 4];
    read_exact(stream, &mut reply).await?;
    if reply[0] != VERSION {
        return Err(failure(format!("unexpected protocol version {}", reply[0])));
    }
    if reply[1] != 0 {
        return Err(failure(format!("unknown error {}", reply_text(reply[1]))));
    }
    if reply[2] != 0 {
        return Err(failure("non-zero reserved field"));
    }
    // The address the proxy bound, which nothing here needs, then the port.
    let bound = match reply[3] {
        ADDRESS_IPV4 => 4,
        ADDRESS_IPV6 => 16,
        ADDRESS_FQDN => {
            let mut len = [0u8];
            read_exact(stream, &mut len).await?;
            usize::from(len[0])
        }
        other => return Err(failure(format!("unknown address type {other}"))),
    };
    let mut rest = vec![0u8; bound + 2];
    read_exact(stream, &mut rest).await
}

/// RFC 1929's sub-negotiation.
async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    credentials: &Credentials<'_>,
) -> io::Result<()> {
    let (user, password) = (
        credentials.username.as_bytes(),
        credentials.password.as_bytes(),
    );
    if user.is_empty() || user.len() > 255 || password.len() > 255 {
        return Err(failure("invalid username/password"));
    }
    let mut request = vec![USERNAME_PASSWORD_VERSION, user.len() as u8];
    request.extend_from_slice(user);
    request.push(password.len() as u8);
    request.extend_from_slice(password);
    stream.write_all(&request).await?;
    let mut status = [0u8; 2];
    read_exact(stream, &mut status).await?;
    if status != [USERNAME_PASSWORD_VERSION, 0] {
        return Err(failure("username/password authentication failed"));
    }
    Ok(())
}

/// Reads exactly `buf.len()` bytes; a proxy that hangs up early reads as Go's `EOF`.
async fn read_exact<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> io::Result<()> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF"))
        }
        Err(e) => Err(e),
    }
}

fn failure(why: impl Into<String>) -> io::Error {
    io::Error::other(why.into())
}

/// RFC 1928's reply codes as Go names them.
fn reply_text(code: u8) -> String {
    match code {
        1 => "general SOCKS server failure".into(),
        2 => "connection not allowed by ruleset".into(),
        3 => "network unreachable".into(),
        4 => "host unreachable".into(),
        5 => "connection refused".into(),
        6 => "TTL expired".into(),
        7 => "command not supported".into(),
        8 => "address type not supported".into(),
        other => format!("unknown code: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the handshake against a scripted proxy: `answers` are written after each read of
    /// the client's next message; returns what the client sent and the handshake's result.
    async fn against(
        credentials: Option<Credentials<'_>>,
        host: &str,
        answers: &[&[u8]],
    ) -> (Vec<u8>, Result<(), String>) {
        let answers: Vec<Vec<u8>> = answers.iter().map(|a| a.to_vec()).collect();
        let (mut client, mut proxy) = tokio::io::duplex(1024);
        let proxy = tokio::spawn(async move {
            let mut sent = Vec::new();
            for answer in answers {
                let mut buf = [0u8; 512];
                let n = proxy.read(&mut buf).await.unwrap();
                sent.extend_from_slice(&buf[..n]);
                proxy.write_all(&answer).await.unwrap();
            }
            sent
        });
        let result = connect(&mut client, "127.0.0.1:1080", host, 9100, credentials).await;
        drop(client);
        (proxy.await.unwrap(), result.map_err(|e| e.to_string()))
    }

    fn with_user() -> Option<Credentials<'static>> {
        Some(Credentials {
            username: "scraper",
            password: "pw",
        })
    }

    #[tokio::test]
    async fn connects_by_name_with_credentials() {
        let (sent, result) = against(
            with_user(),
            "node",
            &[&[5, 2], &[1, 0], &[5, 0, 0, 1, 127, 0, 0, 1, 0x23, 0x8c]],
        )
        .await;
        assert_eq!(result, Ok(()));
        let mut want = vec![5, 2, 0, 2, 1, 7];
        want.extend_from_slice(b"scraper");
        want.extend_from_slice(&[2, b'p', b'w', 5, 1, 0, 3, 4]);
        want.extend_from_slice(b"node");
        want.extend_from_slice(&9100u16.to_be_bytes());
        assert_eq!(sent, want);
    }

    #[tokio::test]
    async fn failures_read_as_go_words_them() {
        let at = "socks connect tcp 127.0.0.1:1080->127.0.0.1:9100";
        for (credentials, answers, why) in [
            (
                with_user(),
                &[&[5u8, 2][..], &[1, 1]][..],
                "username/password authentication failed",
            ),
            (
                None,
                &[&[5, 0xff][..]][..],
                "no acceptable authentication methods",
            ),
            (
                None,
                &[&[5, 2][..]][..],
                "unsupported authentication method 2",
            ),
            (None, &[&[4, 0][..]][..], "unexpected protocol version 4"),
            (
                None,
                &[&[5, 0][..], &[5, 5, 0, 1]][..],
                "unknown error connection refused",
            ),
            (
                None,
                &[&[5, 0][..], &[5, 0x2a, 0, 1]][..],
                "unknown error unknown code: 42",
            ),
            (None, &[&[5][..]][..], "EOF"),
        ] {
            let (_, result) = against(credentials, "127.0.0.1", answers).await;
            assert_eq!(result, Err(format!("{at}: {why}")));
        }
    }
}
