//! Docker discovery against Prometheus' recorded Docker Engine answers (`testdata/dockerprom`,
//! from `discovery/moby/testdata` at v2.42.0) served on loopback, over a Unix socket and over
//! TCP: the targets found must be the ones Prometheus' `docker_test.go` expects
//! ([`expected`]), and the requests the ones the Go Docker client makes. No Docker daemon
//! runs here.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use wasmfed_config::{Config, DockerFilter, DockerSdConfig, TargetGroup};
use wasmfed_model::compat::Compat;

use self::server::{recorded, serve, Answer, Listen, Routes};
use super::engine::{version_less, Engine};
use super::objects::{Container, Network};
use super::targets::{docker_group, TargetRules};
use super::{containers_query, discover};
use crate::fetch::Fetcher;

mod expected;
mod server;

/// The `docker_sd_configs` entry of a job written as `yaml` (indented for the list).
fn sd_config(yaml: &str) -> DockerSdConfig {
    let text =
        format!("scrape_configs:\n  - job_name: d\n    docker_sd_configs:\n      - {yaml}\n");
    Config::from_yaml(&text, Path::new("/etc/prometheus"), Compat::V2)
        .unwrap()
        .config
        .scrape_configs
        .remove(0)
        .docker_sd_configs
        .remove(0)
}

/// Each target of a group as one label set, `__address__` included.
fn flat(group: &TargetGroup) -> Vec<BTreeMap<String, String>> {
    (group.targets.iter().zip(&group.target_labels))
        .map(|(address, labels)| {
            let mut all: BTreeMap<_, _> = labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            all.insert("__address__".into(), address.clone());
            all
        })
        .collect()
}

fn owned(expected: &[&[(&str, &str)]]) -> Vec<BTreeMap<String, String>> {
    (expected.iter())
        .map(|t| {
            t.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

async fn refresh(config: &DockerSdConfig) -> Result<Vec<TargetGroup>, String> {
    let engine = Engine::new(config)?;
    discover(config, &engine, &Fetcher::default()).await
}

#[tokio::test]
async fn finds_the_targets_prometheus_expects_over_a_socket_and_over_tcp() {
    for transport in ["unix", "tcp", "http"] {
        let dir = tempfile::tempdir().unwrap();
        let listen = match transport {
            "unix" => Listen::Unix(dir.path().to_owned()),
            _ => Listen::Tcp,
        };
        let (host, seen) = serve(listen, recorded("dockerprom")).await;
        let host = match transport {
            "http" => host.replace("tcp://", "http://"),
            _ => host,
        };
        let config = sd_config(&format!("host: {host}"));
        let engine = Engine::new(&config).unwrap();
        let fetcher = Fetcher::default();
        let groups = discover(&config, &engine, &fetcher).await.unwrap();
        assert_eq!(groups.len(), 1, "{transport}");
        assert_eq!(groups[0].source, "Docker");
        assert!(groups[0].labels.is_empty());
        assert_eq!(flat(&groups[0]), owned(expected::DOCKERPROM), "{transport}");

        // The version is negotiated once, then each refresh lists containers and networks.
        discover(&config, &engine, &fetcher).await.unwrap();
        let list = ["GET /v1.40/containers/json?limit=0", "GET /v1.40/networks"];
        let mut want = vec!["HEAD /_ping"];
        want.extend(list);
        want.extend(list);
        assert_eq!(seen.lines(), want, "{transport}");
        let host_header = match transport {
            "unix" => "docker".to_owned(),
            _ => host.split("://").nth(1).unwrap().to_owned(),
        };
        assert!(
            seen.hosts().iter().all(|h| *h == host_header),
            "{transport}"
        );
    }
}

#[tokio::test]
async fn a_snapshot_of_a_job_discovers_through_the_docker_source() {
    let dir = tempfile::tempdir().unwrap();
    let (host, _) = serve(Listen::Unix(dir.path().to_owned()), recorded("dockerprom")).await;
    let yaml = format!(
        "scrape_configs:\n  - job_name: d\n    docker_sd_configs: [{{host: '{host}', port: 9}}]\n"
    );
    let job = Config::from_yaml(&yaml, Path::new("/etc/prometheus"), Compat::V2)
        .unwrap()
        .config
        .scrape_configs
        .remove(0);
    let discovery = crate::discovery::Discovery::snapshot(&job, &Fetcher::default())
        .await
        .unwrap();
    let addresses: Vec<_> = discovery.groups().flat_map(|g| g.targets.clone()).collect();
    assert_eq!(addresses, ["172.19.0.2:9100", "172.19.0.3:9", "localhost"]);
}

/// An engine whose `/_ping` answers `ping` (status, `Api-Version`) and whose lists answer
/// `containers` and `networks` at any version.
fn engine_routes(
    ping: fn(&str) -> (&'static str, Option<&'static str>),
    containers: Answer,
    networks: Answer,
) -> Routes {
    Arc::new(move |method, target| {
        if target == "/_ping" {
            let (status, version) = ping(method);
            let headers = version.map(|v| ("Api-Version".to_owned(), v.to_owned()));
            return (status, headers.into_iter().collect(), b"OK".to_vec());
        }
        if target.contains("/containers/json") {
            return containers.clone();
        }
        networks.clone()
    })
}

fn json(status: &'static str, body: &str) -> Answer {
    let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    (status, headers, body.as_bytes().to_vec())
}

#[tokio::test]
async fn the_api_version_is_negotiated_as_the_go_client_negotiates() {
    type Ping = fn(&str) -> (&'static str, Option<&'static str>);
    let cases: [(&str, Ping, &[&str]); 6] = [
        (
            "newer engine: the client's 1.41",
            |_| ("200 OK", Some("1.43")),
            &["HEAD /_ping", "GET /v1.41/containers/json?limit=0"],
        ),
        (
            "older engine: its version",
            |_| ("200 OK", Some("1.30")),
            &["HEAD /_ping", "GET /v1.30/containers/json?limit=0"],
        ),
        (
            "no header: 1.24",
            |_| ("200 OK", None),
            &["HEAD /_ping", "GET /v1.24/containers/json?limit=0"],
        ),
        (
            "a 500 still tells",
            |_| ("500 Internal Server Error", Some("1.39")),
            &["HEAD /_ping", "GET /v1.39/containers/json?limit=0"],
        ),
        (
            "HEAD refused: GET",
            |m| {
                if m == "HEAD" {
                    ("405 Method Not Allowed", None)
                } else {
                    ("200 OK", Some("1.25"))
                }
            },
            &[
                "HEAD /_ping",
                "GET /_ping",
                "GET /v1.25/containers/json?limit=0",
            ],
        ),
        (
            "GET refused too: whatever it said",
            |m| {
                if m == "HEAD" {
                    ("404 Not Found", None)
                } else {
                    ("404 Not Found", Some("1.35"))
                }
            },
            &[
                "HEAD /_ping",
                "GET /_ping",
                "GET /v1.35/containers/json?limit=0",
            ],
        ),
    ];
    for (case, ping, want) in cases {
        let routes = engine_routes(ping, json("200 OK", "[]"), json("200 OK", "[]"));
        let (host, seen) = serve(Listen::Tcp, routes).await;
        let groups = refresh(&sd_config(&format!("host: {host}"))).await.unwrap();
        assert!(groups[0].targets.is_empty(), "{case}");
        assert_eq!(&seen.lines()[..want.len()], want, "{case}");
    }
}

#[tokio::test]
async fn an_unreachable_engine_leaves_the_client_at_1_24() {
    let dir = tempfile::tempdir().unwrap();
    let config = sd_config(&format!(
        "host: unix://{}/docker.sock",
        dir.path().display()
    ));
    let engine = Engine::new(&config).unwrap();
    let fetcher = Fetcher::default();
    let err = discover(&config, &engine, &fetcher).await.unwrap_err();
    let want = format!(
        "error while listing containers: error during connect: Get \"http://docker/v1.24/containers/json?limit=0\": dial unix {}/docker.sock: connect: ",
        dir.path().display()
    );
    assert!(err.starts_with(&want), "{err}");
}

#[tokio::test]
async fn engine_errors_are_worded_as_the_go_client_words_them() {
    let text = |status, body: &str| -> Answer { (status, Vec::new(), body.as_bytes().to_vec()) };
    let ok = json("200 OK", "[]");
    let version = |_: &str| ("200 OK", Some("1.40"));
    for (containers, networks, want) in [
        (
            json("500 Internal Server Error", r#"{"message":" boom\n"}"#),
            ok.clone(),
            "error while listing containers: Error response from daemon: boom",
        ),
        (
            text("400 Bad Request", " invalid filter 'x'\n"),
            ok.clone(),
            "error while listing containers: Error response from daemon: invalid filter 'x'",
        ),
        (
            json("500 Internal Server Error", "{"),
            ok.clone(),
            "error while listing containers: Error reading JSON: EOF",
        ),
        (
            text("404 Not Found", ""),
            ok.clone(),
            "error while listing containers: request returned Not Found for API route and version http://127.0.0.1:PORT/v1.40/containers/json?limit=0, check if the server supports the requested API version",
        ),
        (
            ok.clone(),
            json("503 Service Unavailable", r#"{"message":"down"}"#),
            "error while computing network labels: Error response from daemon: down",
        ),
        (
            json("200 OK", r#"{"not":"a list"}"#),
            ok.clone(),
            "error while listing containers: invalid type: map, expected a sequence",
        ),
        (text("200 OK", ""), ok.clone(), "error while listing containers: EOF"),
        (
            json("200 OK", "[] trailing words"),
            json("200 OK", "[]\n[]"),
            "",
        ),
    ] {
        let (host, _) = serve(Listen::Tcp, engine_routes(version, containers, networks)).await;
        let port = host.rsplit(':').next().unwrap().to_owned();
        let got = refresh(&sd_config(&format!("host: {host}"))).await.err();
        let want = want.replace("PORT", &port);
        match got {
            None => assert_eq!(want, "", "only the first JSON value is read, as Go's decoder reads it"),
            Some(got) => assert!(!want.is_empty() && got.starts_with(&want), "{got}\n  want {want}"),
        }
    }
}

#[test]
fn hosts_the_go_client_cannot_use_fail_discovery() {
    let long = format!("unix:///{}", "s".repeat(120));
    for (host, want) in [
        (
            "docker.sock",
            "error setting up docker client: unable to parse docker host `docker.sock`",
        ),
        (
            "npipe:////./pipe/docker_engine",
            "error setting up docker client: protocol not available",
        ),
        (&long, "is too long"),
    ] {
        let config = sd_config(&format!("host: '{host}'"));
        let err = Engine::new(&config).err().expect(host);
        assert!(err.contains(want), "{host}: {err}");
    }
}

#[test]
fn filters_are_encoded_as_the_go_client_encodes_them() {
    let filter = |name: &str, values: &[&str]| DockerFilter {
        name: name.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    for (filters, want) in [
        (vec![], "limit=0"),
        (vec![filter("label", &[])], "limit=0"),
        (
            vec![filter("status", &["running"]), filter("label", &["prometheus-job"])],
            "filters=%7B%22label%22%3A%7B%22prometheus-job%22%3Atrue%7D%2C%22status%22%3A%7B%22running%22%3Atrue%7D%7D&limit=0",
        ),
        (
            vec![filter("name", &["b", "a b", "b"])],
            "filters=%7B%22name%22%3A%7B%22a+b%22%3Atrue%2C%22b%22%3Atrue%7D%7D&limit=0",
        ),
        (
            vec![filter("label", &["a<b&c~"])],
            "filters=%7B%22label%22%3A%7B%22a%5Cu003cb%5Cu0026c~%22%3Atrue%7D%7D&limit=0",
        ),
    ] {
        assert_eq!(containers_query(&filters), want, "{filters:?}");
    }
}

#[test]
fn versions_compare_as_go_compares_them() {
    for (a, b, less) in [
        ("1.24", "1.41", true),
        ("1.41", "1.41", false),
        ("1.43", "1.41", false),
        ("1.9", "1.10", true),
        ("1", "1.0", false),
        ("1", "1.1", true),
        ("x", "0.1", true),
        ("2", "1.99", false),
    ] {
        assert_eq!(version_less(a, b), less, "{a} < {b}");
    }
}

/// A target's labels, `__address__` among them.
type Target = Vec<(&'static str, &'static str)>;

/// Prometheus 2.42's `refresh` for cases its recorded engine does not hold.
#[test]
fn targets_as_prometheus_builds_them() {
    let network = r#"[{"Id": "n1", "Name": "front", "Scope": "swarm", "Internal": true,
        "Ingress": false, "Labels": {"tier.name": "web"}}]"#;
    let container = |extra: &str| {
        format!(
            r#"[{{"Id": "c1", "Names": ["/app", "/alias"], "Labels": {{"a.b-c": "v"}},
            "HostConfig": {{"NetworkMode": "front"}}, {extra}}}]"#
        )
    };
    let on_front = |ip: &str| {
        format!(
            r#""NetworkSettings": {{"Networks": {{"front": {{"NetworkID": "n1", "IPAddress": "{ip}"}}}}}}"#
        )
    };
    let common = [
        ("__meta_docker_container_id", "c1"),
        ("__meta_docker_container_name", "/app"),
        ("__meta_docker_container_network_mode", "front"),
        ("__meta_docker_container_label_a_b_c", "v"),
        ("__meta_docker_network_id", "n1"),
        ("__meta_docker_network_name", "front"),
        ("__meta_docker_network_scope", "swarm"),
        ("__meta_docker_network_internal", "true"),
        ("__meta_docker_network_ingress", "false"),
        ("__meta_docker_network_label_tier_name", "web"),
    ];
    let with = |own: &[(&'static str, &'static str)]| -> Target {
        common.iter().chain(own).copied().collect()
    };
    let cases: Vec<(&str, String, i64, Vec<Target>)> = vec![
        (
            "published and unpublished TCP ports, UDP ones left out",
            container(&format!(
                r#""Ports": [{{"PrivatePort": 8080, "PublicPort": 80, "IP": "0.0.0.0", "Type": "tcp"}},
                {{"PrivatePort": 53, "Type": "udp"}}, {{"PrivatePort": 9100, "Type": "tcp"}}], {}"#,
                on_front("10.0.0.5")
            )),
            80,
            vec![
                with(&[
                    ("__address__", "10.0.0.5:8080"),
                    ("__meta_docker_network_ip", "10.0.0.5"),
                    ("__meta_docker_port_private", "8080"),
                    ("__meta_docker_port_public", "80"),
                    ("__meta_docker_port_public_ip", "0.0.0.0"),
                ]),
                with(&[
                    ("__address__", "10.0.0.5:9100"),
                    ("__meta_docker_network_ip", "10.0.0.5"),
                    ("__meta_docker_port_private", "9100"),
                ]),
            ],
        ),
        (
            "UDP ports only: the configured port, as Go formats a negative one",
            container(&format!(r#""Ports": [{{"PrivatePort": 53, "Type": "udp"}}], {}"#, on_front("fd00::5"))),
            -1,
            vec![with(&[
                ("__address__", "[fd00::5]:18446744073709551615"),
                ("__meta_docker_network_ip", "fd00::5"),
            ])],
        ),
        (
            "container:<id> network mode, no networks of its own: no targets in 2.42",
            r#"[{"Id": "c2", "Names": ["/sidecar"], "HostConfig": {"NetworkMode": "container:c1"},
                "NetworkSettings": {"Networks": {}}, "Ports": null, "Labels": null}]"#.to_owned(),
            80,
            vec![],
        ),
        (
            "a container without a name is skipped",
            r#"[{"Id": "c3", "Names": [], "NetworkSettings": {"Networks": {"front": {"NetworkID": "n1"}}}}]"#.to_owned(),
            80,
            vec![],
        ),
    ];
    for (case, containers, port, want) in cases {
        let containers: Vec<Container> = serde_json::from_str(&containers).expect(case);
        let networks: Vec<Network> = serde_json::from_str(network).unwrap();
        let rules = TargetRules {
            port,
            host_networking_host: "localhost",
        };
        let group = docker_group(&containers, &networks, &rules);
        let want: Vec<&[(&str, &str)]> = want.iter().map(|t| t.as_slice()).collect();
        assert_eq!(flat(&group), owned(&want), "{case}");
    }
}
