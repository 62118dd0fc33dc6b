//! One HTTP scrape: GET with Prometheus' headers, a deadline, gzip, and a body size limit.
//!
//! The limit counts decompressed bytes, as Prometheus does, so a small gzip bomb cannot blow past
//! it; the body is read frame by frame and the scrape fails as soon as the limit is crossed.

use std::io::Read;
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// What Prometheus 2.x sends: OpenMetrics preferred, then the classic text format.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const USER_AGENT: &str = concat!("wasmfed/", env!("CARGO_PKG_VERSION"));

/// Why a scrape produced no exposition to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("server returned HTTP status {0}")]
    Status(String),
    #[error("scrape timed out after {0:?}")]
    Timeout(Duration),
    #[error("body size limit exceeded ({0} bytes)")]
    BodyTooLarge(u64),
    #[error("{0}")]
    Transport(String),
    #[error("decoding gzip body: {0}")]
    Gzip(String),
}

/// A scraped exposition, still undecoded text.
pub struct Exposition {
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// The shared HTTP client of all scrape loops (connection reuse across scrapes of a target).
#[derive(Clone)]
pub struct Fetcher {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Default for Fetcher {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Fetcher { client }
    }
}

impl Fetcher {
    /// Scrapes `url`. `body_limit` of 0 means no limit.
    pub async fn fetch(
        &self,
        url: &str,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<Exposition, FetchError> {
        match tokio::time::timeout(timeout, self.fetch_inner(url, timeout, body_limit)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(timeout)),
        }
    }

    async fn fetch_inner(
        &self,
        url: &str,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<Exposition, FetchError> {
        let request = Request::get(url)
            .header(header::ACCEPT, ACCEPT)
            .header(header::ACCEPT_ENCODING, "gzip")
            .header(header::USER_AGENT, USER_AGENT)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", timeout.as_secs_f64()),
            )
            .body(Empty::new())
            .map_err(|e| FetchError::Transport(format!("building request for {url}: {e}")))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| FetchError::Transport(transport_message(url, &e)))?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(FetchError::Status(status_text(status)));
        }
        let headers = response.headers();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let gzip = headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
        let mut body = response.into_body();
        let mut raw = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| FetchError::Transport(format!("reading body: {e}")))?;
            if let Ok(mut data) = frame.into_data() {
                // Compressed bytes can't exceed the decompressed limit either.
                if body_limit > 0 && (raw.len() + data.remaining()) as u64 > body_limit {
                    return Err(FetchError::BodyTooLarge(body_limit));
                }
                while data.has_remaining() {
                    let chunk = data.chunk();
                    raw.extend_from_slice(chunk);
                    let n = chunk.len();
                    data.advance(n);
                }
            }
        }
        let body = if gzip {
            gunzip(&raw, body_limit)?
        } else {
            Bytes::from(raw)
        };
        Ok(Exposition { content_type, body })
    }
}

fn gunzip(raw: &[u8], body_limit: u64) -> Result<Bytes, FetchError> {
    let decoder = flate2::read::GzDecoder::new(raw);
    let mut out = Vec::with_capacity(raw.len() * 4);
    let cap = if body_limit > 0 {
        body_limit + 1
    } else {
        u64::MAX
    };
    decoder
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| FetchError::Gzip(e.to_string()))?;
    if body_limit > 0 && out.len() as u64 > body_limit {
        return Err(FetchError::BodyTooLarge(body_limit));
    }
    Ok(Bytes::from(out))
}

/// `500 Internal Server Error`, as Go's `resp.Status` reads.
fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {}", status.as_u16(), reason),
        None => status.as_u16().to_string(),
    }
}

/// The innermost cause of a client error is the useful part ("connection refused").
fn transport_message(url: &str, err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("Get {url:?}: {cause}")
}
