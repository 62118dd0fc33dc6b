//! rustls as wasmfed uses it on both sides of a connection: scrapes (`wasmfed-scrape`, the
//! client) and the web server (`wasmfed-web`, `--web.config.file`). One crypto provider, the
//! system's roots read once, PEM bundles read as Go reads them, and Prometheus' version names.
//!
//! rustls speaks TLS 1.2 and 1.3 only: a minimum of TLS10 or TLS11 allows 1.2 and up, which
//! is what any peer that still speaks the old versions also offers.

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{RootCertStore, SupportedProtocolVersion};
use wasmfed_config::TlsVersion;

pub use rustls;

/// ring: rustls 0.23.48 deprecates it for lacking post-quantum key exchange, but aws-lc-rs
/// would add a large C build to every build of wasmfed; peers offer X25519 either way.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's trusted roots, read once (Go reads them once per process too).
pub fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!("no system CA certificates found: name a CA file for TLS peers");
            }
            Arc::new(roots)
        })
        .clone()
}

/// The protocol versions between `min` and `max` (either open) that rustls speaks.
pub fn versions(
    min: Option<TlsVersion>,
    max: Option<TlsVersion>,
) -> &'static [&'static SupportedProtocolVersion] {
    static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static TLS12: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    static BOTH: [&SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    match (min, max) {
        (Some(TlsVersion::Tls13), _) => &TLS13,
        (_, Some(TlsVersion::Tls12 | TlsVersion::Tls11 | TlsVersion::Tls10)) => &TLS12,
        _ => &BOTH,
    }
}

/// Every certificate of a PEM bundle as trusted roots; None when it holds none (Go's
/// `AppendCertsFromPEM`).
pub fn roots_from_pem(pem: &[u8]) -> Option<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem).flatten() {
        let _ = roots.add(cert);
    }
    (!roots.is_empty()).then_some(roots)
}

/// A certificate chain and its private key, from PEM (Go's `tls.X509KeyPair`).
pub fn key_pair(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_within_bounds() {
        let v = |min, max| {
            versions(min, max)
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>()
        };
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        assert_eq!(v(None, None), [TLSv1_3, TLSv1_2]);
        assert_eq!(v(Some(TlsVersion::Tls10), None), [TLSv1_3, TLSv1_2]);
        assert_eq!(v(Some(TlsVersion::Tls13), None), [TLSv1_3]);
        assert_eq!(v(None, Some(TlsVersion::Tls12)), [TLSv1_2]);
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        assert!(roots_from_pem(b"not a certificate").is_none());
        assert!(key_pair(b"", b"").is_err());
    }
}
