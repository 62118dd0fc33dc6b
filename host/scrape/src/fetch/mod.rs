//! One HTTP scrape: GET with Prometheus' headers, a deadline, gzip, and a body size limit.
//!
//! The limit counts decompressed bytes, as Prometheus does, so a small gzip bomb cannot blow past
//! it; the body is read as it arrives and the scrape fails as soon as the limit is crossed.
//! Redirects are followed (up to 10, as Go's client does), since Prometheus' default
//! `follow_redirects: true` is what every existing configuration expects.
//!
//! Bodies are read into buffers from a pool shared by all scrape loops, handed back after the
//! scrape is ingested (as Prometheus' scrape pool does): a fresh buffer per scrape made the
//! allocator return memory to the kernel and fault it in again, scrape after scrape.
//! Connections are kept alive between scrapes of a target and driven by the scrape itself
//! ([`http1`]); one the server has closed meanwhile is replaced and the GET sent again. https
//! runs the same exchange over rustls ([`stream`], [`tls`]); each job's credentials and TLS
//! settings are its [`HttpClient`], and connections are pooled per client, so two jobs with
//! different certificates never share one. A client may reach its server over a Unix domain
//! socket instead of TCP ([`Transport`]); the exchange on top is the same.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{StatusCode, Uri};
use parking_lot::Mutex;

use self::http1::{Connection, HttpError, ResponseHead};
use self::request::{Ask, Endpoint};
pub(crate) use self::stream::join_host_port;
use self::stream::Stream;
use wasmfed_config::{NameRules, ProxyScheme};

pub use self::api::{ApiAnswer, ApiMethod, HttpAnswer};
pub use self::client::{HttpClient, Transport};
pub use self::streamed::BodyStream;

mod api;
mod client;
mod http1;
#[cfg(test)]
mod https_tests;
mod oauth2;
mod proxy;
mod request;
mod socks5;
mod stream;
mod streamed;
mod tls;

/// Go's client gives up after ten redirects.
const MAX_REDIRECTS: usize = 10;
const USER_AGENT: &str = concat!("wasmfed/", env!("CARGO_PKG_VERSION"));
/// Kept-alive connections unused this long are closed (Go's transport: 90 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

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

impl FetchError {
    /// The HTTP status of a [`FetchError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status(text) => text.split(' ').next()?.parse().ok(),
            _ => None,
        }
    }
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

/// The shared HTTP client of all scrape loops: kept-alive connections by `host:port`, reused
/// by the next scrape of the same target, and body buffers.
#[derive(Clone, Default)]
pub struct Fetcher {
    idle: Arc<Mutex<IdleConnections>>,
    buffers: Arc<Mutex<Vec<Vec<u8>>>>,
}

#[derive(Default)]
struct IdleConnections {
    by_address: HashMap<String, Vec<(Connection, Instant)>>,
    last_sweep: Option<Instant>,
}

impl IdleConnections {
    fn take(&mut self, address: &str) -> Option<Connection> {
        let idle = self.by_address.get_mut(address)?;
        while let Some((connection, since)) = idle.pop() {
            if since.elapsed() < IDLE_TIMEOUT {
                return Some(connection);
            }
        }
        None
    }

    /// Keeps `connection` for the next request to `address`; closes connections left idle
    /// too long (targets gone, longer intervals), looking at most every few seconds.
    fn put(&mut self, address: String, connection: Connection) {
        let now = Instant::now();
        self.by_address
            .entry(address)
            .or_default()
            .push((connection, now));
        if self
            .last_sweep
            .is_none_or(|at| now - at > IDLE_TIMEOUT / 16)
        {
            self.last_sweep = Some(now);
            self.by_address.retain(|_, idle| {
                idle.retain(|(_, since)| now - *since < IDLE_TIMEOUT);
                !idle.is_empty()
            });
        }
    }
}

/// What [`Fetcher::fetch_inner`] got: the final response's status, the header the request
/// asked to capture, and the body.
struct Fetched {
    status: u16,
    captured: Option<String>,
    exposition: Exposition,
}

impl Fetcher {
    /// Scrapes `url` with `client`'s credentials and TLS settings, asking for the formats as
    /// Prometheus 2.42 does. `body_limit` of 0 means no limit.
    pub async fn fetch(
        &self,
        client: &HttpClient,
        url: &str,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<Exposition, FetchError> {
        let accept = NameRules::V2.accept_header();
        self.fetch_accepting(client, url, &accept, timeout, body_limit)
            .await
    }

    /// [`Self::fetch`] with the job's own `Accept` header ([`NameRules::accept_header`]).
    pub async fn fetch_accepting(
        &self,
        client: &HttpClient,
        url: &str,
        accept: &str,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<Exposition, FetchError> {
        let ask = Ask::Scrape { timeout, accept };
        self.get(client, url, ask, timeout, body_limit).await
    }

    /// Fetches an HTTP service discovery document (`http_sd_configs`) as Prometheus asks for
    /// one: `Accept: application/json` and the refresh interval in a header.
    pub async fn fetch_discovery(
        &self,
        client: &HttpClient,
        url: &str,
        refresh: Duration,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<Exposition, FetchError> {
        self.get(client, url, Ask::Discovery { refresh }, timeout, body_limit)
            .await
    }

    /// GETs a JSON document from an API (a Kubernetes API server's LIST), asking for JSON
    /// only.
    pub async fn fetch_json(
        &self,
        client: &HttpClient,
        url: &str,
        timeout: Duration,
    ) -> Result<Exposition, FetchError> {
        self.get(client, url, Ask::Json, timeout, 0).await
    }

    /// POSTs a remote-read request (`body`: a snappy-compressed `ReadRequest`) and reads the
    /// streamed answer.
    pub async fn remote_read(
        &self,
        client: &HttpClient,
        url: &str,
        body: Vec<u8>,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<Exposition, FetchError> {
        let ask = Ask::RemoteRead { body, timeout };
        self.get(client, url, ask, timeout, body_limit).await
    }

    /// POSTs a form (an OAuth 2.0 token request) and reads the answer.
    pub(crate) async fn post_form(
        &self,
        client: &HttpClient,
        url: &str,
        form: String,
        timeout: Duration,
    ) -> Result<Exposition, FetchError> {
        let ask = Ask::Post {
            content_type: "application/x-www-form-urlencoded",
            body: form,
        };
        self.get(client, url, ask, timeout, 0).await
    }

    /// POSTs a JSON document (alerts to an Alertmanager) with `client`'s credentials and TLS
    /// settings; any 2xx answer is success, as for Prometheus' notifier.
    pub async fn post_json(
        &self,
        client: &HttpClient,
        url: &str,
        body: String,
        timeout: Duration,
    ) -> Result<Exposition, FetchError> {
        let ask = Ask::Post {
            content_type: "application/json",
            body,
        };
        self.get(client, url, ask, timeout, 1 << 20).await
    }

    async fn get(
        &self,
        client: &HttpClient,
        url: &str,
        ask: Ask<'_>,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<Exposition, FetchError> {
        let fetched = self.answer(client, url, ask, timeout, body_limit).await?;
        Ok(fetched.exposition)
    }

    /// `ask`'s answer within `timeout` (whatever its status for the asks that take any).
    async fn answer(
        &self,
        client: &HttpClient,
        url: &str,
        ask: Ask<'_>,
        timeout: Duration,
        body_limit: u64,
    ) -> Result<Fetched, FetchError> {
        let answer = self.fetch_inner(client, url, ask, body_limit);
        tokio::time::timeout(timeout, answer)
            .await
            .map_err(|_| FetchError::Timeout(timeout))?
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
        client: &HttpClient,
        url: &str,
        ask: Ask<'_>,
        body_limit: u64,
    ) -> Result<Fetched, FetchError> {
        let mut url = url.to_owned();
        let mut redirects = 0;
        loop {
            let uri: Uri = url.parse().map_err(|e| transport_error(&url, e))?;
            let endpoint = Endpoint::parse(&url, &uri)?;
            let (mut connection, mut head, pool_key) = self
                .exchange(client, &endpoint, &ask)
                .await
                .map_err(|e| transport_error(&url, e))?;
            if let Ask::Api {
                method: ApiMethod::Head,
                ..
            } = ask
            {
                // An answer to HEAD has no body, whatever its length says.
                head.framing = http1::Framing::Length(0);
            }
            let location = redirect_location(&head).filter(|_| client.follow_redirects());
            if let Some(location) = location {
                let next = resolve_location(&url, location);
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(transport_error(
                        &url,
                        format!("stopped after {MAX_REDIRECTS} redirects"),
                    ));
                }
                url = next;
                continue;
            }
            let accepted = match ask {
                Ask::Post { .. } => (200..300).contains(&head.status),
                Ask::RemoteWrite { .. } | Ask::Api { .. } => true,
                _ => head.status == 200,
            };
            if !accepted {
                return Err(FetchError::Status(status_text(head.status)));
            }
            let mut raw = self.buffers.lock().pop().unwrap_or_default();
            raw.clear();
            match connection
                .read_body(head.framing, body_limit, &mut raw)
                .await
            {
                Ok(()) => {}
                Err(HttpError::BodyTooLarge(limit)) => return Err(FetchError::BodyTooLarge(limit)),
                Err(e) => return Err(transport_error(&url, format!("reading body: {e}"))),
            }
            if head.keep_alive {
                self.idle.lock().put(pool_key, connection);
            }
            let body = if head.gzip {
                gunzip(&raw, body_limit)?
            } else {
                raw
            };
            return Ok(Fetched {
                status: head.status,
                captured: head.captured,
                exposition: Exposition {
                    content_type: head.content_type,
                    body,
                },
            });
        }
    }

    /// Sends the request on a kept-alive connection to the endpoint if there is one (once
    /// more on a new connection if the server had closed it), else on a new connection.
    /// Returns the key the connection is kept under for the next request.
    async fn exchange(
        &self,
        client: &HttpClient,
        endpoint: &Endpoint<'_>,
        ask: &Ask<'_>,
    ) -> Result<(Connection, ResponseHead, String), ExchangeError> {
        let via = client
            .proxy_route(endpoint.https, endpoint.host, endpoint.port)
            .map_err(ExchangeError::Setup)?;
        let mut headers = client
            .header_lines(self)
            .await
            .map_err(ExchangeError::Setup)?;
        // Only an http(s) proxy carries a plain request itself; it asks for the absolute form.
        let absolute = !endpoint.https
            && via
                .as_ref()
                .is_some_and(|p| p.scheme != ProxyScheme::Socks5);
        let proxy_authorization = via.as_ref().and_then(proxy::authorization);
        if let Some(auth) = proxy_authorization.as_ref().filter(|_| absolute) {
            headers.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
        }
        let request = endpoint.request(ask, &headers, absolute);
        // Target and https proxy share the job's TLS settings, so one generation covers both.
        let mut generation = 0;
        let mut tls_for = |host: &str| {
            client.tls(host).map(|(tls, built)| {
                generation = built;
                tls
            })
        };
        let tls = match endpoint.https {
            false => None,
            true => Some(tls_for(endpoint.host).map_err(ExchangeError::Setup)?),
        };
        let proxy_tls = match &via {
            Some(proxy) if proxy.scheme == ProxyScheme::Https => {
                Some(tls_for(&proxy.host).map_err(ExchangeError::Setup)?)
            }
            _ => None,
        };
        let key = client.pool_key(generation, endpoint.origin, via.as_ref());
        let idle = self.idle.lock().take(&key);
        if let Some(mut connection) = idle {
            match connection.exchange(&request, ask.captured_header()).await {
                Ok(head) => return Ok((connection, head, key)),
                Err(e) if e.is_stale_connection() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let connect_head = match (&via, endpoint.https) {
            (Some(_), true) => client.proxy_connect_lines().map_err(ExchangeError::Setup)?,
            _ => String::new(),
        };
        let hop = via.as_ref().map(|proxy| stream::Via {
            proxy,
            tls: proxy_tls,
            authorization: proxy_authorization.as_deref(),
            connect_head: &connect_head,
        });
        let stream = match client.unix_socket() {
            Some(path) => stream::unix(path).await,
            None => Stream::connect(endpoint.host, endpoint.port, tls, hop).await,
        };
        let mut connection = Connection::new(stream.map_err(HttpError::from)?);
        let head = connection.exchange(&request, ask.captured_header()).await?;
        Ok((connection, head, key))
    }
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    /// Credentials or TLS material could not be read or used.
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// A failed request, worded as Go's client words it: `Get "<url>": <why>`.
fn transport_error(url: &str, why: impl std::fmt::Display) -> FetchError {
    FetchError::Transport(format!("Get {url:?}: {why}"))
}

/// The `Location` of a redirect response, or None for any other response.
fn redirect_location(head: &ResponseHead) -> Option<&str> {
    if !matches!(head.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    head.location.as_deref()
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
fn status_text(status: u16) -> String {
    match StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
