//! Scraping a real node_exporter (Debian's 1.5.0) behind its `--web.config.file`: TLS with a
//! test CA, basic auth (bcrypt), and client-certificate verification. Each misconfiguration
//! leaves its target down with a `lastError` as clear as Prometheus'.

use std::path::Path;

use std::time::Duration;

use wasmfed_config::{Auth, HttpClientConfig, Secret, TlsConfig};
use wasmfed_scrape::fetch::HttpClient;
use wasmfed_scrape::testing::TestPki;

use crate::harness::*;
use crate::prometheus::{global, job, Prometheus};

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

/// A scrape client trusting `pki`'s CA, with basic auth credentials if given.
fn client(pki: &TestPki, basic: Option<(&str, &str)>) -> HttpClient {
    let inline = |s: &str| Some(Secret::Inline(s.to_owned()));
    HttpClient::new(&HttpClientConfig {
        auth: basic.map(|(user, password)| Auth::Basic {
            username: inline(user),
            password: inline(password),
        }),
        tls: TlsConfig {
            ca: Some(Secret::File(pki.ca.clone())),
            ..TlsConfig::default()
        },
        ..HttpClientConfig::default()
    })
}

#[test]
fn prometheus_and_wasmfed_federate_each_other_over_https_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "serve");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    // One web config file, as an operator would hand both servers.
    let web = web_config(
        dir.path(),
        "serve",
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  prom: '{hash}'\n\
             http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
            pki.server_cert.display(),
            pki.server_key.display()
        ),
    );
    let authorized = client(&pki, Some(("prom", "s3cret")));
    let exporter = Exporter::start(|path| {
        Reply::Text(
            if path == "/w" {
                "w_value 1.5\n"
            } else {
                "p_value 2.5\n"
            }
            .into(),
        )
    });
    let over_https = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {}\n    basic_auth:\n      username: prom\n      password: s3cret\n",
        pki.ca.display()
    );
    let federation = |name: &str, target, selector: &str| {
        job(
            name,
            target,
            "/federate",
            &format!("    honor_labels: true\n    params:\n      'match[]': ['{selector}']\n{over_https}"),
        )
    };

    let leaf_dir = tempfile::tempdir().unwrap();
    let leaf_config = leaf_dir.path().join("wasmfed.yml");
    std::fs::write(
        &leaf_config,
        format!(
            "{}scrape_configs:\n{}",
            global("leaf"),
            job("wonly", exporter.addr, "/w", "")
        ),
    )
    .unwrap();
    let web_flag = format!("--web.config.file={}", web.display());
    let mut leaf = Wasmfed::spawn_with(leaf_dir, &leaf_config, &[&web_flag]);
    leaf.wait_ready_https(&authorized);

    let prometheus = Prometheus::start_https(
        &format!(
            "{}scrape_configs:\n{}{}",
            global("prom"),
            job("ponly", exporter.addr, "/p", ""),
            federation("from_wasmfed", leaf.addr, r#"{job="wonly"}"#),
        ),
        &web,
        &authorized,
    );
    let global_node = Wasmfed::start(&format!(
        "{}scrape_configs:\n{}",
        global("global"),
        federation("from_prometheus", prometheus.addr, r#"{job="ponly"}"#),
    ));

    let federate_url =
        |addr, selector: &str| format!("https://{addr}/federate?match[]={}", enc(selector));
    wait_for(
        "prometheus to federate wasmfed over https",
        Duration::from_secs(60),
        || {
            let text = fetch_with(
                &authorized,
                &federate_url(prometheus.addr, r#"{job="wonly"}"#),
            )?;
            metric_with(&text, "w_value", &[("dc", "leaf"), ("job", "wonly")])
                .filter(|v| *v == 1.5)
                .ok_or(text)
        },
    );
    wait_for(
        "wasmfed to federate prometheus over https",
        Duration::from_secs(60),
        || {
            let text = global_node.federate(&[r#"{job="ponly"}"#]).text();
            metric_with(&text, "p_value", &[("dc", "prom"), ("job", "ponly")])
                .filter(|v| *v == 2.5)
                .ok_or(text)
        },
    );

    // Without credentials, with a wrong password, or in plain HTTP: refused.
    let leaf_ready = format!("https://{}/-/ready", leaf.addr);
    for (who, c) in [
        ("no credentials", client(&pki, None)),
        ("wrong password", client(&pki, Some(("prom", "guess")))),
        ("unknown user", client(&pki, Some(("root", "s3cret")))),
    ] {
        let err = fetch_with(&c, &leaf_ready).unwrap_err();
        assert_eq!(err, "server returned HTTP status 401 Unauthorized", "{who}");
    }
    let plain = get(leaf.addr, "/-/ready").map(|r| r.status);
    assert!(plain != Ok(200), "plain HTTP served: {plain:?}");
}

/// A TCP relay on loopback that forwards every connection to `upstream` and keeps a copy of
/// the bytes clients sent: what an observer on the network would see.
struct Relay {
    addr: std::net::SocketAddr,
    sent: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Relay {
    fn start(upstream: std::net::SocketAddr) -> Relay {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind(("127.0.0.1", free_port())).unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let captured = sent.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let (mut client_out, mut server_in) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server_in, &mut client_out);
                    let _ = client_out.shutdown(std::net::Shutdown::Write);
                });
                let captured = captured.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n) = client.read(&mut buf) {
                        if n == 0 || server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        captured.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = server.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Relay { addr, sent }
    }

    fn contains(&self, needle: &[u8]) -> bool {
        self.sent
            .lock()
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
    }
}

#[test]
fn a_global_federates_a_leaf_tenant_over_mutual_tls_without_the_token_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "tenants");
    let web = web_config(
        dir.path(),
        "leaf",
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            pki.server_cert.display(),
            pki.server_key.display(),
            pki.ca.display()
        ),
    );
    let exporter = Exporter::start(|_| Reply::Text("team_requests_total 42\n".into()));
    let token = "t0ken-of-team-a-3b9f";
    let leaf_dir = tempfile::tempdir().unwrap();
    let leaf_config = leaf_dir.path().join("wasmfed.yml");
    std::fs::write(
        &leaf_config,
        format!(
            "{}tenants:\n  - name: team-a\n    bearer_token: {token}\n    scrape_configs:\n      - job_name: team-a-app\n        static_configs: [{{targets: ['{}']}}]\n",
            global_section(""),
            exporter.addr
        ),
    )
    .unwrap();
    let web_flag = format!("--web.config.file={}", web.display());
    let mut leaf = Wasmfed::spawn_with(leaf_dir, &leaf_config, &[&web_flag]);
    let mut mtls = TlsConfig {
        ca: Some(Secret::File(pki.ca.clone())),
        cert: Some(Secret::File(pki.client_cert.clone())),
        key: Some(Secret::File(pki.client_key.clone())),
        ..TlsConfig::default()
    };
    leaf.wait_ready_https(&HttpClient::new(&HttpClientConfig {
        tls: mtls.clone(),
        ..HttpClientConfig::default()
    }));

    let relay = Relay::start(leaf.addr);
    // http_headers is Prometheus 3's: this node reads its configuration as 3 does.
    let global_node = Wasmfed::start_args(&format!(
        "{}scrape_configs:\n  - job_name: leaf-team-a\n    scheme: https\n    metrics_path: /federate\n    honor_labels: true\n    \
         params:\n      'match[]': ['{{job=\"team-a-app\"}}']\n    tls_config:\n      ca_file: {}\n      cert_file: {}\n      key_file: {}\n      \
         server_name: localhost\n    authorization:\n      credentials: {token}\n    http_headers:\n      X-Scope-OrgID:\n        values: [team-a]\n    \
         static_configs: [{{targets: ['{}']}}]\n",
        global_section(""),
        pki.ca.display(),
        pki.client_cert.display(),
        pki.client_key.display(),
        relay.addr
    ), &["--query.compat=3"]);
    wait_for(
        "the global to hold the tenant's series",
        Duration::from_secs(30),
        || {
            let text = global_node.federate(&["team_requests_total"]).text();
            metric_with(&text, "team_requests_total", &[("job", "team-a-app")])
                .filter(|v| *v == 42.0)
                .ok_or(text)
        },
    );
    // What crossed the relay was TLS: neither the token nor the tenant's name in clear.
    assert!(relay.contains(&[0x16, 0x03]), "no TLS handshake seen");
    assert!(
        !relay.contains(token.as_bytes()),
        "the token crossed in clear"
    );
    assert!(
        !relay.contains(b"X-Scope-OrgID"),
        "the request head crossed in clear"
    );

    // With a client certificate but without the token, no tenant data; without a client
    // certificate, no connection.
    let no_token = HttpClient::new(&HttpClientConfig {
        tls: mtls.clone(),
        headers: vec![(
            "X-Scope-Orgid".into(),
            vec![Secret::Inline("team-a".into())],
        )],
        ..HttpClientConfig::default()
    });
    let err = fetch_with(
        &no_token,
        &format!("https://{}/federate?match[]=up", leaf.addr),
    )
    .unwrap_err();
    assert_eq!(err, "server returned HTTP status 401 Unauthorized");
    mtls.cert = None;
    mtls.key = None;
    let no_cert = HttpClient::new(&HttpClientConfig {
        tls: mtls,
        ..HttpClientConfig::default()
    });
    let err = fetch_with(&no_cert, &format!("https://{}/-/ready", leaf.addr)).unwrap_err();
    assert!(
        err.contains("remote error: tls: certificate required"),
        "{err}"
    );
}

/// `wasmfed check web-config` reads a file as the server would; a node given a bad one does
/// not start, and says why.
#[test]
fn bad_web_configs_are_refused_with_the_reason() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "check");
    let tls = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        pki.server_cert.display(),
        pki.server_key.display()
    );
    let cases = [
        ("good", tls.clone(), "SUCCESS"),
        (
            "plain_password",
            "basic_auth_users:\n  prom: s3cret\n".to_owned(),
            "the password of \"prom\" is not a bcrypt hash",
        ),
        (
            "missing_key",
            "tls_server_config:\n  cert_file: server.pem\n".to_owned(),
            "missing one of key or key_file",
        ),
        (
            "unreadable_cert",
            "tls_server_config:\n  cert_file: nope.pem\n  key_file: nope-key.pem\n".to_owned(),
            "failed to read cert_file (",
        ),
        (
            "unknown_client_auth",
            format!("{tls}  client_auth_type: RequireSomeClientCert\n"),
            "invalid ClientAuth: RequireSomeClientCert",
        ),
    ];
    for (name, body, want) in &cases {
        let path = web_config(dir.path(), name, body);
        let out = Command::new(env!("CARGO_BIN_EXE_wasmfed"))
            .args(["check", "web-config"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.success(), *name == "good", "{name}: {text}");
        assert!(text.contains(want), "{name}: {text}");
    }
    let config = dir.path().join("wasmfed.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1s\n").unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_wasmfed"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!(
            "--web.config.file={}",
            dir.path().join("plain_password-web.yml").display()
        ))
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("is not a bcrypt hash"), "{err}");
}
