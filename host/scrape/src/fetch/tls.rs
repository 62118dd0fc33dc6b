//! A job's `tls_config` as a rustls client configuration, and TLS failures worded as Go's
//! client words them (a target's `lastError` should read the same as in Prometheus).
//!
//! rustls speaks TLS 1.2 and 1.3 only: a `min_version` of TLS10 or TLS11 allows 1.2 and up,
//! which is what any server that still speaks the old versions also offers.

use std::io;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
};
use wasmfed_config::{TlsConfig, TlsVersion};

/// The bytes of a job's CA, client certificate and key as last read, and where each came from
/// (a path, or "inline"), for messages.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsMaterial {
    pub ca: Option<(Vec<u8>, String)>,
    pub cert: Option<(Vec<u8>, String)>,
    pub key: Option<(Vec<u8>, String)>,
}

/// ring: rustls 0.23.48 deprecates it for lacking post-quantum key exchange, but aws-lc-rs
/// would add a large C build to every build of wasmfed; targets offer X25519 either way.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's trusted roots, read once (Go reads them once per process too).
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(
                    "no system CA certificates found; https targets need tls_config.ca_file"
                );
            }
            Arc::new(roots)
        })
        .clone()
}

/// Builds the client configuration of `cfg` from `material`; errors as prometheus/common's.
pub(crate) fn client_config(
    cfg: &TlsConfig,
    material: &TlsMaterial,
) -> Result<ClientConfig, String> {
    let versions: &[&rustls::SupportedProtocolVersion] = match (cfg.min_version, cfg.max_version) {
        (Some(TlsVersion::Tls13), _) => &[&rustls::version::TLS13],
        (_, Some(TlsVersion::Tls12 | TlsVersion::Tls11 | TlsVersion::Tls10)) => {
            &[&rustls::version::TLS12]
        }
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| format!("tls: {e}"))?;
    let builder = if cfg.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
    } else {
        let roots = match &material.ca {
            Some((pem, source)) => Arc::new(
                ca_roots(pem).ok_or_else(|| format!("unable to use specified CA cert {source}"))?,
            ),
            None => system_roots(),
        };
        builder.with_root_certificates(roots)
    };
    let mut config = match (&material.cert, &material.key) {
        (Some((cert, cert_source)), Some((key, key_source))) => {
            let pair = client_pair(cert, key).map_err(|e| {
                format!(
                    "unable to use specified client cert ({cert_source}) & key ({key_source}): {e}"
                )
            })?;
            builder.with_client_auth_cert(pair.0, pair.1).map_err(|e| {
                format!(
                    "unable to use specified client cert ({cert_source}) & key ({key_source}): {e}"
                )
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    // One request per connection at a time, over HTTP/1.1 (see `super::http1`).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Every certificate of a PEM bundle; None when it holds none (Go's `AppendCertsFromPEM`).
fn ca_roots(pem: &[u8]) -> Option<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem).flatten() {
        let _ = roots.add(cert);
    }
    (!roots.is_empty()).then_some(roots)
}

fn client_pair(
    cert: &[u8],
    key: &[u8],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain: Vec<_> = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!("tls: failed to find certificate PEM data in certificate input: {e}")
        })?;
    if chain.is_empty() {
        return Err("tls: failed to find any PEM data in certificate input".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|_| "tls: failed to find any PEM data in key input".to_string())?;
    Ok((chain, key))
}

/// The name the server's certificate must carry: `server_name`, else the URL's host.
pub(crate) fn server_name(cfg: &TlsConfig, host: &str) -> Result<ServerName<'static>, String> {
    let name = cfg.server_name.as_deref().unwrap_or(host);
    ServerName::try_from(name.to_owned()).map_err(|_| format!("tls: invalid server name {name:?}"))
}

/// A failed connection or exchange, with TLS failures worded as Go's `crypto/tls` and
/// `crypto/x509` word them (Go 1.20 and later).
pub(crate) fn describe(e: &io::Error) -> String {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return e.to_string();
    };
    let verify = "tls: failed to verify certificate: x509:";
    match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                format!("{verify} certificate signed by unknown authority")
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => {
                let names: Vec<&str> = presented.iter().map(|p| presented_name(p)).collect();
                let has_ip = names.iter().any(|n| n.parse::<std::net::IpAddr>().is_ok());
                match expected {
                    ServerName::IpAddress(ip) if !has_ip => {
                        let ip = std::net::IpAddr::from(*ip);
                        format!("{verify} cannot validate certificate for {ip} because it doesn't contain any IP SANs")
                    }
                    _ => format!(
                        "{verify} certificate is valid for {}, not {}",
                        names.join(", "),
                        expected.to_str()
                    ),
                }
            }
            CertificateError::NotValidForName => {
                format!("{verify} certificate is not valid for the requested name")
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => {
                format!("{verify} certificate has expired or is not yet valid")
            }
            other => format!("{verify} {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => {
            let what = match alert {
                AlertDescription::BadCertificate => "bad certificate".to_owned(),
                AlertDescription::CertificateRequired => "certificate required".to_owned(),
                AlertDescription::UnknownCA => "unknown certificate authority".to_owned(),
                AlertDescription::HandshakeFailure => "handshake failure".to_owned(),
                AlertDescription::ProtocolVersion => "protocol version not supported".to_owned(),
                other => format!("{other:?}"),
            };
            format!("remote error: tls: {what}")
        }
        other => format!("tls: {other}"),
    }
}

/// A subject name as rustls reports it (`DnsName("a.example")`, `IpAddress(10.0.0.1)`), bare.
fn presented_name(name: &str) -> &str {
    let inner = name
        .strip_prefix("DnsName(")
        .or_else(|| name.strip_prefix("IpAddress("))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(name);
    inner.trim_matches('"')
}

/// `insecure_skip_verify`: any certificate is accepted, but the handshake's signatures are
/// still checked (the connection is encrypted to whoever answered).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
