//! The HTTP client settings Prometheus inlines into a scrape config: `basic_auth`,
//! `authorization`, the legacy `bearer_token`/`bearer_token_file`, `tls_config`,
//! `follow_redirects`, `enable_http2` and Prometheus 3's `http_headers` (how a global node sends
//! a leaf the `X-Scope-OrgID` of the tenant it federates).
//!
//! Read and checked as prometheus/common's `HTTPClientConfig` is (same exclusions, same
//! messages, `bearer_token*` folded into an `authorization` of type `Bearer`), so a
//! configuration Prometheus refuses is refused here for the same reason. Secrets stay where
//! they were written: a `*_file` is only a path, read by the scraper on every request as
//! Prometheus does, so a rotated token or certificate is picked up without a reload.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::oauth2::{OAuth2Config, RawOAuth2};
use super::paths::join_dir;
use super::proxy::{Proxy, RawProxy};
use super::yaml::{Bool, UniqueMap};

/// Where a secret (password, token, key, certificate) comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Inline(String),
    /// Read on every use; relative paths are already joined to the configuration's directory.
    File(PathBuf),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("Inline(<secret>)"),
            Secret::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

impl Secret {
    /// An inline value or a file, whichever of the two is set (the caller checked not both).
    pub(super) fn from_pair(
        inline: Option<String>,
        file: Option<String>,
        dir: &Path,
    ) -> Option<Secret> {
        match (
            inline.filter(|s| !s.is_empty()),
            file.filter(|s| !s.is_empty()),
        ) {
            (Some(value), _) => Some(Secret::Inline(value)),
            (None, Some(path)) => Some(Secret::File(join_dir(dir, &path).into())),
            (None, None) => None,
        }
    }
}

/// How requests authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `basic_auth`: an unset password is an empty one, as in Go's `SetBasicAuth`.
    Basic {
        username: Option<Secret>,
        password: Option<Secret>,
    },
    /// `authorization` (and the legacy bearer token keys): `Authorization: <kind> <credentials>`.
    Authorization {
        kind: String,
        credentials: Option<Secret>,
    },
    /// `oauth2`: a bearer token from the client credentials grant.
    OAuth2(Box<OAuth2Config>),
}

/// A TLS protocol version as `tls_config` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

/// `tls_config`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// Trusted roots; without one, the system's.
    pub ca: Option<Secret>,
    /// The client certificate and its key: both or neither.
    pub cert: Option<Secret>,
    pub key: Option<Secret>,
    /// The name the server's certificate must carry; without one, the URL's host.
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
}

/// The HTTP client of one scrape job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpClientConfig {
    pub auth: Option<Auth>,
    pub tls: TlsConfig,
    /// Prometheus' default: true.
    pub follow_redirects: bool,
    /// Accepted and recorded; wasmfed scrapes over HTTP/1.1 either way.
    pub enable_http2: bool,
    /// `http_headers`: each header's values in order (`values`, then `secrets`, then `files`,
    /// files read on every request), names in canonical form.
    pub headers: Vec<(String, Vec<Secret>)>,
    /// `proxy_url`, `no_proxy`, `proxy_from_environment`.
    pub proxy: Proxy,
    /// `proxy_connect_header`: sent with each `CONNECT` to the proxy.
    pub proxy_connect_headers: Vec<(String, Vec<Secret>)>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            auth: None,
            tls: TlsConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            headers: Vec::new(),
            proxy: Proxy::Direct,
            proxy_connect_headers: Vec::new(),
        }
    }
}

/// The keys of a scrape config that belong to its HTTP client.
pub(super) const KEYS: [&str; 13] = [
    "basic_auth",
    "authorization",
    "bearer_token",
    "bearer_token_file",
    "tls_config",
    "follow_redirects",
    "enable_http2",
    "http_headers",
    "oauth2",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
];

/// Headers Prometheus sets itself or that change the connection (prometheus/common's list).
pub(super) const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-prometheus-scrape-timeout-seconds",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    files: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasicAuth {
    username: Option<String>,
    username_file: Option<String>,
    password: Option<String>,
    password_file: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthorization {
    #[serde(rename = "type")]
    kind: Option<String>,
    credentials: Option<String>,
    credentials_file: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    ca: Option<String>,
    ca_file: Option<String>,
    cert: Option<String>,
    cert_file: Option<String>,
    key: Option<String>,
    key_file: Option<String>,
    server_name: Option<String>,
    #[serde(default)]
    insecure_skip_verify: Bool,
    min_version: Option<String>,
    max_version: Option<String>,
}

/// The HTTP client keys of one scrape config as written, before [`RawHttpClient::resolve`].
#[derive(Default)]
pub(super) struct RawHttpClient {
    basic_auth: Option<RawBasicAuth>,
    authorization: Option<RawAuthorization>,
    oauth2: Option<RawOAuth2>,
    proxy: RawProxy,
    bearer_token: String,
    bearer_token_file: String,
    tls_config: Option<RawTls>,
    follow_redirects: Option<bool>,
    enable_http2: Option<bool>,
    http_headers: Vec<(String, RawHeader)>,
}

impl RawHttpClient {
    /// Sets `enable_http2` where it was not written: remote write's default is false from
    /// Prometheus 3.0 on, true for any other client.
    pub(super) fn default_enable_http2(&mut self, enabled: bool) {
        self.enable_http2.get_or_insert(enabled);
    }

    /// Whether `http_headers` was given (a key Prometheus 2.42 does not know).
    pub(super) fn has_headers(&self) -> bool {
        !self.http_headers.is_empty()
    }

    /// Reads the value of `key` (one of [`KEYS`]).
    pub(super) fn read<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key {
            // A null mapping is one with no keys set, as yaml.v2 makes it.
            "basic_auth" => {
                self.basic_auth = Some(map.next_value::<Option<_>>()?.unwrap_or_default())
            }
            "authorization" => {
                self.authorization = Some(map.next_value::<Option<_>>()?.unwrap_or_default())
            }
            "tls_config" => self.tls_config = map.next_value()?,
            "oauth2" => self.oauth2 = Some(map.next_value::<Option<_>>()?.unwrap_or_default()),
            "proxy_url" => self.proxy.url = map.next_value::<Option<_>>()?.unwrap_or_default(),
            "no_proxy" => self.proxy.no_proxy = map.next_value::<Option<_>>()?.unwrap_or_default(),
            "proxy_from_environment" => self.proxy.from_environment = map.next_value::<Bool>()?.0,
            "proxy_connect_header" => {
                self.proxy.connect_header = RawProxy::connect_header_of(map.next_value()?);
            }
            "bearer_token" => {
                self.bearer_token = map.next_value::<Option<_>>()?.unwrap_or_default()
            }
            "bearer_token_file" => {
                self.bearer_token_file = map.next_value::<Option<_>>()?.unwrap_or_default()
            }
            "follow_redirects" => self.follow_redirects = Some(map.next_value::<Bool>()?.0),
            "enable_http2" => self.enable_http2 = Some(map.next_value::<Bool>()?.0),
            "http_headers" => {
                let headers: UniqueMap<String, Option<RawHeader>> = map.next_value()?;
                self.http_headers = headers
                    .0
                    .into_iter()
                    .map(|(name, h)| (name, h.unwrap_or_default()))
                    .collect();
            }
            other => unreachable!("{other} is not an HTTP client key"),
        }
        Ok(())
    }

    /// `HTTPClientConfig.Validate` and `SetDirectory`: the checks and messages of
    /// prometheus/common, files joined to `dir`.
    pub(super) fn resolve(self, dir: &Path) -> Result<HttpClientConfig, String> {
        let RawHttpClient {
            basic_auth,
            authorization,
            oauth2,
            bearer_token,
            bearer_token_file,
            tls_config: tls,
            follow_redirects,
            enable_http2,
            http_headers,
            proxy,
        } = self;
        let (proxy, proxy_connect_headers) = proxy.resolve()?;
        let bearer = !bearer_token.is_empty() || !bearer_token_file.is_empty();
        if !bearer_token.is_empty() && !bearer_token_file.is_empty() {
            return Err(
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            );
        }
        if (basic_auth.is_some() || oauth2.is_some()) && bearer {
            return Err(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
                    .into(),
            );
        }
        let exclusive = "at most one of basic_auth, oauth2 & authorization must be configured";
        let auth = match (basic_auth, authorization, oauth2) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                return Err(exclusive.into())
            }
            (None, None, Some(oauth2)) => Some(Auth::OAuth2(Box::new(oauth2.resolve(dir)?))),
            (Some(basic), None, None) => Some(basic_auth_of(basic, dir)?),
            (None, Some(_), None) if bearer => {
                return Err(
                    "authorization is not compatible with bearer_token & bearer_token_file".into(),
                )
            }
            (None, Some(authorization), None) => Some(authorization_header(authorization, dir)?),
            (None, None, None) if bearer => Some(Auth::Authorization {
                kind: "Bearer".into(),
                credentials: Secret::from_pair(Some(bearer_token), Some(bearer_token_file), dir),
            }),
            (None, None, None) => None,
        };
        Ok(HttpClientConfig {
            auth,
            tls: tls_config(tls.unwrap_or_default(), dir)?,
            follow_redirects: follow_redirects.unwrap_or(true),
            enable_http2: enable_http2.unwrap_or(true),
            headers: headers(http_headers, dir)?,
            proxy,
            proxy_connect_headers,
        })
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: each dash-separated word capitalised.
fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// `http_headers`, checked as prometheus/common checks it; a value that would break the
/// request head (CR, LF) is refused too.
fn headers(
    raw: Vec<(String, RawHeader)>,
    dir: &Path,
) -> Result<Vec<(String, Vec<Secret>)>, String> {
    let mut out = Vec::new();
    for (name, header) in raw {
        let canonical = canonical_header(&name);
        if !valid_header_name(&name) {
            return Err(format!("invalid header name {name:?}"));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(format!("setting header {canonical:?} is not allowed"));
        }
        let mut values = Vec::new();
        for value in header.values.into_iter().chain(header.secrets) {
            if value.contains(['\r', '\n']) {
                return Err(format!(
                    "header {canonical:?}: a value may not contain a line break"
                ));
            }
            values.push(Secret::Inline(value));
        }
        for file in header.files {
            let path = join_dir(dir, &file);
            std::fs::read(&path).map_err(|e| {
                format!("unable to read header {canonical:?} from file {path}: {e}")
            })?;
            values.push(Secret::File(path.into()));
        }
        out.push((canonical, values));
    }
    Ok(out)
}

/// An HTTP field name (RFC 9110's token): what a request head can carry.
pub(super) fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn set(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

fn basic_auth_of(raw: RawBasicAuth, dir: &Path) -> Result<Auth, String> {
    if set(&raw.username) && set(&raw.username_file) {
        return Err("at most one of basic_auth username & username_file must be configured".into());
    }
    if set(&raw.password) && set(&raw.password_file) {
        return Err("at most one of basic_auth password & password_file must be configured".into());
    }
    Ok(Auth::Basic {
        username: Secret::from_pair(raw.username, raw.username_file, dir),
        password: Secret::from_pair(raw.password, raw.password_file, dir),
    })
}

fn authorization_header(raw: RawAuthorization, dir: &Path) -> Result<Auth, String> {
    if set(&raw.credentials) && set(&raw.credentials_file) {
        return Err(
            "at most one of authorization credentials & credentials_file must be configured".into(),
        );
    }
    let kind = raw.kind.unwrap_or_default().trim().to_owned();
    let kind = if kind.is_empty() {
        "Bearer".into()
    } else {
        kind
    };
    if kind.eq_ignore_ascii_case("basic") {
        return Err(
            r#"authorization type cannot be set to "basic", use "basic_auth" instead"#.into(),
        );
    }
    Ok(Auth::Authorization {
        kind,
        credentials: Secret::from_pair(raw.credentials, raw.credentials_file, dir),
    })
}

/// A TLS version as `tls_config` and web configuration files name it; unset is None.
pub(super) fn tls_version(name: Option<String>) -> Result<Option<TlsVersion>, String> {
    Ok(match name.as_deref() {
        None | Some("") => None,
        Some("TLS10") => Some(TlsVersion::Tls10),
        Some("TLS11") => Some(TlsVersion::Tls11),
        Some("TLS12") => Some(TlsVersion::Tls12),
        Some("TLS13") => Some(TlsVersion::Tls13),
        Some(other) => return Err(format!("unknown TLS version: {other}")),
    })
}

/// `TLSConfig.Validate` and the version check of `NewTLSConfig`.
pub(super) fn tls_config(raw: RawTls, dir: &Path) -> Result<TlsConfig, String> {
    if set(&raw.ca) && set(&raw.ca_file) {
        return Err("at most one of ca and ca_file must be configured".into());
    }
    if set(&raw.cert) && set(&raw.cert_file) {
        return Err("at most one of cert and cert_file must be configured".into());
    }
    if set(&raw.key) && set(&raw.key_file) {
        return Err("at most one of key and key_file must be configured".into());
    }
    let cert = Secret::from_pair(raw.cert, raw.cert_file, dir);
    let key = Secret::from_pair(raw.key, raw.key_file, dir);
    match (&cert, &key) {
        (Some(_), None) => {
            return Err("exactly one of key or key_file must be configured when a client certificate is configured".into())
        }
        (None, Some(_)) => {
            return Err("exactly one of cert or cert_file must be configured when a client key is configured".into())
        }
        _ => {}
    }
    let min_version = tls_version(raw.min_version)?;
    let max_version = tls_version(raw.max_version)?;
    if let (Some(min), Some(max)) = (min_version, max_version) {
        if max < min {
            return Err("tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified".into());
        }
    }
    Ok(TlsConfig {
        ca: Secret::from_pair(raw.ca, raw.ca_file, dir),
        cert,
        key,
        server_name: raw.server_name.filter(|s| !s.is_empty()),
        insecure_skip_verify: raw.insecure_skip_verify.0,
        min_version,
        max_version,
    })
}

#[cfg(test)]
mod tests;
