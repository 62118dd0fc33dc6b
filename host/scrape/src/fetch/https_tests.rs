//! Scrapes over TLS against an in-process rustls server with fresh test certificates: trust,
//! names, client certificates, credentials, file rotation and connection reuse. The same
//! behaviours against a real node_exporter are in the end-to-end tests (tests/e2e/tls.rs).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wasmfed_config::{Auth, HttpClientConfig, Secret, TlsConfig};

use super::tests::read_head;
use super::{Fetcher, HttpClient};
use crate::testing::TestPki;

/// What the test server saw: connections accepted and the `Authorization` header of each
/// request.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    authorization: Mutex<Vec<Option<String>>>,
}

/// An https server with `pki`'s server certificate, answering every request with one sample;
/// it asks for a client certificate signed by `pki`'s CA when `client_auth`.
async fn serve(pki: &TestPki, client_auth: bool) -> (u16, Arc<Seen>) {
    let config = pki.server_config(client_auth);
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            counter.connections.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let seen = counter.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(tcp).await else {
                    return;
                };
                while let Some(head) = read_head(&mut stream).await {
                    let auth = head
                        .lines()
                        .filter(|l| {
                            l.starts_with("Authorization: ") || l.starts_with("X-Scope-Orgid: ")
                        })
                        .collect::<Vec<_>>();
                    let auth = (!auth.is_empty()).then(|| auth.join(" | "));
                    seen.authorization.lock().unwrap().push(auth);
                    let body = "up_test 1\n";
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn tls(pki: &TestPki, client_cert: bool) -> TlsConfig {
    let file = |p: &Path| Some(Secret::File(p.to_owned()));
    TlsConfig {
        ca: file(&pki.ca),
        cert: if client_cert {
            file(&pki.client_cert)
        } else {
            None
        },
        key: if client_cert {
            file(&pki.client_key)
        } else {
            None
        },
        ..TlsConfig::default()
    }
}

fn client(tls: TlsConfig, auth: Option<Auth>) -> HttpClient {
    HttpClient::new(&HttpClientConfig {
        auth,
        tls,
        ..HttpClientConfig::default()
    })
}

async fn scrape(fetcher: &Fetcher, client: &HttpClient, url: &str) -> Result<String, String> {
    fetcher
        .fetch(client, url, Duration::from_secs(5), 0)
        .await
        .map(|e| String::from_utf8(e.body).unwrap())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn https_needs_a_trusted_certificate_for_the_right_name() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "a");
    let other = TestPki::create(dir.path(), "b");
    let (port, seen) = serve(&pki, false).await;
    let url = format!("https://127.0.0.1:{port}/metrics");
    let fetcher = Fetcher::default();

    let trusted = client(tls(&pki, false), None);
    for _ in 0..3 {
        assert_eq!(
            scrape(&fetcher, &trusted, &url).await.unwrap(),
            "up_test 1\n"
        );
    }
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        1,
        "one kept-alive connection"
    );

    let localhost = format!("https://localhost:{port}/metrics");
    assert!(scrape(&fetcher, &trusted, &localhost).await.is_ok());

    let untrusted = scrape(&fetcher, &client(tls(&other, false), None), &url).await;
    assert_eq!(
        untrusted.unwrap_err(),
        format!("Get {url:?}: tls: failed to verify certificate: x509: certificate signed by unknown authority")
    );
    let system_roots = scrape(&fetcher, &HttpClient::default(), &url).await;
    assert!(system_roots
        .unwrap_err()
        .ends_with("certificate signed by unknown authority"));

    let wrong_name = TlsConfig {
        server_name: Some("node.example".into()),
        ..tls(&pki, false)
    };
    let err = scrape(&fetcher, &client(wrong_name, None), &url)
        .await
        .unwrap_err();
    assert!(
        err.ends_with("x509: certificate is valid for localhost, 127.0.0.1, not node.example"),
        "{err}"
    );

    let insecure = TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    };
    assert!(scrape(&fetcher, &client(insecure, None), &url)
        .await
        .is_ok());

    let bad_ca = TlsConfig {
        ca: Some(Secret::Inline("not a certificate".into())),
        ..TlsConfig::default()
    };
    let err = scrape(&fetcher, &client(bad_ca, None), &url)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        format!("Get {url:?}: unable to use specified CA cert inline")
    );
}

#[tokio::test]
async fn client_certificates_are_presented_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "mtls");
    let (port, _) = serve(&pki, true).await;
    let url = format!("https://127.0.0.1:{port}/metrics");
    let fetcher = Fetcher::default();
    assert!(scrape(&fetcher, &client(tls(&pki, true), None), &url)
        .await
        .is_ok());
    let err = scrape(&fetcher, &client(tls(&pki, false), None), &url)
        .await
        .unwrap_err();
    assert!(
        err.contains("remote error: tls: certificate required"),
        "{err}"
    );

    let other = TestPki::create(dir.path(), "other");
    let foreign_cert = TlsConfig {
        cert: Some(Secret::File(other.client_cert.clone())),
        key: Some(Secret::File(other.client_key.clone())),
        ..tls(&pki, false)
    };
    let err = scrape(&fetcher, &client(foreign_cert, None), &url)
        .await
        .unwrap_err();
    assert!(err.contains("remote error: tls: "), "{err}");
}

#[tokio::test]
async fn credentials_and_certificates_are_read_again_for_each_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "a");
    let (port, seen) = serve(&pki, false).await;
    let url = format!("https://127.0.0.1:{port}/metrics");
    let fetcher = Fetcher::default();

    let token = dir.path().join("token");
    std::fs::write(&token, "first\n").unwrap();
    let bearer = HttpClient::new(&HttpClientConfig {
        auth: Some(Auth::Authorization {
            kind: "Bearer".into(),
            credentials: Some(Secret::File(token.clone())),
        }),
        tls: tls(&pki, false),
        headers: vec![(
            "X-Scope-Orgid".into(),
            vec![Secret::Inline("team-a".into())],
        )],
        ..HttpClientConfig::default()
    });
    scrape(&fetcher, &bearer, &url).await.unwrap();
    std::fs::write(&token, "second").unwrap();
    scrape(&fetcher, &bearer, &url).await.unwrap();
    let basic = client(
        tls(&pki, false),
        Some(Auth::Basic {
            username: Some(Secret::Inline("prom".into())),
            password: Some(Secret::Inline("s3cret".into())),
        }),
    );
    scrape(&fetcher, &basic, &url).await.unwrap();
    assert_eq!(
        *seen.authorization.lock().unwrap(),
        [
            Some("Authorization: Bearer first | X-Scope-Orgid: team-a".to_owned()),
            Some("Authorization: Bearer second | X-Scope-Orgid: team-a".to_owned()),
            Some("Authorization: Basic cHJvbTpzM2NyZXQ=".to_owned()),
        ]
    );
    // Two clients, two connections: credentials never ride on another job's connection.
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);

    std::fs::remove_file(&token).unwrap();
    let err = scrape(&fetcher, &bearer, &url).await.unwrap_err();
    assert!(
        err.contains("unable to read authorization credentials: open "),
        "{err}"
    );

    // A CA file replaced (a rotated CA bundle): a new TLS configuration, a new connection.
    let ca_file = dir.path().join("bundle.pem");
    let other = TestPki::create(dir.path(), "b");
    std::fs::copy(&pki.ca, &ca_file).unwrap();
    let rotating = client(
        TlsConfig {
            ca: Some(Secret::File(ca_file.clone())),
            ..TlsConfig::default()
        },
        None,
    );
    scrape(&fetcher, &rotating, &url).await.unwrap();
    let before = seen.connections.load(Ordering::SeqCst);
    scrape(&fetcher, &rotating, &url).await.unwrap();
    assert_eq!(seen.connections.load(Ordering::SeqCst), before, "reused");
    std::fs::copy(&other.ca, &ca_file).unwrap();
    let err = scrape(&fetcher, &rotating, &url).await.unwrap_err();
    assert!(
        err.ends_with("certificate signed by unknown authority"),
        "{err}"
    );
}

/// A forward proxy on loopback: absolute-form GETs are sent on to their target, `CONNECT`s
/// become tunnels. Records each request line with its `Proxy-Authorization`.
async fn forward_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let Some(head) = read_head(&mut client).await else {
                    return;
                };
                let line = head.lines().next().unwrap().to_owned();
                let auth = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Proxy-Authorization: "))
                    .unwrap_or("-");
                log.lock().unwrap().push(format!("{line} [{auth}]"));
                let mut parts = line.split(' ');
                let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
                if method == "CONNECT" {
                    let mut upstream = tokio::net::TcpStream::connect(target).await.unwrap();
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                } else {
                    // One request per connection is enough here: forward it, then relay.
                    let authority = target
                        .strip_prefix("http://")
                        .unwrap()
                        .split('/')
                        .next()
                        .unwrap();
                    let mut upstream = tokio::net::TcpStream::connect(authority).await.unwrap();
                    let origin_form = head.replacen(&format!("http://{authority}"), "", 1);
                    upstream.write_all(origin_form.as_bytes()).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn requests_go_through_a_proxy_in_absolute_form_or_a_tunnel() {
    use wasmfed_config::Proxy;
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "proxied");
    let (tls_port, _) = serve(&pki, false).await;
    let (plain_addr, _) = super::tests::flaky_server(100).await;
    let (proxy_port, seen) = forward_proxy().await;
    let fetcher = Fetcher::default();
    let proxied = |tls: TlsConfig| {
        HttpClient::new(&HttpClientConfig {
            tls,
            proxy: Proxy::Url {
                url: format!("http://scraper:pw@127.0.0.1:{proxy_port}"),
                no_proxy: String::new(),
            },
            proxy_connect_headers: vec![("X-Via".into(), vec![Secret::Inline("wasmfed".into())])],
            ..HttpClientConfig::default()
        })
    };
    let plain_url = format!("http://{plain_addr}/metrics");
    let body = scrape(&fetcher, &proxied(TlsConfig::default()), &plain_url)
        .await
        .unwrap();
    assert_eq!(
        body,
        format!("m{{host=\"{plain_addr}\"}} 1\n"),
        "the Host header names the target"
    );
    let tls_url = format!("https://127.0.0.1:{tls_port}/metrics");
    assert_eq!(
        scrape(&fetcher, &proxied(tls(&pki, false)), &tls_url)
            .await
            .unwrap(),
        "up_test 1\n"
    );
    let basic = base64::engine::general_purpose::STANDARD.encode("scraper:pw");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            format!("GET http://{plain_addr}/metrics HTTP/1.1 [Basic {basic}]"),
            format!("CONNECT 127.0.0.1:{tls_port} HTTP/1.1 [Basic {basic}]"),
        ]
    );

    // A proxy that cannot be reached: the scrape fails saying so.
    let unreachable = HttpClient::new(&HttpClientConfig {
        proxy: Proxy::Url {
            url: "http://127.0.0.1:1".into(),
            no_proxy: String::new(),
        },
        ..HttpClientConfig::default()
    });
    let err = scrape(&fetcher, &unreachable, &plain_url)
        .await
        .unwrap_err();
    assert!(err.contains("proxyconnect tcp: "), "{err}");
}
