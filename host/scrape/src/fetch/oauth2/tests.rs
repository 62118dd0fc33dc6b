//! The client credentials grant against in-process servers: a token endpoint that counts its
//! grants and a target that wants the latest token.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wasmfed_config::{Auth, HttpClientConfig, OAuth2Config, Secret};

use crate::fetch::tests::read_head;
use crate::fetch::{Fetcher, HttpClient};

/// A token endpoint answering grant n with `tok-n`, valid `expires_in` seconds, to the client
/// `wasmfed` with secret `s3cret` only; the request heads and bodies it saw.
async fn token_server(expires_in: u64) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                while let Some(head) = read_head(&mut stream).await {
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).await.unwrap();
                    let grants = {
                        let mut log = log.lock().unwrap();
                        log.push((head.clone(), String::from_utf8(body).unwrap()));
                        log.len()
                    };
                    // base64("wasmfed:s3cret")
                    let reply = if head.contains("Authorization: Basic d2FzbWZlZDpzM2NyZXQ=") {
                        let json = format!(
                            r#"{{"access_token":"tok-{grants}","token_type":"bearer","expires_in":{expires_in}}}"#
                        );
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
                            json.len()
                        )
                    } else {
                        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_owned()
                    };
                    stream.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (url, seen)
}

/// A target answering 200 to `Authorization: Bearer tok-<n>` and counting its requests.
async fn target() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let count = count.clone();
            tokio::spawn(async move {
                while let Some(head) = read_head(&mut stream).await {
                    count.fetch_add(1, Ordering::SeqCst);
                    let reply = if head.contains("Authorization: Bearer tok-") {
                        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nup 1\n"
                    } else {
                        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
                    };
                    stream.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (url, served)
}

fn oauth2(token_url: &str, secret: Secret) -> OAuth2Config {
    OAuth2Config {
        client_id: "wasmfed".into(),
        client_secret: Some(secret),
        scopes: vec!["metrics".into(), "read".into()],
        token_url: token_url.to_owned(),
        endpoint_params: [("audience".to_owned(), "api".to_owned())].into(),
        tls: Default::default(),
        proxy: Default::default(),
        proxy_connect_headers: vec![],
    }
}

fn client_of(oauth2: OAuth2Config) -> HttpClient {
    HttpClient::new(&HttpClientConfig {
        auth: Some(Auth::OAuth2(Box::new(oauth2))),
        ..HttpClientConfig::default()
    })
}

fn client(token_url: &str, secret: Secret) -> HttpClient {
    client_of(oauth2(token_url, secret))
}

#[tokio::test]
async fn tokens_are_fetched_once_and_again_when_the_secret_changes() {
    let (token_url, grants) = token_server(3600).await;
    let (url, _) = target().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let fetcher = Fetcher::default();
    let c = client(&token_url, Secret::File(secret.clone()));
    for _ in 0..3 {
        let got = fetcher.fetch(&c, &url, Duration::from_secs(5), 0).await;
        assert_eq!(got.map(|e| e.body), Ok(b"up 1\n".to_vec()));
    }
    {
        let grants = grants.lock().unwrap();
        assert_eq!(grants.len(), 1, "one token for three scrapes");
        let (head, body) = &grants[0];
        assert!(head.starts_with("POST /token HTTP/1.1\r\n"), "{head}");
        assert!(
            head.contains("Content-Type: application/x-www-form-urlencoded"),
            "{head}"
        );
        assert_eq!(
            body,
            "grant_type=client_credentials&scope=metrics+read&audience=api"
        );
    }
    // A rotated secret: the next scrape asks for a new token, and the endpoint refuses it.
    std::fs::write(&secret, "rotated").unwrap();
    let err = fetcher
        .fetch(&c, &url, Duration::from_secs(5), 0)
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("oauth2: cannot fetch token: server returned HTTP status 401 Unauthorized"),
        "{err}"
    );
    assert_eq!(grants.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn an_expiring_token_is_renewed() {
    // Valid 5 s: within x/oauth2's 10 s margin, so every request fetches a new one.
    let (token_url, grants) = token_server(5).await;
    let (url, served) = target().await;
    let fetcher = Fetcher::default();
    let c = client(&token_url, Secret::Inline("s3cret".into()));
    for _ in 0..2 {
        assert!(fetcher
            .fetch(&c, &url, Duration::from_secs(5), 0)
            .await
            .is_ok());
    }
    assert_eq!(grants.lock().unwrap().len(), 2);
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_token_request_takes_the_oauth2_proxy() {
    let (token_url, grants) = token_server(3600).await;
    let (url, served) = target().await;
    // Nothing listens on port 1: the token request must fail on the way to the proxy.
    let c = client_of(OAuth2Config {
        proxy: wasmfed_config::Proxy::Url {
            url: "http://127.0.0.1:1".into(),
            no_proxy: String::new(),
        },
        ..oauth2(&token_url, Secret::Inline("s3cret".into()))
    });
    let err = Fetcher::default()
        .fetch(&c, &url, Duration::from_secs(5), 0)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("oauth2: cannot fetch token: Get "), "{err}");
    assert!(err.contains("proxyconnect tcp: "), "{err}");
    assert!(grants.lock().unwrap().is_empty());
    assert_eq!(served.load(Ordering::SeqCst), 0);
}
