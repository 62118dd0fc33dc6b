//! A job's `tls_config` as a rustls client configuration (built with `wasmfed-tls`), and TLS
//! failures worded as Go's client words them (a target's `lastError` should read the same as
//! in Prometheus).

use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct};
use wasmfed_config::TlsConfig;
use wasmfed_tls::{key_pair, provider, roots_from_pem, system_roots, versions};

/// The bytes of a job's CA, client certificate and key as last read, and where each came from
/// (a path, or "inline"), for messages.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsMaterial {
    pub ca: Option<(Vec<u8>, String)>,
    pub cert: Option<(Vec<u8>, String)>,
    pub key: Option<(Vec<u8>, String)>,
}

/// Builds the client configuration of `cfg` from `material`; errors as prometheus/common's.
pub(crate) fn client_config(
    cfg: &TlsConfig,
    material: &TlsMaterial,
) -> Result<ClientConfig, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions(cfg.min_version, cfg.max_version))
        .map_err(|e| format!("tls: {e}"))?;
    let builder = if cfg.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
    } else {
        let roots = match &material.ca {
            Some((pem, source)) => Arc::new(
                roots_from_pem(pem)
                    .ok_or_else(|| format!("unable to use specified CA cert {source}"))?,
            ),
            None => system_roots(),
        };
        builder.with_root_certificates(roots)
    };
    let mut config = match (&material.cert, &material.key) {
        (Some((cert, cert_source)), Some((key, key_source))) => {
            let pair = key_pair(cert, key).map_err(|e| {
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
