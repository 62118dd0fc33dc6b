//! One scrape job's HTTP client: its TLS configuration, its credentials, its redirect
//! policy and its [`Transport`] (TCP, or a Unix domain socket).
//!
//! Files are read again on every request, as prometheus/common's round trippers do: a rotated
//! bearer token or password is sent from the next scrape on, and a changed CA, certificate or
//! key builds a new TLS configuration (a new connection generation, so no connection made with
//! the old one is reused). Reading three small files per scrape costs a few microseconds; the
//! TLS configuration itself is only rebuilt when their bytes change. An `oauth2` client's
//! bearer token comes from its [`TokenSource`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine;
use parking_lot::Mutex;
use wasmfed_config::{Auth, HttpClientConfig, ProxyUrl, Secret};

use super::oauth2::TokenSource;
use super::proxy;
use super::stream::TlsTarget;
use super::tls::{self, TlsMaterial};
use super::Fetcher;

/// How a client's connections reach a server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// TCP to the URL's host and port (through the configured proxy), TLS for https.
    #[default]
    Tcp,
    /// The Unix domain socket at this path, whatever the URL's host (which still names the
    /// `Host` header): a Docker Engine's `unix://` host, as Go's Docker client dials it.
    /// No proxy is used, as Go's Unix transport uses none.
    Unix(PathBuf),
}

/// A job's client; cheap to share between its scrape loops.
pub struct HttpClient {
    /// Tells this client's kept-alive connections from every other client's.
    id: u64,
    config: HttpClientConfig,
    transport: Transport,
    tls: Mutex<TlsState>,
    /// Present with `oauth2`.
    oauth2: Option<TokenSource>,
}

#[derive(Default)]
struct TlsState {
    material: Option<TlsMaterial>,
    built: Option<Arc<rustls::ClientConfig>>,
    /// Bumped whenever `built` is replaced.
    generation: u64,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new(&HttpClientConfig::default())
    }
}

impl HttpClient {
    pub fn new(config: &HttpClientConfig) -> HttpClient {
        HttpClient::with_transport(config, Transport::Tcp)
    }

    /// A client whose connections go over `transport`.
    pub fn with_transport(config: &HttpClientConfig, transport: Transport) -> HttpClient {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        HttpClient {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config: config.clone(),
            transport,
            tls: Mutex::new(TlsState::default()),
            oauth2: match &config.auth {
                Some(Auth::OAuth2(oauth2)) => Some(TokenSource::new(oauth2)),
                _ => None,
            },
        }
    }

    pub fn follow_redirects(&self) -> bool {
        self.config.follow_redirects
    }

    /// The socket every connection goes to, for a [`Transport::Unix`] client.
    pub(crate) fn unix_socket(&self) -> Option<&Path> {
        match &self.transport {
            Transport::Tcp => None,
            Transport::Unix(path) => Some(path),
        }
    }

    /// The header lines (`Name: value\r\n`) the next request carries besides Prometheus' own:
    /// `Authorization` and `http_headers`, files read now.
    /// `fetcher` fetches `oauth2` tokens.
    pub(crate) async fn header_lines(&self, fetcher: &Fetcher) -> Result<String, String> {
        let mut lines = String::new();
        if let Some(value) = self.authorization(fetcher).await? {
            push_header(&mut lines, "Authorization", &value)?;
        }
        for (name, values) in &self.config.headers {
            for value in values {
                let value = read_text(Some(value))
                    .map_err(|e| format!("unable to read headers file: {e}"))?;
                push_header(&mut lines, name, &value)?;
            }
        }
        Ok(lines)
    }

    /// The `Authorization` header's value for the next request, if any.
    async fn authorization(&self, fetcher: &Fetcher) -> Result<Option<String>, String> {
        if let Some(tokens) = &self.oauth2 {
            return tokens.header(fetcher).await.map(Some);
        }
        match &self.config.auth {
            None => Ok(None),
            Some(Auth::Basic { username, password }) => {
                let username = read_text(username.as_ref())
                    .map_err(|e| format!("unable to read basic auth username: {e}"))?;
                let password = read_text(password.as_ref())
                    .map_err(|e| format!("unable to read basic auth password: {e}"))?;
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                Ok(Some(format!("Basic {token}")))
            }
            Some(Auth::Authorization { kind, credentials }) => {
                let credentials = read_text(credentials.as_ref())
                    .map_err(|e| format!("unable to read authorization credentials: {e}"))?;
                Ok(Some(format!("{kind} {credentials}")))
            }
            Some(Auth::OAuth2(_)) => unreachable!("served by the token source above"),
        }
    }

    /// The TLS configuration for a connection to `host`, and the connection generation it
    /// belongs to; files re-read, the configuration rebuilt if they changed.
    pub(crate) fn tls(&self, host: &str) -> Result<(TlsTarget, u64), String> {
        let cfg = &self.config.tls;
        let material = TlsMaterial {
            ca: read_pem(cfg.ca.as_ref()).map_err(|e| format!("unable to read CA cert: {e}"))?,
            cert: read_pem(cfg.cert.as_ref())
                .map_err(|e| format!("unable to read client cert: {e}"))?,
            key: read_pem(cfg.key.as_ref())
                .map_err(|e| format!("unable to read client key: {e}"))?,
        };
        let server_name = tls::server_name(cfg, host)?;
        let mut state = self.tls.lock();
        if state.built.is_none() || state.material.as_ref() != Some(&material) {
            let built = Arc::new(tls::client_config(cfg, &material)?);
            state.built = Some(built);
            state.material = Some(material);
            state.generation += 1;
        }
        let config = state.built.clone().expect("built above");
        Ok((
            TlsTarget {
                config,
                server_name,
            },
            state.generation,
        ))
    }

    /// The key under which kept-alive connections of this client to `origin` wait, for the
    /// TLS generation `generation` (0 for plain HTTP) and the proxy they go through.
    pub(crate) fn pool_key(&self, generation: u64, origin: &str, via: Option<&ProxyUrl>) -> String {
        match via {
            None => format!("{}/{generation}/{origin}", self.id),
            Some(p) => format!(
                "{}/{generation}/{origin}/via {:?} {}:{}",
                self.id, p.scheme, p.host, p.port
            ),
        }
    }

    /// The proxy a request to `host:port` goes through, if any.
    pub(crate) fn proxy_route(
        &self,
        https: bool,
        host: &str,
        port: u16,
    ) -> Result<Option<ProxyUrl>, String> {
        if self.unix_socket().is_some() {
            return Ok(None);
        }
        proxy::route(&self.config.proxy, https, host, port)
    }

    /// `proxy_connect_header` as header lines for a `CONNECT`.
    pub(crate) fn proxy_connect_lines(&self) -> Result<String, String> {
        let mut lines = String::new();
        for (name, values) in &self.config.proxy_connect_headers {
            for value in values {
                let value =
                    read_text(Some(value)).map_err(|e| format!("proxy_connect_header: {e}"))?;
                push_header(&mut lines, name, &value)?;
            }
        }
        Ok(lines)
    }
}

/// Appends `name: value` to a request head; a value that would end the line early (a file
/// holding a line break) is refused rather than sent.
pub(crate) fn push_header(lines: &mut String, name: &str, value: &str) -> Result<(), String> {
    if value.contains(['\r', '\n']) {
        return Err(format!(
            "header {name:?}: a value may not contain a line break"
        ));
    }
    lines.push_str(name);
    lines.push_str(": ");
    lines.push_str(value);
    lines.push_str("\r\n");
    Ok(())
}

/// A secret's text, trimmed of surrounding white space when read from a file, as
/// prometheus/common's file secrets are; an unset secret is empty.
pub(crate) fn read_text(secret: Option<&Secret>) -> std::io::Result<String> {
    Ok(match secret {
        None => String::new(),
        Some(Secret::Inline(value)) => value.clone(),
        Some(Secret::File(path)) => std::fs::read_to_string(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("open {}: {e}", path.display())))?
            .trim()
            .to_owned(),
    })
}

/// A PEM secret's bytes and where they came from.
fn read_pem(secret: Option<&Secret>) -> std::io::Result<Option<(Vec<u8>, String)>> {
    Ok(match secret {
        None => None,
        Some(Secret::Inline(value)) => Some((value.clone().into_bytes(), "inline".to_owned())),
        Some(Secret::File(path)) => {
            let bytes = std::fs::read(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("open {}: {e}", path.display()))
            })?;
            Some((bytes, path.display().to_string()))
        }
    })
}
