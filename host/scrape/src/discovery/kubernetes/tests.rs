//! Kubernetes discovery against recorded API-server answers: each `testdata/*.json` maps the
//! paths of the LISTs a role makes to the answers a real API server gives for the objects of
//! one of Prometheus 2.42's tests (`discovery/kubernetes/*_test.go`), served on loopback; the
//! groups found must be the ones that test expects. No cluster runs here.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wasmfed_config::{Config, KubernetesSdConfig, TargetGroup};
use wasmfed_model::compat::Compat;

use super::{discover, groups::sanitize_label_name, Api};
use crate::fetch::Fetcher;
use crate::testing::TestPki;

/// The request heads a test server saw.
type Seen = Arc<Mutex<Vec<String>>>;

/// Serves `fixture` (a `testdata` file: path → LIST answer) on 127.0.0.1, over TLS with
/// `pki`'s server certificate if given; a path it does not hold is a 404, as the API
/// server answers for an unknown resource.
async fn serve(fixture: &str, pki: Option<&TestPki>) -> (u16, Seen) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/discovery/kubernetes/testdata")
        .join(fixture);
    let text = std::fs::read_to_string(&path).unwrap();
    let answers: HashMap<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    let answers = Arc::new(answers);
    let acceptor = pki.map(|pki| {
        let chain: Vec<_> = CertificateDer::pem_file_iter(&pki.server_cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&pki.server_key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(wasmfed_tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        TlsAcceptor::from(Arc::new(config))
    });
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
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
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

/// A group as Prometheus' tests write it: source, group labels, each target's labels
/// (`__address__` among them).
type Expected = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static [(&'static str, &'static str)]],
);

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

const NODE_TEST: &[Expected] = &[(
    "node/test",
    &[
        ("__meta_kubernetes_node_name", "test"),
        (
            "__meta_kubernetes_node_provider_id",
            "aws:///nl-north-7b/i-03149834983492827",
        ),
        ("__meta_kubernetes_node_label_test_label", "testvalue"),
        ("__meta_kubernetes_node_labelpresent_test_label", "true"),
        (
            "__meta_kubernetes_node_annotation_test_annotation",
            "testannotationvalue",
        ),
        (
            "__meta_kubernetes_node_annotationpresent_test_annotation",
            "true",
        ),
    ],
    &[&[
        ("__address__", "1.2.3.4:10250"),
        ("instance", "test"),
        ("__meta_kubernetes_node_address_InternalIP", "1.2.3.4"),
    ]],
)];

const SERVICE_LABELS: &[(&str, &str)] = &[
    ("__meta_kubernetes_service_name", "testservice"),
    ("__meta_kubernetes_namespace", "default"),
];

const SERVICES_ADDED: &[Expected] = &[
    (
        "svc/default/testservice",
        SERVICE_LABELS,
        &[&[
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__address__", "testservice.default.svc:30900"),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
            ("__meta_kubernetes_service_port_name", "testport"),
            ("__meta_kubernetes_service_port_number", "30900"),
        ]],
    ),
    (
        "svc/default/testservice-external",
        &[
            ("__meta_kubernetes_service_name", "testservice-external"),
            ("__meta_kubernetes_namespace", "default"),
        ],
        &[&[
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__address__", "testservice-external.default.svc:31900"),
            ("__meta_kubernetes_service_type", "ExternalName"),
            ("__meta_kubernetes_service_port_name", "testport"),
            ("__meta_kubernetes_service_port_number", "31900"),
            ("__meta_kubernetes_service_external_name", "FooExternalName"),
        ]],
    ),
    (
        "svc/default/testservice-loadbalancer",
        &[
            ("__meta_kubernetes_service_name", "testservice-loadbalancer"),
            ("__meta_kubernetes_namespace", "default"),
        ],
        &[&[
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__address__", "testservice-loadbalancer.default.svc:31900"),
            ("__meta_kubernetes_service_type", "LoadBalancer"),
            ("__meta_kubernetes_service_port_name", "testport"),
            ("__meta_kubernetes_service_port_number", "31900"),
            ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
            ("__meta_kubernetes_service_loadbalancer_ip", "127.0.0.1"),
        ]],
    ),
];

const SERVICE_MULTIPORT: &[Expected] = &[(
    "svc/default/testservice",
    &[
        ("__meta_kubernetes_service_name", "testservice"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_label_test_label", "testvalue"),
        ("__meta_kubernetes_service_labelpresent_test_label", "true"),
        (
            "__meta_kubernetes_service_annotation_test_annotation",
            "testannotationvalue",
        ),
        (
            "__meta_kubernetes_service_annotationpresent_test_annotation",
            "true",
        ),
    ],
    &[
        &[
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__address__", "testservice.default.svc:30900"),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
            ("__meta_kubernetes_service_port_name", "testport0"),
            ("__meta_kubernetes_service_port_number", "30900"),
        ],
        &[
            ("__meta_kubernetes_service_port_protocol", "UDP"),
            ("__address__", "testservice.default.svc:30901"),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
            ("__meta_kubernetes_service_port_name", "testport1"),
            ("__meta_kubernetes_service_port_number", "30901"),
        ],
    ],
)];

const POD_BEFORE_RUN: &[Expected] = &[
    (
        "pod/default/testpod",
        &[
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_pod_label_test_label", "testvalue"),
            ("__meta_kubernetes_pod_labelpresent_test_label", "true"),
            (
                "__meta_kubernetes_pod_annotation_test_annotation",
                "testannotationvalue",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_test_annotation",
                "true",
            ),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_ready", "true"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_uid", "abc123"),
            (
                "__meta_kubernetes_pod_controller_kind",
                "testcontrollerkind",
            ),
            (
                "__meta_kubernetes_pod_controller_name",
                "testcontrollername",
            ),
        ],
        &[
            &[
                ("__address__", "1.2.3.4:9000"),
                ("__meta_kubernetes_pod_container_name", "testcontainer0"),
                (
                    "__meta_kubernetes_pod_container_image",
                    "testcontainer0:latest",
                ),
                ("__meta_kubernetes_pod_container_port_name", "testport0"),
                ("__meta_kubernetes_pod_container_port_number", "9000"),
                ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
                ("__meta_kubernetes_pod_container_init", "false"),
                (
                    "__meta_kubernetes_pod_container_id",
                    "docker://a1b2c3d4e5f6",
                ),
            ],
            &[
                ("__address__", "1.2.3.4:9001"),
                ("__meta_kubernetes_pod_container_name", "testcontainer0"),
                (
                    "__meta_kubernetes_pod_container_image",
                    "testcontainer0:latest",
                ),
                ("__meta_kubernetes_pod_container_port_name", "testport1"),
                ("__meta_kubernetes_pod_container_port_number", "9001"),
                ("__meta_kubernetes_pod_container_port_protocol", "UDP"),
                ("__meta_kubernetes_pod_container_init", "false"),
                (
                    "__meta_kubernetes_pod_container_id",
                    "docker://a1b2c3d4e5f6",
                ),
            ],
            &[
                ("__address__", "1.2.3.4"),
                ("__meta_kubernetes_pod_container_name", "testcontainer1"),
                (
                    "__meta_kubernetes_pod_container_image",
                    "testcontainer1:latest",
                ),
                ("__meta_kubernetes_pod_container_init", "false"),
                (
                    "__meta_kubernetes_pod_container_id",
                    "containerd://6f5e4d3c2b1a",
                ),
            ],
        ],
    ),
    // TestPodDiscoveryUpdateEmptyPodIP: a pod without an IP is an empty group.
    ("pod/default/starting", &[], &[]),
];

/// `expectedPodTargetGroups("default")`'s labels.
macro_rules! pod_labels {
    ($phase:expr, $ready:expr $(, $extra:expr)*) => {
        &[
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_ready", $ready),
            ("__meta_kubernetes_pod_phase", $phase),
            ("__meta_kubernetes_pod_uid", "abc123"),
            $($extra,)*
        ]
    };
}

const POD_TARGET: &[(&str, &str)] = &[
    ("__address__", "1.2.3.4:9000"),
    ("__meta_kubernetes_pod_container_name", "testcontainer"),
    (
        "__meta_kubernetes_pod_container_image",
        "testcontainer:latest",
    ),
    ("__meta_kubernetes_pod_container_port_name", "testport"),
    ("__meta_kubernetes_pod_container_port_number", "9000"),
    ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ("__meta_kubernetes_pod_container_init", "false"),
    (
        "__meta_kubernetes_pod_container_id",
        "docker://a1b2c3d4e5f6",
    ),
];

const POD_INIT: &[Expected] = &[(
    "pod/default/testpod",
    pod_labels!("Pending", "false"),
    &[
        POD_TARGET,
        &[
            ("__address__", "1.2.3.4"),
            ("__meta_kubernetes_pod_container_name", "initcontainer"),
            (
                "__meta_kubernetes_pod_container_image",
                "initcontainer:latest",
            ),
            ("__meta_kubernetes_pod_container_init", "true"),
            (
                "__meta_kubernetes_pod_container_id",
                "containerd://6f5e4d3c2b1a",
            ),
        ],
    ],
)];

const POD_NODE_METADATA: &[Expected] = &[(
    "pod/default/testpod",
    pod_labels!(
        "Running",
        "true",
        ("__meta_kubernetes_node_name", "testnode"),
        ("__meta_kubernetes_node_label_l1", "v1"),
        ("__meta_kubernetes_node_labelpresent_l1", "true")
    ),
    &[POD_TARGET],
)];

const ENDPOINTS_LABELS: &[(&str, &str)] = &[
    ("__meta_kubernetes_namespace", "default"),
    ("__meta_kubernetes_endpoints_name", "testendpoints"),
];

const ENDPOINT_9001: [&[(&str, &str)]; 2] = [
    &[
        ("__address__", "2.3.4.5:9001"),
        ("__meta_kubernetes_endpoint_port_name", "testport"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "true"),
    ],
    &[
        ("__address__", "2.3.4.5:9001"),
        ("__meta_kubernetes_endpoint_port_name", "testport"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "false"),
    ],
];

const ENDPOINTS_BEFORE_RUN: &[Expected] = &[(
    "endpoints/default/testendpoints",
    ENDPOINTS_LABELS,
    &[
        &[
            ("__address__", "1.2.3.4:9000"),
            ("__meta_kubernetes_endpoint_hostname", "testendpoint1"),
            ("__meta_kubernetes_endpoint_node_name", "foobar"),
            ("__meta_kubernetes_endpoint_port_name", "testport"),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", "true"),
        ],
        ENDPOINT_9001[0],
        ENDPOINT_9001[1],
    ],
)];

const ENDPOINTS_POD: &[Expected] = &[(
    "endpoints/default/testendpoints",
    ENDPOINTS_LABELS,
    &[
        &[
            ("__address__", "4.3.2.1:9000"),
            ("__meta_kubernetes_endpoint_port_name", "testport"),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", "true"),
            ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
            ("__meta_kubernetes_endpoint_address_target_name", "testpod"),
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_ready", "unknown"),
            ("__meta_kubernetes_pod_phase", ""),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_container_name", "c1"),
            ("__meta_kubernetes_pod_container_image", "c1:latest"),
            ("__meta_kubernetes_pod_container_port_name", "mainport"),
            ("__meta_kubernetes_pod_container_port_number", "9000"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ("__meta_kubernetes_pod_uid", "deadbeef"),
        ],
        &[
            ("__address__", "1.2.3.4:9001"),
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_ready", "unknown"),
            ("__meta_kubernetes_pod_phase", ""),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_container_name", "c2"),
            ("__meta_kubernetes_pod_container_image", "c2:latest"),
            ("__meta_kubernetes_pod_container_port_name", "sideport"),
            ("__meta_kubernetes_pod_container_port_number", "9001"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ("__meta_kubernetes_pod_uid", "deadbeef"),
        ],
    ],
)];

const ENDPOINTS_SERVICE_NODE: &[Expected] = &[(
    "endpoints/default/testendpoints",
    &[
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_endpoints_name", "testendpoints"),
        ("__meta_kubernetes_service_label_app_name", "test"),
        ("__meta_kubernetes_service_labelpresent_app_name", "true"),
        ("__meta_kubernetes_service_name", "testendpoints"),
    ],
    &[
        &[
            ("__address__", "1.2.3.4:9000"),
            ("__meta_kubernetes_endpoint_hostname", "testendpoint1"),
            ("__meta_kubernetes_endpoint_node_name", "foobar"),
            ("__meta_kubernetes_endpoint_port_name", "testport"),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", "true"),
            ("__meta_kubernetes_node_label_az", "us-east1"),
            ("__meta_kubernetes_node_labelpresent_az", "true"),
            ("__meta_kubernetes_node_name", "foobar"),
        ],
        ENDPOINT_9001[0],
        ENDPOINT_9001[1],
    ],
)];

/// Each case: the Prometheus test whose objects and expectations it carries, the SD entry
/// (its `api_server` the test server), the recorded answers, the groups expected.
const CASES: &[(&str, &str, &str, &[Expected])] = &[
    (
        "TestNodeDiscoveryBeforeStart",
        "{role: node}",
        "node.json",
        NODE_TEST,
    ),
    (
        "TestServiceDiscoveryAdd",
        "{role: service}",
        "services.json",
        SERVICES_ADDED,
    ),
    (
        "TestServiceDiscoveryUpdate",
        "{role: service, namespaces: {names: [default]}}",
        "services-multiport.json",
        SERVICE_MULTIPORT,
    ),
    (
        "TestPodDiscoveryBeforeRun",
        "{role: pod}",
        "pods.json",
        POD_BEFORE_RUN,
    ),
    (
        "TestPodDiscoveryInitContainer",
        "{role: pod}",
        "pods-init.json",
        POD_INIT,
    ),
    (
        "TestPodDiscoveryWithNodeMetadata",
        "{role: pod, attach_metadata: {node: true}, namespaces: {names: [default, empty]}}",
        "pods-node-metadata.json",
        POD_NODE_METADATA,
    ),
    (
        "TestEndpointsDiscoveryBeforeRun",
        "{role: endpoints}",
        "endpoints.json",
        ENDPOINTS_BEFORE_RUN,
    ),
    (
        "TestEndpointsDiscoveryAdd",
        "{role: endpoints}",
        "endpoints-pod.json",
        ENDPOINTS_POD,
    ),
    (
        "TestEndpointsDiscoveryWithNodeMetadata",
        "{role: endpoints, attach_metadata: {node: true}}",
        "endpoints-service-node.json",
        ENDPOINTS_SERVICE_NODE,
    ),
];

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
        let api = Api::new(&config, &no_env, Path::new("/nonexistent")).unwrap();
        let groups = discover(&config, &api, &Fetcher::default())
            .await
            .unwrap_or_else(|e| panic!("{test}: {e}"));
        let got: Vec<Flat> = groups.iter().map(flatten).collect();
        let want: Vec<Flat> = want.iter().map(expected).collect();
        assert_eq!(got, want, "{test}");
    }
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
