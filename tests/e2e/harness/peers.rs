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
    /// The body as received, and the request's headers (names lowercase).
    pub raw: Bytes,
    pub headers: Vec<(String, String)>,
    /// The status it was answered with.
    pub status: u16,
    /// Milliseconds since the Unix epoch when it arrived.
    pub at_ms: i64,
}

/// An in-test HTTP server keeping every request's path, headers and body; answers 200, or
/// what [`Recorder::answering`] says.
pub struct Recorder {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Recorded>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Recorder {
    pub fn start() -> Recorder {
        Recorder::answering(|_| 200)
    }

    /// Answers the `n`th request (from 0) with `status(n)`.
    pub fn answering(status: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Recorder {
        let status: Arc<dyn Fn(usize) -> u16 + Send + Sync> = Arc::new(status);
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
                let (keep, status) = (keep.clone(), status.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (keep, status) = (keep.clone(), status.clone());
                            async move {
                                let path = req.uri().path().to_string();
                                let headers = req
                                    .headers()
                                    .iter()
                                    .map(|(n, v)| {
                                        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                                        (n.as_str().to_owned(), v)
                                    })
                                    .collect();
                                let bytes = req.into_body().collect().await?.to_bytes();
                                let body = serde_json::from_slice(&bytes)
                                    .unwrap_or(serde_json::Value::Null);
                                let mut kept = keep.lock().unwrap();
                                let code = status(kept.len());
                                kept.push(Recorded {
                                    path,
                                    body,
                                    raw: bytes,
                                    headers,
                                    status: code,
                                    at_ms: std::time::SystemTime::now()
                                        .duration_since(std::time::UNIX_EPOCH)
                                        .unwrap()
                                        .as_millis()
                                        as i64,
                                });
                                drop(kept);
                                let mut answer = hyper::Response::new(Full::new(Bytes::from(
                                    format!("answered {code}"),
                                )));
                                *answer.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
                                Ok::<_, hyper::Error>(answer)
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

/// A series from VictoriaMetrics' export: its sorted labels, its (timestamp, value) pairs.
pub type ExportedSeries = (Vec<(String, String)>, Vec<(i64, f64)>);

/// Debian's VictoriaMetrics (single node) on loopback with its own data directory; SIGTERMed
/// (it flushes what it acknowledged) on [`VictoriaMetrics::stop`] and on drop.
pub struct VictoriaMetrics {
    pub addr: SocketAddr,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl VictoriaMetrics {
    pub fn start() -> VictoriaMetrics {
        let mut vm = VictoriaMetrics {
            addr: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
            child: None,
            dir: tempfile::tempdir().unwrap(),
        };
        vm.restart();
        vm
    }

    /// Starts it again on the same port and data (after [`VictoriaMetrics::stop`]).
    pub fn restart(&mut self) {
        let binary = PathBuf::from("/usr/bin/victoria-metrics");
        assert!(
            binary.exists(),
            "/usr/bin/victoria-metrics not found: Debian's victoria-metrics package; ./test.sh installs it"
        );
        let child = Command::new(binary)
            .arg(format!("-httpListenAddr={}", self.addr))
            .arg(format!("-storageDataPath={}", self.dir.path().display()))
            .arg("-loggerLevel=ERROR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting victoria-metrics");
        self.child = Some(child);
        wait_for(
            "victoria-metrics to be ready",
            Duration::from_secs(30),
            || match get(self.addr, "/health") {
                Ok(r) if r.status == 200 => Ok(()),
                Ok(r) => Err(format!("status {}", r.status)),
                Err(e) => Err(e),
            },
        );
    }

    /// Stops it gracefully (SIGTERM: what it acknowledged is flushed to disk).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }

    /// Every raw sample of the series `selector` matches, from `/api/v1/export`: each series'
    /// labels (sorted `name=value` pairs) and its (timestamp, value) pairs.
    pub fn export(&self, selector: &str) -> Vec<ExportedSeries> {
        let path = format!("/api/v1/export?match[]={}", super::enc(selector));
        let r = get(self.addr, &path).expect("export");
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let mut labels: Vec<(String, String)> = v["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect();
                labels.sort();
                let ts = v["timestamps"].as_array().unwrap();
                let vals = v["values"].as_array().unwrap();
                let points = ts
                    .iter()
                    .zip(vals)
                    .map(|(t, v)| (t.as_i64().unwrap(), v.as_f64().unwrap_or(f64::NAN)))
                    .collect();
                (labels, points)
            })
            .collect()
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        self.stop();
    }
}
