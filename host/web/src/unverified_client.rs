//! `client_auth_type: RequestClientCert` and `RequireAnyClientCert`: Go's server asks for (or
//! requires) a client certificate and does not verify its chain, only that the client holds
//! its private key (the handshake's CertificateVerify signature). exporter-toolkit passes these
//! modes through to Go, so a node_exporter's or Prometheus' web configuration with them starts
//! a wasmfed unchanged and admits the same clients.
//!
//! rustls has no such policy built in, so this verifier is it: every certificate is accepted
//! as presented (no chain, no expiry, no CA), the signatures are checked with the provider's
//! algorithms as for any peer. Such a certificate identifies nobody on its own; the server
//! says so in its log at start, and `client_allowed_sans` (checked after this verifier, in
//! [`super::client_sans`]) then compares names the client chose, as Go's does.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

/// Asks for a client certificate (`mandatory`: requires one) and accepts any.
#[derive(Debug)]
pub(crate) struct UnverifiedClient {
    mandatory: bool,
    /// The client CA file's subjects, sent as hints as Go sends its `ClientCAs`' subjects.
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
}

impl UnverifiedClient {
    pub fn new(
        mandatory: bool,
        hints: Option<&RootCertStore>,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        Self {
            mandatory,
            hints: hints.map(RootCertStore::subjects).unwrap_or_default(),
            provider,
        }
    }
}

impl ClientCertVerifier for UnverifiedClient {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
