//! Requests answered in the server's own words whatever the status, for the caller to decide
//! what a status means: a remote-write receiver's (retry or drop), a wasmfed node's admin API,
//! a Docker Engine's, which also says its API version in a header (`Api-Version`, on
//! `HEAD /_ping` too) and why it refused in the body of an error answer.

use std::time::Duration;

use super::{Ask, Exposition, FetchError, Fetcher, HttpClient};

/// An answer whatever its status, and what it said: a remote-write receiver's, an API's.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The method of an API request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiMethod {
    Get,
    /// Its answer's body is empty, whatever the answer's length says.
    Head,
}

/// An API's answer, whatever its status.
#[derive(Debug)]
pub struct ApiAnswer {
    pub status: u16,
    /// The value of the header the request asked for, if the answer had it.
    pub header: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Fetcher {
    /// POSTs a remote-write request (`body`: a snappy-compressed `WriteRequest`) with
    /// `headers` (complete `Name: value\r\n` lines) and returns the receiver's answer, whatever
    /// its status: the caller decides what a status means (retry, drop). At most 64 KiB of
    /// the answer's body is kept.
    pub async fn remote_write(
        &self,
        client: &HttpClient,
        url: &str,
        body: bytes::Bytes,
        headers: String,
        timeout: Duration,
    ) -> Result<HttpAnswer, FetchError> {
        let ask = Ask::RemoteWrite { body, headers };
        let fetched = self.answer(client, url, ask, timeout, 64 << 10).await?;
        Ok(HttpAnswer {
            status: fetched.status,
            body: fetched.exposition.body,
        })
    }

    /// GETs an API's answer whatever its status, for the caller to show what an error answer
    /// says (`wasmfed plugin record` asking a node's admin API). At most `body_limit` bytes.
    pub async fn api_get(
        &self,
        client: &HttpClient,
        url: &str,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<HttpAnswer, FetchError> {
        let ask = Ask::Api {
            method: ApiMethod::Get,
            capture: None,
        };
        let fetched = self.answer(client, url, ask, timeout, body_limit).await?;
        Ok(HttpAnswer {
            status: fetched.status,
            body: fetched.exposition.body,
        })
    }

    /// Sends `method` to `url` with `client`'s credentials and redirect policy and returns
    /// the answer whatever its status, with the value of the response header `header` names.
    /// `body_limit` of 0 means no limit.
    pub async fn api_request(
        &self,
        client: &HttpClient,
        url: &str,
        method: ApiMethod,
        header: Option<&str>,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<ApiAnswer, FetchError> {
        let ask = Ask::Api {
            method,
            capture: header,
        };
        let fetched = self.answer(client, url, ask, timeout, body_limit).await?;
        let Exposition { content_type, body } = fetched.exposition;
        Ok(ApiAnswer {
            status: fetched.status,
            header: fetched.captured,
            content_type,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::tests::read_head;
    use crate::fetch::Transport;
    use tokio::io::AsyncWriteExt;

    /// A server on a Unix socket that answers every request with `Api-Version: 1.40`, a body
    /// of its request line (empty for HEAD, whose answer still claims a length), keeping the
    /// connection open; the request heads it read.
    async fn unix_server(
        path: &std::path::Path,
    ) -> std::sync::Arc<parking_lot::Mutex<Vec<String>>> {
        let listener = tokio::net::UnixListener::bind(path).unwrap();
        let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            while let Some(head) = read_head(&mut stream).await {
                let line = head.lines().next().unwrap_or_default().to_owned();
                let body = if line.starts_with("HEAD ") { "" } else { &line };
                let reply = format!(
                    "HTTP/1.1 404 Not Found\r\nApi-Version: 1.40\r\nContent-Length: {}\r\n\r\n{body}",
                    line.len()
                );
                log.lock().push(head);
                stream.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        seen
    }

    #[tokio::test]
    async fn head_and_get_over_a_unix_socket_keep_the_asked_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.sock");
        let seen = unix_server(&path).await;
        let client = HttpClient::with_transport(&Default::default(), Transport::Unix(path));
        let fetcher = Fetcher::default();
        let second = Duration::from_secs(5);
        for (method, url, body) in [
            (ApiMethod::Head, "http://docker/_ping", ""),
            (
                ApiMethod::Get,
                "http://docker/v1.40/networks",
                "GET /v1.40/networks HTTP/1.1",
            ),
        ] {
            let answer = fetcher
                .api_request(&client, url, method, Some("API-Version"), second, 0)
                .await
                .unwrap();
            assert_eq!(answer.status, 404, "any status is an answer");
            assert_eq!(answer.header.as_deref(), Some("1.40"));
            assert_eq!(String::from_utf8(answer.body).unwrap(), body);
        }
        let seen = seen.lock();
        assert_eq!(seen.len(), 2, "both on one kept-alive connection");
        assert!(seen[0].starts_with("HEAD /_ping HTTP/1.1\r\nHost: docker\r\n"));
        assert!(seen[1].starts_with("GET /v1.40/networks HTTP/1.1\r\nHost: docker\r\n"));
    }

    #[tokio::test]
    async fn a_missing_socket_is_a_dial_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.sock");
        let client = HttpClient::with_transport(&Default::default(), Transport::Unix(path.clone()));
        let err = Fetcher::default()
            .api_request(
                &client,
                "http://docker/_ping",
                ApiMethod::Get,
                None,
                Duration::from_secs(5),
                0,
            )
            .await
            .unwrap_err()
            .to_string();
        let want = format!("dial unix {}: connect: ", path.display());
        assert!(err.contains(&want), "{err}");
    }
}
