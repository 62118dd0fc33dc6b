//! `--web.config.file`: the Prometheus exporter-toolkit format that Prometheus, node_exporter
//! and Alertmanager read, so an operator's existing file serves wasmfed unchanged.
//!
//! `tls_server_config` (certificate, key, client certificate policy and CAs, versions, cipher
//! suites, curves, allowed client SANs), `http_server_config` (`http2`, `headers`),
//! `basic_auth_users` (bcrypt hashes) and `rate_limit` (`burst`, `interval` as a Go duration),
//! checked with exporter-toolkit's rules and messages. The
//! file is read again for every new connection, as upstream does, so a renewed certificate
//! or a new user takes effect without a restart; the server (`wasmfed_web::tls`) decides what
//! to rebuild.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::go_duration::parse_go_duration;
use super::http_client::{tls_version, Secret, TlsVersion};
use super::paths::join_dir;

/// Whether and how the server asks for client certificates (Go's `tls.ClientAuthType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    #[default]
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// `tls_server_config`, when it enables TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsServerConfig {
    pub cert: Secret,
    pub key: Secret,
    pub client_auth: ClientAuth,
    pub client_ca: Option<Secret>,
    /// exporter-toolkit's defaults: TLS 1.2 to 1.3.
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// Go's names of TLS 1.2 suites; empty for the library's defaults.
    pub cipher_suites: Vec<String>,
    /// Go's names (`X25519`, `CurveP256`, ...); empty for the defaults.
    pub curve_preferences: Vec<String>,
    /// When set, a client certificate must carry one of these SANs.
    pub client_allowed_sans: Option<Vec<String>>,
}

/// A web configuration file, read and checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebConfig {
    pub tls: Option<TlsServerConfig>,
    /// Extra response headers (`http_server_config.headers`).
    pub headers: Vec<(String, String)>,
    /// User name to bcrypt hash; empty for no authentication.
    pub basic_auth_users: BTreeMap<String, String>,
    /// Present when requests are rate limited (an `interval` above zero).
    pub rate_limit: Option<RateLimit>,
}

/// `rate_limit`: golang.org/x/time/rate's token bucket, as exporter-toolkit builds it
/// (`rate.NewLimiter(rate.Every(interval), burst)`): `burst` requests at once, then one more
/// every `interval`; a `burst` below one admits none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub burst: i64,
    pub interval: std::time::Duration,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    #[serde(default)]
    burst: i64,
    interval: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTlsServer>,
    #[serde(default)]
    http_server_config: Option<RawHttpServer>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<RawRateLimit>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTlsServer {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    #[serde(default)]
    cipher_suites: Vec<String>,
    #[serde(default)]
    curve_preferences: Vec<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpServer {
    /// Accepted: wasmfed serves HTTP/1.1 either way.
    #[allow(dead_code)]
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The response headers exporter-toolkit lets a web config set.
const SETTABLE_HEADERS: &[&str] = &[
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

impl WebConfig {
    /// Reads `path` (relative files in it are relative to its directory).
    pub fn load(path: &Path) -> Result<WebConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading web config file {path:?}: {e}"))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        WebConfig::from_yaml(&text, dir).map_err(|e| format!("web config file {path:?}: {e}"))
    }

    pub fn from_yaml(text: &str, dir: &Path) -> Result<WebConfig, String> {
        let raw: RawWebConfig = match serde_yaml::from_str::<Option<RawWebConfig>>(text) {
            Ok(raw) => raw.unwrap_or_default(),
            Err(e) => return Err(e.to_string()),
        };
        let rate_limit = raw.rate_limit.unwrap_or_default();
        let interval = match rate_limit.interval.as_deref() {
            None | Some("") => 0,
            Some(text) => parse_go_duration(text).map_err(|e| format!("rate_limit: {e}"))?,
        };
        // A negative interval is Go's `rate.Inf`: no limit, as a zero one.
        let rate_limit = (interval > 0).then(|| RateLimit {
            burst: rate_limit.burst,
            interval: std::time::Duration::from_nanos(interval as u64),
        });
        let http = raw.http_server_config.unwrap_or_default();
        for name in http.headers.keys() {
            if !SETTABLE_HEADERS
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
            {
                return Err(format!("HTTP header {name:?} can not be configured"));
            }
        }
        let users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            if !is_bcrypt_hash(hash) {
                return Err(format!(
                    "basic_auth_users: the password of {user:?} is not a bcrypt hash"
                ));
            }
        }
        Ok(WebConfig {
            tls: raw
                .tls_server_config
                .map(|t| tls_server(t, dir))
                .transpose()?
                .flatten(),
            headers: http.headers.into_iter().collect(),
            basic_auth_users: users,
            rate_limit,
        })
    }
}

/// `$2a$`, `$2b$` or `$2y$`, a two-digit cost, and 53 characters of salt and hash.
fn is_bcrypt_hash(hash: &str) -> bool {
    let b = hash.as_bytes();
    b.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// exporter-toolkit's `ConfigToTLSConfig` checks; None when nothing enables TLS.
fn tls_server(raw: RawTlsServer, dir: &Path) -> Result<Option<TlsServerConfig>, String> {
    let (cert, cert_file) = (non_empty(raw.cert), non_empty(raw.cert_file));
    let (key, key_file) = (non_empty(raw.key), non_empty(raw.key_file));
    let (ca, ca_file) = (non_empty(raw.client_ca), non_empty(raw.client_ca_file));
    let auth_type = non_empty(raw.client_auth_type);
    let enabled = cert.is_some()
        || cert_file.is_some()
        || key.is_some()
        || key_file.is_some()
        || ca.is_some()
        || ca_file.is_some()
        || auth_type.is_some();
    if !enabled {
        return Ok(None);
    }
    let secret = |inline: Option<String>, file: Option<String>| match (file, inline) {
        (Some(path), _) => Some(Secret::File(join_dir(dir, &path).into())),
        (None, inline) => inline.map(Secret::Inline),
    };
    let cert = secret(cert, cert_file).ok_or("missing one of cert or cert_file")?;
    let key = secret(key, key_file).ok_or("missing one of key or key_file")?;
    let client_auth = match auth_type.as_deref() {
        None | Some("NoClientCert") => ClientAuth::NoClientCert,
        Some("RequestClientCert") => ClientAuth::RequestClientCert,
        Some("RequireAnyClientCert" | "RequireClientCert") => ClientAuth::RequireAnyClientCert,
        Some("VerifyClientCertIfGiven") => ClientAuth::VerifyClientCertIfGiven,
        Some("RequireAndVerifyClientCert") => ClientAuth::RequireAndVerifyClientCert,
        Some(other) => return Err(format!("invalid ClientAuth: {other}")),
    };
    let client_ca = secret(ca, ca_file);
    if client_ca.is_some() && client_auth == ClientAuth::NoClientCert {
        return Err("client CA's have been configured without a Client Auth Policy".into());
    }
    if raw.client_allowed_sans.is_some()
        && !matches!(
            client_auth,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        )
    {
        return Err("client_allowed_sans requires client_auth_type to be one of RequireAnyClientCert or RequireAndVerifyClientCert".into());
    }
    let _ = raw.prefer_server_cipher_suites;
    Ok(Some(TlsServerConfig {
        cert,
        key,
        client_auth,
        client_ca,
        min_version: tls_version(raw.min_version)?.unwrap_or(TlsVersion::Tls12),
        max_version: tls_version(raw.max_version)?.unwrap_or(TlsVersion::Tls13),
        cipher_suites: raw.cipher_suites,
        curve_preferences: raw.curve_preferences,
        client_allowed_sans: raw.client_allowed_sans,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG";

    fn read(yaml: &str) -> Result<WebConfig, String> {
        WebConfig::from_yaml(yaml, Path::new("/etc/prometheus"))
    }

    #[test]
    fn reads_what_exporter_toolkit_reads() {
        assert_eq!(read("").unwrap(), WebConfig::default());
        assert_eq!(read("tls_server_config: {}\n").unwrap().tls, None);
        let c = read(&format!(
            "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: /k.pem\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  \
             min_version: TLS13\n  client_allowed_sans: [wasmfed]\n\
             http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n\
             basic_auth_users:\n  prom: '{HASH}'\n"
        ))
        .unwrap();
        assert_eq!(
            c.tls,
            Some(TlsServerConfig {
                cert: Secret::File("/etc/prometheus/tls/server.crt".into()),
                key: Secret::File("/k.pem".into()),
                client_auth: ClientAuth::RequireAndVerifyClientCert,
                client_ca: Some(Secret::File("/etc/prometheus/ca.pem".into())),
                min_version: TlsVersion::Tls13,
                max_version: TlsVersion::Tls13,
                cipher_suites: vec![],
                curve_preferences: vec![],
                client_allowed_sans: Some(vec!["wasmfed".into()]),
            })
        );
        assert_eq!(
            c.headers,
            [("X-Frame-Options".to_owned(), "deny".to_owned())]
        );
        assert_eq!(c.basic_auth_users["prom"], HASH);
        assert_eq!(c.rate_limit, None);
        for (yaml, want) in [
            ("rate_limit: {burst: 5, interval: 1.5s}", Some((5, 1500))),
            ("rate_limit: {burst: 5}", None),
            ("rate_limit: {burst: 5, interval: 0}", None),
            ("rate_limit: {burst: 5, interval: -1s}", None),
            ("rate_limit:", None),
        ] {
            let limit = read(yaml).unwrap().rate_limit;
            let want = want.map(|(burst, millis)| RateLimit {
                burst,
                interval: std::time::Duration::from_millis(millis),
            });
            assert_eq!(limit, want, "{yaml}");
        }
    }

    #[test]
    fn refuses_what_exporter_toolkit_refuses() {
        for (yaml, want) in [
            ("tls_server_config: {key_file: k}", "missing one of cert or cert_file"),
            ("tls_server_config: {cert_file: c}", "missing one of key or key_file"),
            (
                "tls_server_config: {cert_file: c, key_file: k, client_auth_type: Maybe}",
                "invalid ClientAuth: Maybe",
            ),
            (
                "tls_server_config: {cert_file: c, key_file: k, client_ca_file: ca}",
                "client CA's have been configured without a Client Auth Policy",
            ),
            (
                "tls_server_config: {cert_file: c, key_file: k, client_auth_type: VerifyClientCertIfGiven, client_allowed_sans: [a]}",
                "client_allowed_sans requires client_auth_type to be one of RequireAnyClientCert or RequireAndVerifyClientCert",
            ),
            ("tls_server_config: {cert_file: c, key_file: k, min_version: SSL3}", "unknown TLS version: SSL3"),
            ("http_server_config: {headers: {Server: x}}", "HTTP header \"Server\" can not be configured"),
            ("basic_auth_users: {prom: hunter2}", "the password of \"prom\" is not a bcrypt hash"),
            ("rate_limit: {burst: 1, interval: 1d}", "rate_limit: time: unknown unit \"d\" in duration \"1d\""),
            ("rate_limit: {burst: 1, interval: 1s, brust: 2}", "unknown field `brust`"),
            ("tls_server_config: {cert_flie: c}", "unknown field `cert_flie`"),
        ] {
            let err = read(yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}\n  got: {err}\n  want: {want}");
        }
    }
}
