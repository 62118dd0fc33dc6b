use super::*;

use tokio::net::TcpListener;

/// A server that answers each request on its first connection with the next canned bytes, then
/// closes the connection; the request heads it read, in order.
async fn serve(replies: Vec<Vec<u8>>) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut requests = Vec::new();
        for reply in replies {
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8];
                if stream.read(&mut byte).await.unwrap() == 0 {
                    return requests;
                }
                head.push(byte[0]);
            }
            requests.push(String::from_utf8(head).unwrap());
            stream.write_all(&reply).await.unwrap();
        }
        requests
    });
    (port, task)
}

async fn get(
    connection: &mut Connection,
    limit: u64,
) -> Result<(ResponseHead, Vec<u8>), HttpError> {
    let head = connection
        .exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", None)
        .await?;
    let mut body = b"kept".to_vec();
    connection.read_body(head.framing, limit, &mut body).await?;
    assert!(body.starts_with(b"kept"), "the body is appended");
    body.drain(..4);
    Ok((head, body))
}

#[tokio::test]
async fn bodies_in_every_framing() {
    let cases: &[(&str, &[u8], &[u8], bool)] = &[
        (
            "content-length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
            b"hello",
            true,
        ),
        (
            "chunked, extensions and trailers",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nhel\r\nA\r\nlo, world!\r\n0\r\nX-Trailer: t\r\n\r\n",
            b"hello, world!",
            true,
        ),
        (
            "until close",
            b"HTTP/1.1 200 OK\r\n\r\nall of it",
            b"all of it",
            false,
        ),
        (
            "informational response first",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            b"ok",
            true,
        ),
        (
            "connection: close",
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
            b"ok",
            false,
        ),
        (
            "HTTP/1.0",
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
            b"ok",
            false,
        ),
        (
            "no body for 204",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"",
            true,
        ),
    ];
    for &(name, reply, want, keep_alive) in cases {
        let (port, _server) = serve(vec![reply.to_vec()]).await;
        let mut connection = Connection::new(
            Stream::connect("127.0.0.1", port, None, None)
                .await
                .unwrap(),
        );
        let (head, body) = get(&mut connection, 0).await.expect(name);
        assert_eq!(body, want, "{name}");
        assert_eq!(head.keep_alive, keep_alive, "{name}");
    }
}

#[tokio::test]
async fn a_kept_alive_connection_carries_the_next_request() {
    let reply = |body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let (port, server) = serve(vec![reply("first"), reply("second")]).await;
    let mut connection = Connection::new(
        Stream::connect("127.0.0.1", port, None, None)
            .await
            .unwrap(),
    );
    assert_eq!(get(&mut connection, 0).await.unwrap().1, b"first");
    assert_eq!(get(&mut connection, 0).await.unwrap().1, b"second");
    let stale = get(&mut connection, 0).await.unwrap_err();
    assert!(stale.is_stale_connection(), "{stale}");
    assert_eq!(server.await.unwrap().len(), 2);
}

#[tokio::test]
async fn bad_responses_are_refused() {
    let cases: &[(&str, &[u8], u64, &str)] = &[
        ("garbage", b"SSH-2.0-OpenSSH\r\n\r\n", 0, "malformed HTTP response"),
        (
            "bad chunk size",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            0,
            "invalid chunk size line \"zz\"",
        ),
        (
            "chunk without CRLF",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            0,
            "chunk not followed by CRLF",
        ),
        (
            "short body",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            0,
            "connection closed in the body",
        ),
        (
            "conflicting lengths",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            0,
            "conflicting Content-Length",
        ),
        (
            "announced length over the limit",
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
            10,
            "body size limit exceeded (10 bytes)",
        ),
        (
            "chunks over the limit",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
            10,
            "body size limit exceeded (10 bytes)",
        ),
        (
            "read until close, over the limit",
            b"HTTP/1.1 200 OK\r\n\r\nhello world",
            10,
            "body size limit exceeded (10 bytes)",
        ),
        ("nothing at all", b"", 0, "closed the connection before responding"),
    ];
    for &(name, reply, limit, want) in cases {
        let (port, _server) = serve(vec![reply.to_vec()]).await;
        let mut connection = Connection::new(
            Stream::connect("127.0.0.1", port, None, None)
                .await
                .unwrap(),
        );
        let err = get(&mut connection, limit).await.expect_err(name);
        assert!(err.to_string().contains(want), "{name}: {err}");
    }
}

#[test]
fn chunk_size_lines() {
    for (line, want) in [
        (&b"0"[..], Some(0)),
        (b"1a", Some(26)),
        (b"FF ; name=value", Some(255)),
        (b"", None),
        (b"-1", None),
        (b"+1", None),
        (b"1234567890abcdef0", None),
    ] {
        assert_eq!(
            chunk_size(line),
            want,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}
