use super::*;
use crate::proxy::Proxy;

/// Reads a scrape config's HTTP client keys from `yaml` (a mapping of only those keys).
fn resolve(yaml: &str) -> Result<HttpClientConfig, String> {
    struct Keys(RawHttpClient);
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a mapping")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut raw = RawHttpClient::default();
                    while let Some(key) = map.next_key::<String>()? {
                        raw.read(&key, &mut map)?;
                    }
                    Ok(Keys(raw))
                }
            }
            d.deserialize_map(V)
        }
    }
    let keys: Keys = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
    keys.0.resolve(Path::new("/etc/prometheus"))
}

fn file(path: &str) -> Option<Secret> {
    Some(Secret::File(path.into()))
}

fn inline(value: &str) -> Option<Secret> {
    Some(Secret::Inline(value.into()))
}

#[test]
fn accepted_settings() {
    let bearer = |credentials| {
        Some(Auth::Authorization {
            kind: "Bearer".into(),
            credentials,
        })
    };
    for (yaml, auth) in [
        ("{}", None),
        ("bearer_token: t", bearer(inline("t"))),
        (
            "bearer_token_file: t.txt",
            bearer(file("/etc/prometheus/t.txt")),
        ),
        ("authorization: {credentials: t}", bearer(inline("t"))),
        (
            "authorization: {type: ' ', credentials_file: /t}",
            bearer(file("/t")),
        ),
        (
            "authorization: {type: Token, credentials: t}",
            Some(Auth::Authorization {
                kind: "Token".into(),
                credentials: inline("t"),
            }),
        ),
        (
            "basic_auth: {username: u, password_file: ../p}",
            Some(Auth::Basic {
                username: inline("u"),
                password: file("/etc/p"),
            }),
        ),
        (
            "basic_auth: {username_file: u.txt}",
            Some(Auth::Basic {
                username: file("/etc/prometheus/u.txt"),
                password: None,
            }),
        ),
    ] {
        let got = resolve(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        assert_eq!(got.auth, auth, "{yaml}");
    }
    let c = resolve(
        "tls_config: {ca_file: ca.pem, cert: CERT, key_file: /k.pem, server_name: node, \
             insecure_skip_verify: yes, min_version: TLS12, max_version: TLS13}\n\
             follow_redirects: false\nenable_http2: false",
    )
    .unwrap();
    assert_eq!(
        c,
        HttpClientConfig {
            auth: None,
            tls: TlsConfig {
                ca: file("/etc/prometheus/ca.pem"),
                cert: inline("CERT"),
                key: file("/k.pem"),
                server_name: Some("node".into()),
                insecure_skip_verify: true,
                min_version: Some(TlsVersion::Tls12),
                max_version: Some(TlsVersion::Tls13),
            },
            follow_redirects: false,
            enable_http2: false,
            headers: vec![],
            proxy: Proxy::Direct,
            proxy_connect_headers: vec![],
        }
    );
    let c = resolve("proxy_url: http://u:p@proxy:3128\nno_proxy: localhost,.internal\nproxy_connect_header: {X-Tenant: [a]}").unwrap();
    assert_eq!(
        c.proxy,
        Proxy::Url {
            url: "http://u:p@proxy:3128".into(),
            no_proxy: "localhost,.internal".into()
        }
    );
    assert_eq!(
        c.proxy_connect_headers,
        [("X-Tenant".to_owned(), vec![Secret::Inline("a".into())])]
    );
    assert_eq!(
        resolve("proxy_from_environment: true").unwrap().proxy,
        Proxy::FromEnvironment
    );
    let c = resolve(
        "oauth2: {client_id: c, token_url: http://t/, proxy_url: 'socks5://p:1080', no_proxy: t}",
    )
    .unwrap();
    let Some(Auth::OAuth2(oauth2)) = c.auth else {
        panic!("{c:?}")
    };
    assert_eq!(
        oauth2.proxy,
        Proxy::Url {
            url: "socks5://p:1080".into(),
            no_proxy: "t".into()
        }
    );
    let c = resolve("http_headers:\n  x-scope-orgid: {values: [a, b], secrets: [s]}\n  X-Empty:")
        .unwrap();
    assert_eq!(
        c.headers,
        [
            (
                "X-Scope-Orgid".to_owned(),
                vec![
                    Secret::Inline("a".into()),
                    Secret::Inline("b".into()),
                    Secret::Inline("s".into())
                ]
            ),
            ("X-Empty".to_owned(), vec![]),
        ]
    );
    assert_eq!(
        resolve("tls_config:\nbasic_auth:").unwrap().tls,
        TlsConfig::default()
    );
}

#[test]
fn refused_as_prometheus_refuses() {
    for (yaml, want) in [
            ("bearer_token: a\nbearer_token_file: b", "at most one of bearer_token & bearer_token_file must be configured"),
            ("bearer_token: a\nbasic_auth: {username: u}", "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"),
            ("authorization: {credentials: a}\nbasic_auth: {username: u}", "at most one of basic_auth, oauth2 & authorization must be configured"),
            ("authorization: {credentials: a}\nbearer_token_file: b", "authorization is not compatible with bearer_token & bearer_token_file"),
            ("authorization: {credentials: a, credentials_file: b}", "at most one of authorization credentials & credentials_file must be configured"),
            ("authorization: {type: BASIC}", r#"authorization type cannot be set to "basic", use "basic_auth" instead"#),
            ("basic_auth: {password: a, password_file: b}", "at most one of basic_auth password & password_file must be configured"),
            ("basic_auth: {username: a, username_file: b}", "at most one of basic_auth username & username_file must be configured"),
            ("tls_config: {ca: a, ca_file: b}", "at most one of ca and ca_file must be configured"),
            ("tls_config: {cert_file: a}", "exactly one of key or key_file must be configured when a client certificate is configured"),
            ("tls_config: {key: a}", "exactly one of cert or cert_file must be configured when a client key is configured"),
            ("tls_config: {min_version: TLS14}", "unknown TLS version: TLS14"),
            ("tls_config: {min_version: TLS13, max_version: TLS12}", "tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified"),
            ("oauth2: {client_id: c, token_url: http://t/}\nbasic_auth: {username: u}", "at most one of basic_auth, oauth2 & authorization must be configured"),
            ("oauth2: {client_id: c, token_url: http://t/}\nbearer_token: t", "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"),
            ("oauth2: {token_url: http://t/}", "oauth2 client_id must be configured"),
            ("oauth2: {client_id: c}", "oauth2 token_url must be configured"),
            ("oauth2: {client_id: c, token_url: http://t/, client_secret: a, client_secret_file: b}", "at most one of oauth2 client_secret & client_secret_file must be configured"),
            ("proxy_connect_header: {X-A: [b]}", "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured"),
            ("proxy_from_environment: true\nproxy_url: http://p:1", "if proxy_from_environment is configured, proxy_url must not be configured"),
            ("proxy_from_environment: true\nno_proxy: a", "if proxy_from_environment is configured, no_proxy must not be configured"),
            ("no_proxy: a", "if no_proxy is configured, proxy_url must also be configured"),
            ("oauth2: {client_id: c, token_url: http://t/, no_proxy: a}", "oauth2: if no_proxy is configured, proxy_url must also be configured"),
            ("oauth2: {client_id: c, token_url: http://t/, proxy_url: 'gopher://p'}", "oauth2: proxy_url: proxy scheme \"gopher\" in \"gopher://p\" is not supported (http, https, socks5, socks5h)"),
            ("proxy_url: socks4://p:1080", "proxy_url: proxy scheme \"socks4\" in \"socks4://p:1080\" is not supported (http, https, socks5, socks5h)"),
            ("http_headers: {user-agent: {values: [x]}}", "setting header \"User-Agent\" is not allowed"),
            ("http_headers: {X-A: {files: [/nonexistent/h]}}", "unable to read header \"X-A\" from file /nonexistent/h: No such file or directory (os error 2)"),
            ("http_headers: {X-A: {values: [\"a\\r\\nHost: evil\"]}}", "header \"X-A\": a value may not contain a line break"),
            ("http_headers: {'X A': {values: [a]}}", "invalid header name \"X A\""),
        ] {
            assert_eq!(resolve(yaml).err().as_deref(), Some(want), "{yaml}");
        }
    let unknown = resolve("tls_config: {ca_flie: x}").unwrap_err();
    assert!(unknown.contains("unknown field `ca_flie`"), "{unknown}");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let c = resolve("basic_auth: {username: u, password: hunter2}").unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
