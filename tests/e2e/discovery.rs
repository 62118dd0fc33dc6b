//! Service discovery against real peers: HTTP SD from a local server and Docker SD from a
//! stand-in Docker Engine on a Unix socket, each side by side with Debian's Prometheus 2.42
//! reading the same source; both must list the same targets with the same discovered labels
//! (as the source changes, and keep them while it fails, for HTTP SD); DNS SD from dnsmasq.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::*;
use crate::prometheus::{global, Prometheus};

/// Each active target of `job` as (discovered labels, labels), sorted.
fn listing(targets: &serde_json::Value, job: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scrapePool"] == job)
        .map(|t| (t["discoveredLabels"].to_string(), t["labels"].to_string()))
        .collect();
    out.sort();
    out
}

#[test]
fn http_sd_targets_follow_the_source_as_in_prometheus() {
    let a = Exporter::start(|_| Reply::Text("app_up 1\n".into()));
    let b = Exporter::start(|_| Reply::Text("app_up 1\n".into()));
    // What the discovery endpoint answers: a body, or a failure status.
    let answer: Arc<Mutex<Result<String, u16>>> = Arc::new(Mutex::new(Ok(format!(
        r#"[{{"targets": ["{}"], "labels": {{"team": "a"}}}}]"#,
        a.addr
    ))));
    let served = answer.clone();
    let sd = Exporter::start(move |_| match served.lock().unwrap().clone() {
        Ok(body) => Reply::Typed(Some("application/json; charset=utf-8"), body),
        Err(status) => Reply::Status(status),
    });
    let config = format!(
        "{}scrape_configs:\n  - job_name: sd\n    http_sd_configs:\n      - url: http://{}/targets\n        refresh_interval: 1s\n    \
         relabel_configs:\n      - source_labels: [__meta_url]\n        target_label: from_sd\n",
        global("sd"),
        sd.addr
    );
    let node = Wasmfed::start(&config);
    let prometheus = Prometheus::start(&config);
    let same_listing = |what: &str, want_targets: usize| {
        wait_for(what, Duration::from_secs(30), || {
            let ours = listing(&node.targets(), "sd");
            let theirs = listing(
                &get(prometheus.addr, "/api/v1/targets").unwrap().json(),
                "sd",
            );
            if ours.len() == want_targets && ours == theirs {
                Ok(ours)
            } else {
                Err(format!("wasmfed {ours:?}\nprometheus {theirs:?}"))
            }
        })
    };
    let first = same_listing("the first target", 1);
    assert!(first[0].0.contains("__meta_url"), "{first:?}");
    assert!(first[0].1.contains("from_sd"), "{first:?}");

    *answer.lock().unwrap() = Ok(format!(
        r#"[{{"targets": ["{}", "{}"], "labels": {{"team": "a"}}}}]"#,
        a.addr, b.addr
    ));
    same_listing("a target added", 2);

    // A failing source keeps its targets.
    *answer.lock().unwrap() = Err(500);
    std::thread::sleep(Duration::from_secs(3));
    same_listing("the targets kept while the source fails", 2);

    *answer.lock().unwrap() = Ok(format!(r#"[{{"targets": ["{}"]}}]"#, b.addr));
    let last = same_listing("a target removed and a label gone", 1);
    assert!(
        last[0].0.contains(&b.addr.to_string()) && !last[0].0.contains("team"),
        "{last:?}"
    );
    wait_for(
        "the remaining target scraped",
        Duration::from_secs(10),
        || {
            let text = node.federate(&["app_up"]).text();
            metric_with(&text, "app_up", &[("instance", &b.addr.to_string())]).ok_or(text)
        },
    );
}

/// Debian's dnsmasq on loopback, answering for `wasmfed.test` only from its command line and
/// a watched hosts directory (a file added there is a new A record); killed on drop.
struct Dnsmasq {
    addr: std::net::SocketAddr,
    hosts: tempfile::TempDir,
    child: std::process::Child,
}

impl Dnsmasq {
    fn start(records: &[String]) -> Dnsmasq {
        let binary = std::path::Path::new("/usr/sbin/dnsmasq");
        assert!(
            binary.exists(),
            "/usr/sbin/dnsmasq not found: ./test.sh installs Debian's dnsmasq-base"
        );
        let hosts = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = std::process::Command::new(binary)
            .args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
            ])
            .args([
                "--listen-address=127.0.0.1",
                "--local=/wasmfed.test/",
                "--pid-file=",
                "--user=root",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--hostsdir={}", hosts.path().display()))
            .args(records)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting dnsmasq");
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_for("dnsmasq to answer", Duration::from_secs(10), || {
            std::net::UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.connect(addr).map(|_| s))
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        Dnsmasq { addr, hosts, child }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Each active target of `job` by its discovered labels, sorted.
fn discovered(node: &Wasmfed, job: &str) -> Vec<serde_json::Value> {
    let targets = node.targets();
    let mut out: Vec<serde_json::Value> = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scrapePool"] == job)
        .map(|t| t["discoveredLabels"].clone())
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

#[test]
fn dns_sd_finds_srv_and_a_records_on_a_real_dns_server() {
    let exporter = Exporter::start(|_| Reply::Text("app_up 1\n".into()));
    let port = exporter.addr.port();
    let dns = Dnsmasq::start(&[
        format!("--srv-host=_node._tcp.wasmfed.test,ex1.wasmfed.test,{port}"),
        "--host-record=app.wasmfed.test,127.0.0.1".into(),
    ]);
    let config = format!(
        "{}scrape_configs:\n\
         \x20 - job_name: srv\n    dns_sd_configs:\n      - names: [_node._tcp.wasmfed.test]\n        refresh_interval: 1s\n    \
         relabel_configs:\n      - source_labels: [__meta_dns_srv_record_port]\n        target_label: __address__\n        replacement: 127.0.0.1:$1\n\
         \x20 - job_name: a\n    dns_sd_configs:\n      - names: [app.wasmfed.test, missing.wasmfed.test]\n        type: A\n        port: {port}\n        refresh_interval: 1s\n",
        global("dns")
    );
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("wasmfed.yml");
    std::fs::write(&config_path, config).unwrap();
    let server = dns.addr.to_string();
    let mut node = Wasmfed::spawn_env(dir, &config_path, &[], &[("WASMFED_DNS_SERVER", &server)]);
    node.wait_ready();

    // The SRV record's target, with Prometheus' labels; relabeled to where the exporter is.
    let srv = wait_for(
        "the SRV target",
        Duration::from_secs(20),
        || match discovered(&node, "srv").as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!("{other:?}")),
        },
    );
    assert_eq!(srv["__address__"], format!("ex1.wasmfed.test:{port}"));
    assert_eq!(srv["__meta_dns_name"], "_node._tcp.wasmfed.test");
    assert_eq!(srv["__meta_dns_srv_record_target"], "ex1.wasmfed.test.");
    assert_eq!(srv["__meta_dns_srv_record_port"], port.to_string());
    wait_for_health(&node, &[("srv", "")]);

    // A records: one now, and a second once a record is added (within the refresh interval);
    // a name that does not exist contributes nothing.
    let a = wait_for(
        "the A target",
        Duration::from_secs(20),
        || match discovered(&node, "a").as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!("{other:?}")),
        },
    );
    assert_eq!(a["__address__"], format!("127.0.0.1:{port}"));
    assert_eq!(a["__meta_dns_name"], "app.wasmfed.test");
    assert!(a.get("__meta_dns_srv_record_target").is_none(), "{a}");
    std::fs::write(
        dns.hosts.path().join("more"),
        "127.0.0.2 app.wasmfed.test\n",
    )
    .unwrap();
    wait_for(
        "the added A record's target",
        Duration::from_secs(10),
        || {
            let addresses: Vec<String> = discovered(&node, "a")
                .iter()
                .map(|t| t["__address__"].as_str().unwrap().to_owned())
                .collect();
            if addresses == [format!("127.0.0.1:{port}"), format!("127.0.0.2:{port}")] {
                Ok(())
            } else {
                Err(format!("{addresses:?}"))
            }
        },
    );

    // The server gone: the targets stay.
    drop(dns);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(discovered(&node, "a").len(), 2);
    assert_eq!(discovered(&node, "srv").len(), 1);
}

/// A stand-in Docker Engine on a Unix socket: Prometheus' recorded `dockerprom` answers
/// (host/scrape's docker test data, from Prometheus 2.42's `discovery/moby/testdata`), under
/// `/v1.40/` as the recorded engine says, and the requests each client made, by User-Agent.
struct DockerEngine {
    socket: std::path::PathBuf,
    requests: Arc<Mutex<Vec<(String, String)>>>,
    _dir: tempfile::TempDir,
}

impl DockerEngine {
    fn start() -> DockerEngine {
        use std::io::{Read, Write};
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scrape/src/discovery/docker/testdata/dockerprom");
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let (data, log) = (data.clone(), log.clone());
                std::thread::spawn(move || loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8];
                    while !head.ends_with(b"\r\n\r\n") {
                        if stream.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let line = head.lines().next().unwrap_or_default();
                    let line = line.trim_end_matches(" HTTP/1.1").to_owned();
                    let agent = head.lines().find_map(|l| l.strip_prefix("User-Agent: "));
                    log.lock()
                        .unwrap()
                        .push((agent.unwrap_or_default().to_owned(), line.clone()));
                    let file = match line.split_once(' ').map_or("", |(_, path)| path) {
                        "/_ping" => "_ping.json",
                        "/v1.40/containers/json?limit=0" => "containers/json_limit_0.json",
                        "/v1.40/networks" => "networks.json",
                        _ => "",
                    };
                    let body = std::fs::read(data.join(file)).unwrap_or_default();
                    let status = if body.is_empty() {
                        "500 Internal Server Error"
                    } else {
                        "200 OK"
                    };
                    let mut reply = format!(
                        "HTTP/1.1 {status}\r\nApi-Version: 1.40\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    if !line.starts_with("HEAD ") {
                        reply.extend(body);
                    }
                    if stream.write_all(&reply).is_err() {
                        return;
                    }
                });
            }
        });
        DockerEngine {
            socket,
            requests,
            _dir: dir,
        }
    }

    /// The distinct requests the client whose User-Agent starts with `agent` made, in order.
    fn requests_of(&self, agent: &str) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for (from, line) in self.requests.lock().unwrap().iter() {
            if from.starts_with(agent) && !lines.contains(line) {
                lines.push(line.clone());
            }
        }
        lines
    }
}

/// No relabeling here: Prometheus 2.42's `/api/v1/targets` can show a relabeled target's
/// discovered labels overwritten by its relabeled ones (a label added by a rule in the place of
/// `job`), which is not discovery's doing.
#[test]
fn docker_sd_targets_are_prometheus_targets() {
    let engine = DockerEngine::start();
    let config = format!(
        "{}scrape_configs:\n  - job_name: containers\n    docker_sd_configs:\n      - host: unix://{}\n        refresh_interval: 1s\n",
        global("docker"),
        engine.socket.display()
    );
    let node = Wasmfed::start(&config);
    let prometheus = Prometheus::start(&config);
    let targets = wait_for("the same three targets", Duration::from_secs(30), || {
        let ours = listing(&node.targets(), "containers");
        let theirs = listing(
            &get(prometheus.addr, "/api/v1/targets").unwrap().json(),
            "containers",
        );
        if ours.len() == 3 && ours == theirs {
            Ok(ours)
        } else {
            Err(format!("wasmfed {ours:?}\nprometheus {theirs:?}"))
        }
    });
    assert!(targets
        .iter()
        .any(|(discovered, _)| discovered.contains("172.19.0.2:9100")));
    let asked = [
        "HEAD /_ping",
        "GET /v1.40/containers/json?limit=0",
        "GET /v1.40/networks",
    ];
    assert_eq!(engine.requests_of("wasmfed/"), asked);
    assert_eq!(
        engine.requests_of("Go-http-client/"),
        asked,
        "Prometheus' Docker client"
    );
}
