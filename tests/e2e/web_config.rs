//! `--web.config.file` keys beyond TLS and basic auth, against real TLS and HTTP clients (the
//! rustls client wasmfed scrapes with, and plain HTTP/1.1): `client_allowed_sans`, checked as
//! exporter-toolkit checks it after the client certificate was verified, and `rate_limit`,
//! exporter-toolkit's one token bucket answering `429 Too Many Requests`.

use wasmfed_config::{HttpClientConfig, Secret, TlsConfig};
use wasmfed_scrape::fetch::HttpClient;
use wasmfed_scrape::testing::TestPki;

use crate::harness::*;

#[test]
fn client_allowed_sans_admit_only_certificates_naming_a_listed_san() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "sans");
    let web = dir.path().join("web.yml");
    let write_web = |allowed: &str| {
        std::fs::write(
            &web,
            format!(
                "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n  client_allowed_sans: {allowed}\n",
                pki.server_cert.display(),
                pki.server_key.display(),
                pki.ca.display()
            ),
        )
        .unwrap()
    };
    // The client certificate's SANs are wasmfed.test and 10.0.0.7.
    write_web("[prometheus.test, wasmfed.test]");
    let node_dir = tempfile::tempdir().unwrap();
    let config = node_dir.path().join("wasmfed.yml");
    std::fs::write(&config, global_section("")).unwrap();
    let flag = format!("--web.config.file={}", web.display());
    let mut node = Wasmfed::spawn_with(node_dir, &config, &[&flag]);
    let client = HttpClient::new(&HttpClientConfig {
        tls: TlsConfig {
            ca: Some(Secret::File(pki.ca.clone())),
            cert: Some(Secret::File(pki.client_cert.clone())),
            key: Some(Secret::File(pki.client_key.clone())),
            ..TlsConfig::default()
        },
        ..HttpClientConfig::default()
    });
    node.wait_ready_https(&client);
    let ready = format!("https://{}/-/ready", node.addr);

    // An IP SAN matches as Go prints the address.
    write_web("['10.0.0.7']");
    assert!(fetch_with(&client, &ready).is_ok());

    // The file is read again for each connection: a list without the client's SANs refuses
    // it, with the alert Go's server sends.
    write_web("[prometheus.test, 10.0.0.8]");
    let refused = fetch_with(&client, &ready).unwrap_err();
    assert!(
        refused.contains("remote error: tls: bad certificate"),
        "{refused}"
    );
    let log = node.log_text();
    assert!(
        log.contains(
            "could not find allowed SANs in client cert, found: [prometheus.test 10.0.0.8]"
        ),
        "{log}"
    );

    // Without a client certificate the handshake fails before any SAN is looked at.
    let anonymous = HttpClient::new(&HttpClientConfig {
        tls: TlsConfig {
            ca: Some(Secret::File(pki.ca.clone())),
            ..TlsConfig::default()
        },
        ..HttpClientConfig::default()
    });
    write_web("[wasmfed.test]");
    let refused = fetch_with(&anonymous, &ready).unwrap_err();
    assert!(refused.contains("certificate required"), "{refused}");
    assert!(fetch_with(&client, &ready).is_ok());
}

/// `RequestClientCert` and `RequireAnyClientCert`, as Go's server runs them for
/// exporter-toolkit: a certificate is asked for (required by the second) but its chain is not
/// verified, so one from a CA the server does not know is admitted, and the start says so.
#[test]
fn unverified_client_auth_types_admit_any_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "known");
    let stranger = TestPki::create(dir.path(), "stranger");
    let web = dir.path().join("web.yml");
    let write_web = |auth: &str| {
        std::fs::write(
            &web,
            format!(
                "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: {auth}\n  client_ca_file: {}\n",
                pki.server_cert.display(),
                pki.server_key.display(),
                pki.ca.display()
            ),
        )
        .unwrap()
    };
    write_web("RequireAnyClientCert");
    let node_dir = tempfile::tempdir().unwrap();
    let config = node_dir.path().join("wasmfed.yml");
    std::fs::write(&config, global_section("")).unwrap();
    let flag = format!("--web.config.file={}", web.display());
    let mut node = Wasmfed::spawn_with(node_dir, &config, &[&flag]);
    let client = |cert: Option<&TestPki>| {
        HttpClient::new(&HttpClientConfig {
            tls: TlsConfig {
                ca: Some(Secret::File(pki.ca.clone())),
                cert: cert.map(|p| Secret::File(p.client_cert.clone())),
                key: cert.map(|p| Secret::File(p.client_key.clone())),
                ..TlsConfig::default()
            },
            ..HttpClientConfig::default()
        })
    };
    let (known, foreign, anonymous) = (client(Some(&pki)), client(Some(&stranger)), client(None));
    node.wait_ready_https(&known);
    let ready = format!("https://{}/-/ready", node.addr);
    assert!(fetch_with(&foreign, &ready).is_ok());
    let refused = fetch_with(&anonymous, &ready).unwrap_err();
    assert!(refused.contains("certificate required"), "{refused}");
    let log = node.log_text();
    assert!(
        log.contains("client certificates are asked for but not verified"),
        "{log}"
    );

    // Asked for, not required: a client without one is admitted too.
    write_web("RequestClientCert");
    for client in [&known, &foreign, &anonymous] {
        assert!(fetch_with(client, &ready).is_ok());
    }
    // RequireAndVerifyClientCert, for contrast: the stranger's certificate is refused.
    write_web("RequireAndVerifyClientCert");
    assert!(fetch_with(&known, &ready).is_ok());
    assert!(fetch_with(&foreign, &ready).is_err());
}

#[test]
fn rate_limit_answers_too_many_requests_past_the_burst() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    // An hour between new tokens: within the test only the burst is spent, whatever the timing.
    std::fs::write(
        &web,
        "rate_limit:\n  burst: 50\n  interval: 1h\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n",
    )
    .unwrap();
    let flag = format!("--web.config.file={}", web.display());
    let node = Wasmfed::start_args(&global_section(""), &[&flag]);
    // Readiness polls spent some of the burst: what is left passes, then everything is refused.
    let responses: Vec<HttpResponse> = (0..55)
        .map(|_| get(node.addr, "/-/healthy").unwrap())
        .collect();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    let passed = statuses.iter().take_while(|s| **s == 200).count();
    assert!((1..50).contains(&passed), "{statuses:?}");
    assert!(statuses[passed..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(responses[0].header("x-frame-options"), Some("deny"));
    let refused = responses.last().unwrap();
    assert_eq!(refused.text(), "Too Many Requests\n");
    // As exporter-toolkit: refused before the configured headers are added.
    assert_eq!(refused.header("x-frame-options"), None);
}
