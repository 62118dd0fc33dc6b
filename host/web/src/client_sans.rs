//! `tls_server_config.client_allowed_sans`: a client certificate, once verified against the
//! client CAs, must also carry one of the listed subject alternative names, as exporter-toolkit
//! checks it in `VerifyPeerCertificate`: the DNS names, e-mail addresses, IP addresses (as Go
//! prints them) and URIs of the certificate, each compared exactly with the list.
//!
//! rustls' verifier checks the chain but does not list the names, so the certificate is read
//! with `x509-cert` here, after the chain was verified. A refused certificate ends the
//! handshake with a `bad_certificate` alert, as Go's server sends when that check fails, and
//! is logged with exporter-toolkit's message.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

/// A client certificate verifier that also requires one of `allowed` among the SANs.
#[derive(Debug)]
pub(crate) struct AllowedSans {
    pub verified: Arc<dyn ClientCertVerifier>,
    pub allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.verified.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.verified.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.verified.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .verified
            .verify_client_cert(end_entity, intermediates, now)?;
        let sans = subject_alt_names(end_entity).map_err(|e| {
            tracing::warn!("error parsing client certificate: {e}");
            rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
        })?;
        if sans.iter().any(|san| self.allowed.contains(san)) {
            return Ok(verified);
        }
        tracing::warn!(
            presented = ?sans,
            "refusing a client certificate: could not find allowed SANs in client cert, found: [{}]",
            self.allowed.join(" ")
        );
        Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verified.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verified.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verified.supported_verify_schemes()
    }
}

/// A certificate's SANs as exporter-toolkit lists them: DNS names, e-mail addresses, IP
/// addresses, URIs (Go's `x509.Certificate` fields, in that order).
pub(crate) fn subject_alt_names(der: &[u8]) -> Result<Vec<String>, String> {
    let cert = Certificate::from_der(der).map_err(|e| e.to_string())?;
    let names = match cert.tbs_certificate().get_extension::<SubjectAltName>() {
        Ok(Some((_, names))) => names.0,
        Ok(None) => Vec::new(),
        Err(e) => return Err(e.to_string()),
    };
    let mut dns = Vec::new();
    let mut email = Vec::new();
    let mut ip = Vec::new();
    let mut uri = Vec::new();
    for name in names {
        match name {
            GeneralName::DnsName(name) => dns.push(name.to_string()),
            GeneralName::Rfc822Name(name) => email.push(name.to_string()),
            GeneralName::UniformResourceIdentifier(name) => uri.push(name.to_string()),
            GeneralName::IpAddress(bytes) => ip.extend(go_ip_string(bytes.as_bytes())),
            _ => {}
        }
    }
    Ok([dns, email, ip, uri].concat())
}

/// Go's `net.IP.String()`: an IPv4-mapped IPv6 address prints as IPv4.
fn go_ip_string(bytes: &[u8]) -> Option<String> {
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => {
            let v6 = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some(ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, SanType};

    #[test]
    fn lists_sans_as_exporter_toolkit_does() {
        let mut params = CertificateParams::new(vec!["client.example".to_owned()]).unwrap();
        params.subject_alt_names.extend([
            SanType::URI("spiffe://cluster/ns/monitoring".try_into().unwrap()),
            SanType::IpAddress("10.0.0.7".parse().unwrap()),
            SanType::IpAddress("2001:db8::1".parse().unwrap()),
            SanType::Rfc822Name("ops@example.com".try_into().unwrap()),
        ]);
        let cert = params.self_signed(&KeyPair::generate().unwrap()).unwrap();
        assert_eq!(
            subject_alt_names(cert.der()).unwrap(),
            [
                "client.example",
                "ops@example.com",
                "10.0.0.7",
                "2001:db8::1",
                "spiffe://cluster/ns/monitoring"
            ]
        );
        let bare = CertificateParams::new(Vec::<String>::new()).unwrap();
        let bare = bare.self_signed(&KeyPair::generate().unwrap()).unwrap();
        assert!(subject_alt_names(bare.der()).unwrap().is_empty());
        assert!(subject_alt_names(b"not a certificate").is_err());
        assert_eq!(
            go_ip_string(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]).as_deref(),
            Some("192.0.2.1")
        );
    }
}
