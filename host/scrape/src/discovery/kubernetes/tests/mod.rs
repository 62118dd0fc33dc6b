//! Kubernetes discovery against recorded API-server answers: each `testdata/*.json` maps the
//! paths of the LISTs a role makes to the answers a real API server gives for the objects of
//! one of Prometheus 2.42's tests (`discovery/kubernetes/*_test.go`), served on loopback; the
//! groups found must be the ones that test expects. No cluster runs here.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wasmfed_config::{Config, KubernetesSdConfig, TargetGroup};
use wasmfed_model::compat::Compat;

use super::{discover, groups::sanitize_label_name, Api};
use crate::fetch::tests::read_head;
use crate::fetch::Fetcher;
use crate::testing::TestPki;

use self::expected::{Expected, CASES, SERVICE_MULTIPORT};

mod expected;
mod expected_endpointslice;
mod expected_ingress;
mod kubeconfig;
mod watch;

/// The request heads a test server saw.
type Seen = Arc<Mutex<Vec<String>>>;

/// Serves `fixture` (a `testdata` file: path → LIST answer) on 127.0.0.1, over TLS with
/// `pki`'s server certificate if given; a path it does not hold is a 404, as the API
/// server answers for an unknown resource.
async fn serve(fixture: &str, pki: Option<&TestPki>) -> (u16, Seen) {
    serve_tls(fixture, pki, false).await
}

/// [`serve`], requiring a client certificate signed by `pki`'s CA if `client_auth`.
async fn serve_tls(fixture: &str, pki: Option<&TestPki>, client_auth: bool) -> (u16, Seen) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/discovery/kubernetes/testdata")
        .join(fixture);
    let text = std::fs::read_to_string(&path).unwrap();
    let answers: HashMap<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    let answers = Arc::new(answers);
    let acceptor = pki.map(|pki| TlsAcceptor::from(Arc::new(pki.server_config(client_auth))));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Seen::default();
    let heads = seen.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (answers, heads, acceptor) = (answers.clone(), heads.clone(), acceptor.clone());
            tokio::spawn(async move {
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            answer(tls, &answers, &heads).await
                        }
                    }
                    None => answer(tcp, &answers, &heads).await,
                }
            });
        }
    });
    (port, seen)
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    answers: &HashMap<String, serde_json::Value>,
    seen: &Seen,
) {
    loop {
        let Some(head) = read_head(&mut stream).await else {
            return;
        };
        let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
        seen.lock().unwrap().push(head);
        let path = target.split('?').next().unwrap_or_default();
        let (status, body) = match answers.get(path) {
            Some(list) => ("200 OK", list.to_string()),
            None => (
                "404 Not Found",
                r#"{"kind":"Status","code":404}"#.to_owned(),
            ),
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The `kubernetes_sd_configs` entry of a job written as `yaml` (indented for the list).
fn sd_config(yaml: &str) -> KubernetesSdConfig {
    let text =
        format!("scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs:\n      - {yaml}\n");
    Config::from_yaml(&text, Path::new("/etc/prometheus"), Compat::V3)
        .unwrap()
        .config
        .scrape_configs
        .remove(0)
        .kubernetes_sd_configs
        .remove(0)
}

type Flat = (
    String,
    BTreeMap<String, String>,
    Vec<BTreeMap<String, String>>,
);

fn flatten(group: &TargetGroup) -> Flat {
    let labels = group
        .labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    let targets = group
        .targets
        .iter()
        .zip(&group.target_labels)
        .map(|(address, labels)| {
            let mut t: BTreeMap<_, _> = labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            t.insert("__address__".into(), address.clone());
            t
        })
        .collect();
    (group.source.clone(), labels, targets)
}

fn expected(e: &Expected) -> Flat {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    (
        e.0.to_owned(),
        map(e.1),
        e.2.iter().map(|t| map(t)).collect(),
    )
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[tokio::test]
async fn recorded_answers_become_prometheus_groups() {
    for (test, yaml, fixture, want) in CASES {
        let (port, _) = serve(fixture, None).await;
        let yaml = yaml.replacen(
            '{',
            &format!("{{api_server: 'http://127.0.0.1:{port}', "),
            1,
        );
        let config = sd_config(&yaml);
        let mut api = Api::new(&config, &no_env, Path::new("/nonexistent")).unwrap();
        let fetcher = Fetcher::default();
        api.read_version(&fetcher, config.role)
            .await
            .unwrap_or_else(|e| panic!("{test}: {e}"));
        let groups = discover(&config, &api, &fetcher)
            .await
            .unwrap_or_else(|e| panic!("{test}: {e}"));
        assert_eq!(groups.len(), want.len(), "{test}");
        assert_eq!(by_source(&groups), by_source_expected(want), "{test}");
    }
}

/// Groups by source: Prometheus' tests compare them so, in no order.
fn by_source(groups: &[TargetGroup]) -> BTreeMap<String, Flat> {
    groups
        .iter()
        .map(|g| (g.source.clone(), flatten(g)))
        .collect()
}

fn by_source_expected(want: &[Expected]) -> BTreeMap<String, Flat> {
    want.iter().map(|e| (e.0.to_owned(), expected(e))).collect()
}

#[tokio::test]
async fn selectors_and_namespaces_go_into_the_list_urls() {
    let (port, seen) = serve("endpoints.json", None).await;
    let config = sd_config(&format!(
        "{{role: endpoints, api_server: 'http://127.0.0.1:{port}/', attach_metadata: {{node: true}}, \
         namespaces: {{names: [a, b]}}, selectors: [{{role: pod, label: 'app=x,tier in (web)'}}, \
         {{role: endpoints, field: 'metadata.name=y'}}]}}"
    ));
    let api = Api::new(&config, &no_env, Path::new("/nonexistent")).unwrap();
    let err = discover(&config, &api, &Fetcher::default())
        .await
        .unwrap_err();
    assert!(
        err.contains("/api/v1/nodes: server returned HTTP status 404 Not Found"),
        "{err}"
    );

    let config = KubernetesSdConfig {
        attach_node_metadata: false,
        ..config
    };
    // The namespaced paths are not in the recording: the first LIST fails, naming its URL.
    let err = discover(&config, &api, &Fetcher::default())
        .await
        .unwrap_err();
    assert!(
        err.contains(&format!(
            "http://127.0.0.1:{port}/api/v1/namespaces/a/endpoints?fieldSelector=metadata.name%3Dy: server returned HTTP status 404"
        )),
        "{err}"
    );
    let api = Api {
        namespaces: vec![String::new()],
        ..api
    };
    discover(&config, &api, &Fetcher::default()).await.unwrap();
    let requests: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|head| head.lines().next().unwrap().to_owned())
        .collect();
    assert_eq!(
        requests,
        [
            "GET /api/v1/nodes HTTP/1.1",
            "GET /api/v1/namespaces/a/endpoints?fieldSelector=metadata.name%3Dy HTTP/1.1",
            "GET /api/v1/endpoints?fieldSelector=metadata.name%3Dy HTTP/1.1",
            "GET /api/v1/services HTTP/1.1",
            "GET /api/v1/pods?labelSelector=app%3Dx%2Ctier+in+%28web%29 HTTP/1.1",
        ]
    );
}

/// client-go's in-cluster configuration: the API server from the environment, over https
/// with the service account's CA, its token as a bearer token (read again for each LIST),
/// and its namespace for `own_namespace`.
#[tokio::test]
async fn in_cluster_config_uses_the_service_account() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "k8s");
    let account = dir.path().join("serviceaccount");
    std::fs::create_dir(&account).unwrap();
    std::fs::copy(&pki.ca, account.join("ca.crt")).unwrap();
    std::fs::write(account.join("token"), "token-1").unwrap();
    std::fs::write(account.join("namespace"), "default").unwrap();
    let (port, seen) = serve("services-multiport.json", Some(&pki)).await;
    let env = move |name: &str| match name {
        "KUBERNETES_SERVICE_HOST" => Some("localhost".to_owned()),
        "KUBERNETES_SERVICE_PORT" => Some(port.to_string()),
        _ => None,
    };
    let config = sd_config("{role: service, namespaces: {own_namespace: true}}");
    let api = Api::new(&config, &env, &account).unwrap();
    assert_eq!(api.base, format!("https://localhost:{port}"));
    assert_eq!(api.namespaces, ["default"]);
    let fetcher = Fetcher::default();
    let groups = discover(&config, &api, &fetcher).await.unwrap();
    let got: Vec<Flat> = groups.iter().map(flatten).collect();
    assert_eq!(
        got,
        SERVICE_MULTIPORT.iter().map(expected).collect::<Vec<_>>()
    );

    std::fs::write(account.join("token"), "token-2").unwrap();
    discover(&config, &api, &fetcher).await.unwrap();
    let auth: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .flat_map(|head| {
            head.lines()
                .filter(|l| l.starts_with("Authorization: "))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        auth,
        [
            "Authorization: Bearer token-1",
            "Authorization: Bearer token-2"
        ]
    );

    for (env_host, env_port, files, want) in [
        (
            None,
            Some("443"),
            true,
            "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined",
        ),
        (
            Some("k8s"),
            None,
            true,
            "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined",
        ),
        (Some("k8s"), Some("443"), false, "token"),
    ] {
        let env = move |name: &str| match name {
            "KUBERNETES_SERVICE_HOST" => env_host.map(str::to_owned),
            "KUBERNETES_SERVICE_PORT" => env_port.map(str::to_owned),
            _ => None,
        };
        let dir = if files {
            account.as_path()
        } else {
            Path::new("/nonexistent")
        };
        let err = Api::new(&config, &env, dir).err().unwrap();
        assert!(err.contains(want), "{err}");
    }
    std::fs::write(account.join("namespace"), "").unwrap();
    let err = Api::new(&config, &env, &account).err().unwrap();
    assert_eq!(err, "could not read own namespace name (empty file)");
}

#[test]
fn label_names_are_sanitised_as_prometheus_does() {
    for (name, want) in [
        ("app", "app"),
        ("app.kubernetes.io/name", "app_kubernetes_io_name"),
        ("test-label", "test_label"),
        ("a_b9", "a_b9"),
        ("ünï", "_n_"),
    ] {
        assert_eq!(sanitize_label_name(name), want, "{name}");
    }
}

#[test]
fn v1beta1_topology_is_read_as_v1_deprecated_topology() {
    let endpoint: super::objects::SliceEndpoint = serde_json::from_str(
        r#"{"addresses":["1.2.3.4"],"topology":{"kubernetes.io/hostname":"node1"}}"#,
    )
    .unwrap();
    let topology = &endpoint.deprecated_topology;
    assert_eq!(topology["kubernetes.io/hostname"], "node1");
}
