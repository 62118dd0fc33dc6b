//! Scraping a real node_exporter (Debian's 1.5.0) behind its `--web.config.file`: TLS with a
//! test CA, basic auth (bcrypt), and client-certificate verification. Each misconfiguration
//! leaves its target down with a `lastError` as clear as Prometheus'.

use std::path::Path;

use wasmfed_scrape::testing::TestPki;

use crate::harness::*;

/// Writes an exporter-toolkit web config into `dir` and returns its path.
fn web_config(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}-web.yml"));
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn scrapes_node_exporter_over_tls_with_basic_auth_and_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "node");
    let stranger = TestPki::create(dir.path(), "stranger");
    let tls_server = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        pki.server_cert.display(),
        pki.server_key.display()
    );
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let tls_only = NodeExporter::with_web_config(&web_config(dir.path(), "tls", &tls_server));
    let with_auth = NodeExporter::with_web_config(&web_config(
        dir.path(),
        "auth",
        &format!("{tls_server}basic_auth_users:\n  prom: '{hash}'\n"),
    ));
    let mutual = NodeExporter::with_web_config(&web_config(
        dir.path(),
        "mtls",
        &format!(
            "{tls_server}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            pki.ca.display()
        ),
    ));
    let password = dir.path().join("password");
    std::fs::write(&password, "s3cret\n").unwrap();

    let ca = format!("      ca_file: {}\n", pki.ca.display());
    let client_cert = format!(
        "      cert_file: {}\n      key_file: {}\n",
        pki.client_cert.display(),
        pki.client_key.display()
    );
    let https =
        |tls: &str, extra: &str| format!("    scheme: https\n    tls_config:\n{tls}{extra}");
    let config = format!(
        "{}scrape_configs:\n{}{}{}{}{}{}{}{}{}",
        global_section(""),
        static_job("tls", &[tls_only.addr], &https(&ca, "")),
        static_job(
            "tls_unknown_ca",
            &[tls_only.addr],
            &https(&format!("      ca_file: {}\n", stranger.ca.display()), "")
        ),
        static_job(
            "tls_wrong_name",
            &[tls_only.addr],
            &https(&format!("{ca}      server_name: node.example\n"), "")
        ),
        static_job("plain_http_to_tls", &[tls_only.addr], ""),
        static_job(
            "auth",
            &[with_auth.addr],
            &https(
                &ca,
                &format!(
                    "    basic_auth:\n      username: prom\n      password_file: {}\n",
                    password.display()
                )
            )
        ),
        static_job(
            "auth_wrong_password",
            &[with_auth.addr],
            &https(
                &ca,
                "    basic_auth:\n      username: prom\n      password: guess\n"
            )
        ),
        static_job(
            "mtls",
            &[mutual.addr],
            &https(&format!("{ca}{client_cert}"), "")
        ),
        static_job("mtls_no_cert", &[mutual.addr], &https(&ca, "")),
        static_job(
            "mtls_foreign_cert",
            &[mutual.addr],
            &https(
                &format!(
                    "{ca}      cert_file: {}\n      key_file: {}\n",
                    stranger.client_cert.display(),
                    stranger.client_key.display()
                ),
                ""
            )
        ),
    );
    let node = Wasmfed::start(&config);
    wait_for_health(
        &node,
        &[
            ("tls", ""),
            (
                "tls_unknown_ca",
                "tls: failed to verify certificate: x509: certificate signed by unknown authority",
            ),
            (
                "tls_wrong_name",
                "x509: certificate is valid for localhost, 127.0.0.1, not node.example",
            ),
            (
                "plain_http_to_tls",
                "server returned HTTP status 400 Bad Request",
            ),
            ("auth", ""),
            (
                "auth_wrong_password",
                "server returned HTTP status 401 Unauthorized",
            ),
            ("mtls", ""),
            ("mtls_no_cert", "remote error: tls: "),
            ("mtls_foreign_cert", "remote error: tls: "),
        ],
    );
    // The scraped data is node_exporter's own.
    let federated = node.federate(&["node_memory_MemTotal_bytes"]).text();
    for job in ["tls", "auth", "mtls"] {
        assert!(
            metric_with(&federated, "node_memory_MemTotal_bytes", &[("job", job)]).is_some(),
            "{job}: {federated}"
        );
    }

    // A rotated password file is read on the next scrape: the target goes down with it.
    std::fs::write(&password, "rotated").unwrap();
    wait_for_health(
        &node,
        &[("auth", "server returned HTTP status 401 Unauthorized")],
    );
}
