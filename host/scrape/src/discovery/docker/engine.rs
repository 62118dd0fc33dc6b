//! The Docker Engine API as Prometheus 2.42 reaches it: through the Go Docker client
//! (`github.com/docker/docker/client` v20.10.23) with API version negotiation.
//!
//! The host decides the transport, as the Go client's `WithHost` does:
//! - `unix:///path`: the socket, with `Host: docker`; no proxy, no HTTP client settings;
//! - `http://` and `https://`: TCP (TLS), with the configured HTTP client settings, as
//!   Prometheus hands its own round tripper to the Docker client only for these schemes;
//!   redirects are always followed, since Prometheus' `http.Client` there has no redirect
//!   policy of its own (`follow_redirects` is read but has no effect, as in 2.42);
//! - `tcp://` and any other scheme: plain HTTP over TCP, proxied as the environment says,
//!   without the configured client settings, redirects not followed (the Go client's own
//!   transport); `npipe://` is Windows' and fails, as on Linux in Go.
//!
//! Negotiation happens once, before the first request: `HEAD /_ping` (a `GET` if the HEAD
//! answer is neither 200 nor 500) gives the engine's `Api-Version`, and requests go to
//! `/v<lower of it and 1.41>/...`. As in the Go client, an engine that cannot be reached then
//! leaves the client at API 1.24 for the life of the discovery, and an answer without the
//! header too. Errors are the Go client's words (`Error response from daemon: <message>`).
//! Requests time out after the refresh interval, as Prometheus' HTTP client does for
//! `http(s)://` hosts (the Go client's own transport has no timeout).

use std::path::PathBuf;
use std::time::Duration;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use wasmfed_config::{DockerSdConfig, HttpClientConfig, Proxy};

use crate::fetch::{ApiAnswer, ApiMethod, FetchError, Fetcher, HttpClient, Transport};

/// The newest API version the Go client v20.10 speaks (`api.DefaultVersion`).
const CLIENT_VERSION: &str = "1.41";
/// The version a client assumes of an engine that did not say (`negotiateAPIVersionPing`).
const UNSAID_VERSION: &str = "1.24";
/// The longest Unix socket path (Linux's `sun_path`).
const MAX_UNIX_SOCKET_PATH: usize = 108;
/// Error answers longer than this are not read (the Go client's `checkResponseErr`).
const MAX_ERROR_BODY: usize = 1 << 20;

/// A Docker Engine and how to reach it.
pub(super) struct Engine {
    client: HttpClient,
    /// `scheme://authority` of the requests' URLs (`http://docker` for a socket).
    origin: String,
    /// The host's path, which API paths go under (`tcp://` hosts).
    base_path: String,
    timeout: Duration,
    /// The negotiated API version, once negotiated.
    version: Mutex<Option<String>>,
}

impl Engine {
    /// The engine `config.host` names; an error, as Prometheus' when it sets up the Docker
    /// client, for a host the Go client cannot use.
    pub(super) fn new(config: &DockerSdConfig) -> Result<Engine, String> {
        let setup = |why: String| format!("error setting up docker client: {why}");
        let (scheme, address) = config
            .host
            .split_once("://")
            .ok_or_else(|| setup(format!("unable to parse docker host `{}`", config.host)))?;
        let timeout: Duration = config.refresh_interval.into();
        let engine = |client, origin: String, base_path: &str| Engine {
            client,
            origin,
            base_path: base_path.trim_end_matches('/').to_owned(),
            timeout,
            version: Mutex::new(None),
        };
        let (authority, path) = address
            .find('/')
            .map_or((address, ""), |i| address.split_at(i));
        match scheme {
            "unix" => {
                if address.len() > MAX_UNIX_SOCKET_PATH {
                    return Err(setup(format!("unix socket path {address:?} is too long")));
                }
                let transport = Transport::Unix(PathBuf::from(address));
                let client = HttpClient::with_transport(&go_transport(), transport);
                Ok(engine(client, "http://docker".into(), ""))
            }
            "npipe" => Err(setup("protocol not available".into())),
            "http" | "https" => {
                let client = HttpClient::new(&HttpClientConfig {
                    follow_redirects: true,
                    ..config.http_client.clone()
                });
                Ok(engine(client, format!("{scheme}://{authority}"), path))
            }
            _ => {
                let client = HttpClient::new(&HttpClientConfig {
                    proxy: Proxy::FromEnvironment,
                    ..go_transport()
                });
                let base_path = if scheme == "tcp" { path } else { "" };
                Ok(engine(client, format!("http://{authority}"), base_path))
            }
        }
    }

    /// GETs `path` (e.g. `/containers/json`) with `query` (already encoded) at the
    /// negotiated API version and decodes the answer's first JSON value.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        fetcher: &Fetcher,
        path: &str,
        query: &str,
    ) -> Result<T, String> {
        let version = self.version(fetcher).await;
        let mut url = format!("{}{}/v{version}{path}", self.origin, self.base_path);
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let answer = self
            .request(fetcher, &url, ApiMethod::Get)
            .await
            .map_err(|e| format!("error during connect: {}", worded(e, &url)))?;
        check_answer(&answer, &version, &url)?;
        let first = serde_json::Deserializer::from_slice(&answer.body)
            .into_iter::<T>()
            .next();
        fetcher.recycle(answer.body);
        match first {
            Some(value) => value.map_err(|e| e.to_string()),
            None => Err("EOF".into()),
        }
    }

    /// The API version requests use, negotiated on the first call.
    async fn version(&self, fetcher: &Fetcher) -> String {
        if let Some(version) = self.version.lock().clone() {
            return version;
        }
        let said = self.ping(fetcher).await.filter(|v| !v.is_empty());
        let said = said.as_deref().unwrap_or(UNSAID_VERSION);
        let version = if version_less(said, CLIENT_VERSION) {
            said
        } else {
            CLIENT_VERSION
        };
        let version = version.trim_start_matches('v').to_owned();
        *self.version.lock() = Some(version.clone());
        version
    }

    /// The engine's `Api-Version`, as the Go client's `Ping` gets it.
    async fn ping(&self, fetcher: &Fetcher) -> Option<String> {
        let url = format!("{}{}/_ping", self.origin, self.base_path);
        match self.request(fetcher, &url, ApiMethod::Head).await {
            Ok(answer) if matches!(answer.status, 200 | 500) => return answer.header,
            Ok(_) => {}
            Err(_) => return None,
        }
        let answer = self.request(fetcher, &url, ApiMethod::Get).await.ok()?;
        answer.header
    }

    async fn request(
        &self,
        fetcher: &Fetcher,
        url: &str,
        method: ApiMethod,
    ) -> Result<ApiAnswer, FetchError> {
        fetcher
            .api_request(
                &self.client,
                url,
                method,
                Some("Api-Version"),
                self.timeout,
                0,
            )
            .await
    }
}

/// The settings of the Go Docker client's own transport: none of the configuration's, and no
/// redirects followed (its `CheckRedirect` keeps a GET's redirect answer as the answer).
fn go_transport() -> HttpClientConfig {
    HttpClientConfig {
        follow_redirects: false,
        ..HttpClientConfig::default()
    }
}

/// A fetch error as Go's HTTP client words it.
fn worded(e: FetchError, url: &str) -> String {
    match e {
        FetchError::Timeout(_) => format!(
            "Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        ),
        other => other.to_string(),
    }
}

/// The Go client's `checkResponseErr`: an answer outside 2xx and 3xx is an error, in the
/// engine's words when it gave some.
fn check_answer(answer: &ApiAnswer, version: &str, url: &str) -> Result<(), String> {
    if (200..400).contains(&answer.status) {
        return Ok(());
    }
    let status = http::StatusCode::from_u16(answer.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or_default();
    if answer.body.len() >= MAX_ERROR_BODY {
        return Err(format!(
            "request returned {status} with a message (> {MAX_ERROR_BODY} bytes) for API route \
             and version {url}, check if the server supports the requested API version"
        ));
    }
    if answer.body.is_empty() {
        return Err(format!(
            "request returned {status} for API route and version {url}, check if the server \
             supports the requested API version"
        ));
    }
    let message = if version_less("1.23", version)
        && answer.content_type.as_deref() == Some("application/json")
    {
        #[derive(serde::Deserialize)]
        struct ErrorResponse {
            #[serde(default)]
            message: Option<String>,
        }
        let error: ErrorResponse =
            serde_json::from_slice(&answer.body).map_err(|e| format!("Error reading JSON: {e}"))?;
        error.message.unwrap_or_default().trim().to_owned()
    } else {
        String::from_utf8_lossy(&answer.body).trim().to_owned()
    };
    Err(format!("Error response from daemon: {message}"))
}

/// Go's `versions.LessThan`: dotted numbers compared part by part, a missing or unparsable
/// part as 0.
pub(super) fn version_less(a: &str, b: &str) -> bool {
    if a == b {
        return false;
    }
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        let (x, y) = (a.next(), b.next());
        if x.is_none() && y.is_none() {
            return false;
        }
        let number = |part: Option<&str>| part.and_then(|p| p.parse::<i64>().ok()).unwrap_or(0);
        let (x, y) = (number(x), number(y));
        if x != y {
            return x < y;
        }
    }
}
