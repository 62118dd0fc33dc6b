//! One HTTP scrape: GET with Prometheus' headers, a deadline, gzip, and a body size limit.
//!
//! The limit counts decompressed bytes, as Prometheus does, so a small gzip bomb cannot blow past
//! it; the body is read frame by frame and the scrape fails as soon as the limit is crossed.
//! Redirects are followed (up to 10, as Go's client does), since Prometheus' default
//! `follow_redirects: true` is what every existing configuration expects.
//!
//! Bodies are read into buffers from a pool shared by all scrape loops, handed back after the
//! scrape is ingested (as Prometheus' scrape pool does): a fresh buffer per scrape made the
//! allocator return memory to the kernel and fault it in again, scrape after scrape.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;

/// What Prometheus 2.x sends: OpenMetrics preferred, then the classic text format.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// Go's client gives up after ten redirects.
const MAX_REDIRECTS: usize = 10;
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

/// Buffers kept for reuse: about as many as scrapes run at once.
const POOLED_BUFFERS: usize = 16;
/// A buffer that grew past this (one huge target) goes back to the allocator.
const POOLED_BUFFER_BYTES: usize = 16 << 20;

/// A scraped exposition, still undecoded text. Hand the body back with [`Fetcher::recycle`].
pub struct Exposition {
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The shared HTTP client of all scrape loops (connection reuse across scrapes of a target).
#[derive(Clone)]
pub struct Fetcher {
    client: Client<HttpConnector, Empty<Bytes>>,
    buffers: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Default for Fetcher {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Fetcher {
            client,
            buffers: Arc::default(),
        }
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

    /// Takes back a body once it has been ingested, for a later scrape to read into.
    pub fn recycle(&self, mut body: Vec<u8>) {
        if body.capacity() == 0 || body.capacity() > POOLED_BUFFER_BYTES {
            return;
        }
        body.clear();
        let mut buffers = self.buffers.lock();
        if buffers.len() < POOLED_BUFFERS {
            buffers.push(body);
        }
    }

    async fn fetch_inner(
        &self,
        url: &str,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<Exposition, FetchError> {
        let mut url = url.to_owned();
        let mut redirects = 0;
        let response = loop {
            let response = self.get(&url, timeout).await?;
            let Some(location) = redirect_location(&response) else {
                break response;
            };
            let next = resolve_location(&url, location);
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(FetchError::Transport(format!(
                    "Get {url:?}: stopped after {MAX_REDIRECTS} redirects"
                )));
            }
            url = next;
        };
        let buffer = self.buffers.lock().pop().unwrap_or_default();
        read_body(response, body_limit, buffer).await
    }

    async fn get(&self, url: &str, timeout: Duration) -> Result<Response<Incoming>, FetchError> {
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
        self.client
            .request(request)
            .await
            .map_err(|e| FetchError::Transport(transport_message(url, &e)))
    }
}

/// The `Location` of a redirect response, or None for any other response.
fn redirect_location(response: &Response<Incoming>) -> Option<&str> {
    if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    response.headers().get(header::LOCATION)?.to_str().ok()
}

/// Resolves a `Location` against the URL that answered with it.
fn resolve_location(url: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let origin_end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    if location.starts_with('/') {
        return format!("{}{location}", &url[..origin_end]);
    }
    let path_end = url.find('?').unwrap_or(url.len());
    let dir_end = url[..path_end]
        .rfind('/')
        .map_or(origin_end, |i| i + 1)
        .max(origin_end);
    let sep = if dir_end == origin_end { "/" } else { "" };
    format!("{}{sep}{location}", &url[..dir_end])
}

async fn read_body(
    response: Response<Incoming>,
    body_limit: u64,
    mut raw: Vec<u8>,
) -> Result<Exposition, FetchError> {
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
    // Size the buffer once from Content-Length (bounded by the limit) instead of regrowing it.
    let announced = hyper::body::Body::size_hint(&body).lower();
    let capacity = match body_limit {
        0 => announced,
        limit => announced.min(limit),
    };
    raw.clear();
    raw.reserve(capacity.min(1 << 30) as usize);
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
    let body = if gzip { gunzip(&raw, body_limit)? } else { raw };
    Ok(Exposition { content_type, body })
}

fn gunzip(raw: &[u8], body_limit: u64) -> Result<Vec<u8>, FetchError> {
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
    Ok(out)
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

#[cfg(test)]
mod tests {
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
}
