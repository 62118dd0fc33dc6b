//! What `--web.config.file` asks of the server: TLS (rustls, with `client_allowed_sans` in
//! [`super::client_sans`]), basic auth against bcrypt hashes, extra response headers, and a
//! rate limit ([`super::rate_limit`]).
//!
//! As in Prometheus' exporter-toolkit, the file (and the certificate, key and client CA it
//! names) is read again for every new connection, so renewing a certificate or adding a user
//! needs no restart; the rustls configuration is only rebuilt when those bytes changed. A file
//! that has become invalid refuses new connections (logged) rather than falling back to plain
//! HTTP. bcrypt is slow by design, so a verdict is remembered by a digest of (user, hash,
//! password), as exporter-toolkit caches it, and a scrape every second costs one check.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use http::{header, HeaderMap};
use parking_lot::Mutex;
use rustls::server::{danger::ClientCertVerifier, WebPkiClientVerifier};
use rustls::ServerConfig;
use sha2::{Digest, Sha256};
use wasmfed_config::{ClientAuth, Secret, TlsServerConfig, WebConfig};
use wasmfed_tls::{key_pair, provider, roots_from_pem, system_roots, versions};

use super::client_sans::AllowedSans;
use super::rate_limit::RateLimiter;
use super::unverified_client::UnverifiedClient;

/// Remembered bcrypt verdicts at most; the cache is emptied when full.
const VERDICTS: usize = 1024;

/// The server's view of its web configuration file.
pub struct WebGate {
    path: Option<PathBuf>,
    cached: Mutex<Option<Loaded>>,
    verdicts: Mutex<HashMap<[u8; 32], bool>>,
    /// `rate_limit` as the file held it at start.
    limiter: Option<RateLimiter>,
}

/// The configuration in force for one connection.
#[derive(Clone)]
pub struct Current {
    pub config: Arc<WebConfig>,
    /// Present when the file enables TLS.
    pub tls: Option<Arc<ServerConfig>>,
}

struct Loaded {
    /// The file's bytes and those of the files it names, as last read.
    inputs: Vec<Vec<u8>>,
    current: Current,
}

impl WebGate {
    /// A gate for `path` (None: plain HTTP, no authentication); the file is read and checked
    /// now, so a bad one stops the start with its reason.
    pub fn new(path: Option<PathBuf>) -> Result<WebGate, String> {
        let mut gate = WebGate {
            path,
            cached: Mutex::new(None),
            verdicts: Mutex::new(HashMap::new()),
            limiter: None,
        };
        gate.limiter = gate.current()?.config.rate_limit.map(RateLimiter::new);
        Ok(gate)
    }

    /// Whether the rate limit lets one more request through now (always, without one).
    pub fn allows_request(&self) -> bool {
        self.limiter.as_ref().is_none_or(RateLimiter::allow)
    }

    /// Whether the file, as last read, enables TLS (for start-up warnings).
    pub fn serves_tls(&self) -> bool {
        self.cached
            .lock()
            .as_ref()
            .is_some_and(|loaded| loaded.current.tls.is_some())
    }

    /// The configuration for a new connection: the file read again, rebuilt if it changed.
    pub fn current(&self) -> Result<Current, String> {
        let Some(path) = &self.path else {
            return Ok(Current {
                config: Arc::new(WebConfig::default()),
                tls: None,
            });
        };
        let file =
            std::fs::read(path).map_err(|e| format!("reading web config file {path:?}: {e}"))?;
        let text = String::from_utf8_lossy(&file);
        let dir = path.parent().unwrap_or(Path::new("."));
        let config = WebConfig::from_yaml(&text, dir)
            .map_err(|e| format!("web config file {path:?}: {e}"))?;
        let mut inputs = vec![file];
        let material = match &config.tls {
            Some(tls) => Some(TlsMaterial::read(tls)?),
            None => None,
        };
        if let Some(m) = &material {
            inputs.extend([
                m.cert.clone(),
                m.key.clone(),
                m.client_ca.clone().unwrap_or_default(),
            ]);
        }
        let mut cached = self.cached.lock();
        if let Some(loaded) = cached.as_ref().filter(|l| l.inputs == inputs) {
            return Ok(loaded.current.clone());
        }
        let tls = match (&config.tls, &material) {
            (Some(tls), Some(material)) => Some(Arc::new(server_config(tls, material)?)),
            _ => None,
        };
        let current = Current {
            config: Arc::new(config),
            tls,
        };
        *cached = Some(Loaded {
            inputs,
            current: current.clone(),
        });
        Ok(current)
    }

    /// Whether a request may pass `config`'s `basic_auth_users` (always, when there are none).
    pub fn admits(&self, config: &WebConfig, headers: &HeaderMap) -> bool {
        if config.basic_auth_users.is_empty() {
            return true;
        }
        let Some((user, password)) = basic_credentials(headers) else {
            return false;
        };
        let Some(hash) = config.basic_auth_users.get(&user) else {
            // As much work as a known user's check, so a caller cannot tell the difference.
            let _ = bcrypt::verify(&password, dummy_hash());
            return false;
        };
        let key: [u8; 32] = Sha256::new()
            .chain_update(user.as_bytes())
            .chain_update([0])
            .chain_update(hash.as_bytes())
            .chain_update([0])
            .chain_update(password.as_bytes())
            .finalize()
            .into();
        if let Some(&verdict) = self.verdicts.lock().get(&key) {
            return verdict;
        }
        let verdict = bcrypt::verify(&password, hash).unwrap_or(false);
        let mut verdicts = self.verdicts.lock();
        if verdicts.len() >= VERDICTS {
            verdicts.clear();
        }
        verdicts.insert(key, verdict);
        verdict
    }
}

/// A bcrypt hash at the default cost, checked against for unknown users.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| bcrypt::hash("wasmfed", bcrypt::DEFAULT_COST).unwrap_or_default())
}

/// The user and password of a `Basic` Authorization header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The bytes of the certificate, key and client CA a TLS configuration names.
struct TlsMaterial {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl TlsMaterial {
    fn read(tls: &TlsServerConfig) -> Result<TlsMaterial, String> {
        let read = |secret: &Secret, what: &str| match secret {
            Secret::Inline(text) => Ok(text.clone().into_bytes()),
            Secret::File(path) => std::fs::read(path)
                .map_err(|e| format!("failed to read {what} ({}): {e}", path.display())),
        };
        Ok(TlsMaterial {
            cert: read(&tls.cert, "cert_file")?,
            key: read(&tls.key, "key_file")?,
            client_ca: tls
                .client_ca
                .as_ref()
                .map(|ca| read(ca, "client_ca_file"))
                .transpose()?,
        })
    }
}

/// The rustls server configuration of `tls`, with exporter-toolkit's client policies.
fn server_config(tls: &TlsServerConfig, material: &TlsMaterial) -> Result<ServerConfig, String> {
    let mut provider = (*provider()).clone();
    if !tls.cipher_suites.is_empty() {
        let mut suites = Vec::new();
        for name in &tls.cipher_suites {
            let suite = provider
                .cipher_suites
                .iter()
                .find(|s| go_suite_name(s.suite()).is_some_and(|n| n == name))
                .ok_or_else(|| {
                    format!("unknown cipher: {name} (rustls offers the AEAD suites only)")
                })?;
            suites.push(*suite);
        }
        // Go does not let TLS 1.3 suites be chosen; they stay.
        suites.extend(
            provider
                .cipher_suites
                .iter()
                .filter(|s| s.tls13().is_some())
                .copied(),
        );
        provider.cipher_suites = suites;
    }
    if !tls.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for name in &tls.curve_preferences {
            let wanted = match name.as_str() {
                "X25519" => rustls::NamedGroup::X25519,
                "CurveP256" => rustls::NamedGroup::secp256r1,
                "CurveP384" => rustls::NamedGroup::secp384r1,
                other => {
                    return Err(format!(
                        "unknown curve: {other} (rustls offers X25519, CurveP256, CurveP384)"
                    ))
                }
            };
            groups.extend(
                provider
                    .kx_groups
                    .iter()
                    .filter(|g| g.name() == wanted)
                    .copied(),
            );
        }
        provider.kx_groups = groups;
    }
    let builder = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions(Some(tls.min_version), Some(tls.max_version)))
        .map_err(|e| format!("tls: {e}"))?;
    let builder = builder.with_client_cert_verifier(client_verifier(tls, material)?);
    let (chain, key) = key_pair(&material.cert, &material.key)
        .map_err(|e| format!("failed to load X509KeyPair: {e}"))?;
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("failed to load X509KeyPair: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn client_verifier(
    tls: &TlsServerConfig,
    material: &TlsMaterial,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let roots = || match &material.client_ca {
        Some(pem) => roots_from_pem(pem)
            .map(Arc::new)
            .ok_or_else(|| "client_ca_file holds no certificate".to_string()),
        None => Ok(system_roots()),
    };
    let verified = |optional: bool| -> Result<Arc<dyn ClientCertVerifier>, String> {
        let builder = WebPkiClientVerifier::builder_with_provider(roots()?, provider());
        let builder = if optional {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        builder.build().map_err(|e| format!("client CAs: {e}"))
    };
    let verifier = match tls.client_auth {
        ClientAuth::NoClientCert => WebPkiClientVerifier::no_client_auth(),
        ClientAuth::VerifyClientCertIfGiven => verified(true)?,
        ClientAuth::RequireAndVerifyClientCert => verified(false)?,
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
            let hints = match &material.client_ca {
                Some(pem) => roots_from_pem(pem),
                None => None,
            };
            let mandatory = tls.client_auth == ClientAuth::RequireAnyClientCert;
            tracing::warn!(
                client_auth_type = ?tls.client_auth,
                "client certificates are asked for but not verified (as Go does for this type): \
                 any certificate is admitted; use RequireAndVerifyClientCert with client_ca_file to check them"
            );
            Arc::new(UnverifiedClient::new(mandatory, hints.as_ref(), provider()))
        }
    };
    // The configuration check let `client_allowed_sans` through only with a required
    // certificate, so the list is never consulted for a client that sent none.
    Ok(match &tls.client_allowed_sans {
        None => verifier,
        Some(allowed) => Arc::new(AllowedSans {
            verified: verifier,
            allowed: allowed.clone(),
        }),
    })
}

/// Go's name of a TLS 1.2 suite rustls offers.
fn go_suite_name(suite: rustls::CipherSuite) -> Option<&'static str> {
    use rustls::CipherSuite::*;
    Some(match suite {
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        _ => return None,
    })
}

/// Adds the file's `http_server_config.headers` to a response's headers.
pub fn add_headers(config: &WebConfig, headers: &mut HeaderMap) {
    for (name, value) in &config.headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            header::HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> HeaderMap {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {token}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn users_and_headers_follow_the_file_as_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        let hash = bcrypt::hash("pw", 4).unwrap();
        std::fs::write(&path, format!("basic_auth_users:\n  a: '{hash}'\n")).unwrap();
        let gate = WebGate::new(Some(path.clone())).unwrap();
        let config = gate.current().unwrap().config;
        assert!(gate.admits(&config, &basic("a", "pw")));
        assert!(
            gate.admits(&config, &basic("a", "pw")),
            "remembered verdict"
        );
        assert!(!gate.admits(&config, &basic("a", "wrong")));
        assert!(!gate.admits(&config, &basic("b", "pw")));
        assert!(!gate.admits(&config, &HeaderMap::new()));
        assert!(gate.current().unwrap().tls.is_none());

        // A user added and a header set take effect for the next connection.
        std::fs::write(
            &path,
            format!(
                "basic_auth_users:\n  a: '{hash}'\n  b: '{hash}'\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
            ),
        )
        .unwrap();
        let config = gate.current().unwrap().config;
        assert!(gate.admits(&config, &basic("b", "pw")));
        let mut headers = HeaderMap::new();
        add_headers(&config, &mut headers);
        assert_eq!(headers["x-content-type-options"], "nosniff");

        // A file broken meanwhile refuses connections with its reason.
        std::fs::write(&path, "basic_auth_users: {a: plain}\n").unwrap();
        let err = gate.current().err().unwrap();
        assert!(err.contains("is not a bcrypt hash"), "{err}");
        assert!(WebGate::new(Some(dir.path().join("missing.yml"))).is_err());
        assert!(WebGate::new(None)
            .unwrap()
            .admits(&WebConfig::default(), &HeaderMap::new()));
    }

    #[test]
    fn tls_policies_wasmfed_cannot_honour_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pki = wasmfed_scrape::testing::TestPki::create(dir.path(), "w");
        let path = dir.path().join("web.yml");
        let tls = format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            pki.server_cert.display(),
            pki.server_key.display()
        );
        for (extra, want) in [
            ("", None),
            (
                "  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n",
                None,
            ),
            ("  curve_preferences: [X25519, CurveP256]\n", None),
            (
                "  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
                Some("unknown cipher: TLS_RSA_WITH_AES_128_CBC_SHA"),
            ),
            (
                "  curve_preferences: [CurveP521]\n",
                Some("unknown curve: CurveP521"),
            ),
            ("  client_auth_type: RequireAnyClientCert\n", None),
            ("  client_auth_type: RequestClientCert\n", None),
        ] {
            std::fs::write(&path, format!("{tls}{extra}")).unwrap();
            match (WebGate::new(Some(path.clone())), want) {
                (Ok(gate), None) => assert!(gate.serves_tls(), "{extra}"),
                (Err(e), Some(want)) => assert!(e.contains(want), "{extra}: {e}"),
                (Ok(_), Some(want)) => panic!("{extra}: accepted, want {want}"),
                (Err(e), None) => panic!("{extra}: {e}"),
            }
        }
    }
}
