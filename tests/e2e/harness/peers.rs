//! Peers that receive what the node sends: a recorder of HTTP posts (an Alertmanager's API or
//! a webhook receiver, answering 200), and Debian's Alertmanager run as a gossip cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::{free_port, get, wait_for};

/// One request a [`Recorder`] received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub body: serde_json::Value,
    /// Milliseconds since the Unix epoch when it arrived.
    pub at_ms: i64,
}

/// An in-test HTTP server keeping every request's path and JSON body; answers 200.
pub struct Recorder {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Recorded>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Recorder {
    pub fn start() -> Recorder {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let keep = received.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let keep = keep.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let keep = keep.clone();
                            async move {
                                let path = req.uri().path().to_string();
                                let bytes = req.into_body().collect().await?.to_bytes();
                                let body = serde_json::from_slice(&bytes)
                                    .unwrap_or(serde_json::Value::Null);
                                keep.lock().unwrap().push(Recorded {
                                    path,
                                    body,
                                    at_ms: std::time::SystemTime::now()
                                        .duration_since(std::time::UNIX_EPOCH)
                                        .unwrap()
                                        .as_millis()
                                        as i64,
                                });
                                Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::new())))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Recorder {
            addr,
            received,
            _runtime: runtime,
        }
    }

    /// Everything received so far, oldest first.
    pub fn received(&self) -> Vec<Recorded> {
        self.received.lock().unwrap().clone()
    }
}

fn alertmanager_binary() -> PathBuf {
    let path = PathBuf::from("/usr/bin/prometheus-alertmanager");
    assert!(
        path.exists(),
        "{} not found: the alerting tests need Debian's prometheus-alertmanager package; ./test.sh installs it",
        path.display()
    );
    path
}

/// One of a cluster of real Alertmanagers (Debian's 0.25) on loopback; killed on drop.
pub struct Alertmanager {
    pub addr: SocketAddr,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts `n` Alertmanagers gossiping with each other, all routing to `webhook` (group by
    /// alert name and room, resolved alerts sent too), ready once each answers `/-/ready`.
    pub fn cluster(n: usize, webhook: SocketAddr) -> Vec<Alertmanager> {
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let config = format!(
            "route:\n  receiver: hook\n  group_by: [alertname, room]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{webhook}/hook\n        send_resolved: true\n"
        );
        let nodes: Vec<Alertmanager> = ports
            .iter()
            .map(|&(web, gossip)| {
                let dir = tempfile::tempdir().unwrap();
                let config_path = dir.path().join("alertmanager.yml");
                std::fs::write(&config_path, &config).unwrap();
                let cluster: SocketAddr = format!("127.0.0.1:{gossip}").parse().unwrap();
                let peers = ports
                    .iter()
                    .filter(|p| p.1 != gossip)
                    .map(|p| format!("--cluster.peer=127.0.0.1:{}", p.1));
                let log = std::fs::File::create(dir.path().join("log")).unwrap();
                let child = Command::new(alertmanager_binary())
                    .arg(format!("--config.file={}", config_path.display()))
                    .arg(format!(
                        "--storage.path={}",
                        dir.path().join("data").display()
                    ))
                    .arg(format!("--web.listen-address=127.0.0.1:{web}"))
                    .arg(format!("--cluster.listen-address={cluster}"))
                    .arg(format!("--cluster.advertise-address={cluster}"))
                    // A peer waits this long per position before it sends what an earlier
                    // peer may have sent (15s by default).
                    .arg("--cluster.peer-timeout=3s")
                    .arg("--cluster.gossip-interval=100ms")
                    .arg("--cluster.pushpull-interval=1s")
                    .args(peers)
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("starting alertmanager");
                Alertmanager {
                    addr: format!("127.0.0.1:{web}").parse().unwrap(),
                    child: Some(child),
                    _dir: dir,
                }
            })
            .collect();
        for am in &nodes {
            wait_for(
                "alertmanager to be ready",
                Duration::from_secs(30),
                || match get(am.addr, "/-/ready") {
                    Ok(r) if r.status == 200 => Ok(()),
                    Ok(r) => Err(format!("status {}", r.status)),
                    Err(e) => Err(e),
                },
            );
        }
        // Every peer sees the others before alerts arrive, so the cluster deduplicates.
        for am in &nodes {
            wait_for("the cluster to form", Duration::from_secs(30), || {
                let status = get(am.addr, "/api/v2/status")?.json();
                let peers = status["cluster"]["peers"].as_array().map_or(0, Vec::len);
                if peers == n {
                    Ok(())
                } else {
                    Err(format!("{peers} of {n} peers: {status}"))
                }
            });
        }
        nodes
    }

    /// The alerts this Alertmanager holds (`GET /api/v2/alerts`).
    pub fn alerts(&self) -> serde_json::Value {
        get(self.addr, "/api/v2/alerts").map_or(serde_json::Value::Null, |r| r.json())
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.kill();
    }
}
