//! The fetcher against in-test servers: redirects, kept-alive connections, gzip limits.

use super::*;

#[test]
fn redirect_locations_resolve_like_a_browser() {
    for (url, location, want) in [
        ("http://h:1/metrics", "http://o:2/x", "http://o:2/x"),
        ("http://h:1/metrics", "/other?a=b", "http://h:1/other?a=b"),
        ("http://h:1/a/metrics?x=1", "next", "http://h:1/a/next"),
        ("http://h:1/metrics", "next", "http://h:1/next"),
        ("http://h:1", "next", "http://h:1/next"),
    ] {
        assert_eq!(resolve_location(url, location), want, "{url} + {location}");
    }
}

/// The next request head on a test server's connection, read byte by byte; None once the
/// client has closed it.
pub(crate) async fn read_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8(head).expect("a UTF-8 request head"))
}

/// A server that answers `per_connection` requests on each connection it accepts, then
/// closes it without warning, as a server's idle timeout does; `/moved` redirects to `/`,
/// `/broken` is a 500. Answers with the number of connections accepted so far.
pub(super) async fn flaky_server(
    per_connection: usize,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                for _ in 0..per_connection {
                    let Some(head) = read_head(&mut stream).await else {
                        return;
                    };
                    let reply = if head.starts_with("GET /moved ") {
                        "HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n".to_owned()
                    } else if head.starts_with("GET /broken ") {
                        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_owned()
                    } else {
                        let host = head.lines().find_map(|l| l.strip_prefix("Host: ")).unwrap();
                        let body = format!("m{{host=\"{host}\"}} 1\n");
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    stream.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn connections_are_reused_and_replaced_when_the_server_closed_them() {
    use std::sync::atomic::Ordering;
    let (addr, accepted) = flaky_server(2).await;
    let fetcher = Fetcher::default();
    let client = HttpClient::default();
    let url = format!("http://{addr}/metrics");
    for i in 0..5 {
        let got = fetcher
            .fetch(&client, &url, Duration::from_secs(5), 0)
            .await;
        let body = got.unwrap_or_else(|e| panic!("fetch {i}: {e}")).body;
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!("m{{host=\"{addr}\"}} 1\n")
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "two requests per connection"
    );
    let moved = fetcher
        .fetch(
            &client,
            &format!("http://{addr}/moved"),
            Duration::from_secs(5),
            0,
        )
        .await;
    assert!(moved.is_ok(), "{:?}", moved.err());
    let broken = fetcher
        .fetch(
            &client,
            &format!("http://{addr}/broken"),
            Duration::from_secs(5),
            0,
        )
        .await;
    assert_eq!(
        broken.err(),
        Some(FetchError::Status("500 Internal Server Error".into()))
    );
    let refused = fetcher
        .fetch(
            &client,
            "ftp://127.0.0.1:1/metrics",
            Duration::from_secs(5),
            0,
        )
        .await;
    let refused = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused.contains("unsupported protocol scheme"), "{refused}");
}

#[test]
fn gzip_bodies_are_limited_after_decompression() {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b'a'; 10_000]).unwrap();
    let compressed = enc.finish().unwrap();
    assert!(compressed.len() < 1000);
    assert_eq!(gunzip(&compressed, 0).unwrap().len(), 10_000);
    assert_eq!(gunzip(&compressed, 10_000).unwrap().len(), 10_000);
    assert_eq!(
        gunzip(&compressed, 9_999),
        Err(FetchError::BodyTooLarge(9_999))
    );
}
