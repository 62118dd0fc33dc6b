//! A queue against a receiver in the test: every sample the head stores arrives once, each
//! series in order, across a reshard and across a stop and a start from the kept position.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::SystemTime;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use wasmfed_model::Labels;
use wasmfed_plugin::World;
use wasmfed_scrape::fetch::{Fetcher, HttpClient};
use wasmfed_scrape::stages::GuardedStage;
use wasmfed_storage::wal::{Wal, WalMetrics, WalOptions};
use wasmfed_storage::Head;
use wasmfed_telemetry::{QueueLabels, Telemetry};

use super::{Queue, QueueSetup};
use crate::series::Transform;
use crate::shard::Sender;

/// Every sample received, by series, in arrival order.
type Received = Arc<Mutex<BTreeMap<String, Vec<(i64, u64)>>>>;

/// A receiver answering 200 after `delay`, to as many requests as `open` allows (503 to the
/// rest, storing nothing).
async fn receiver(
    delay: Duration,
    open: Arc<AtomicUsize>,
) -> (std::net::SocketAddr, Received, Arc<AtomicUsize>) {
    let refused = Arc::new(AtomicUsize::new(0));
    let refusals = refused.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Received = Arc::default();
    let keep = got.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (keep, open, refusals) = (keep.clone(), open.clone(), refusals.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(end) = find(&buf, b"\r\n\r\n") else {
                        let mut chunk = [0u8; 65536];
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < end + 4 + len {
                        let mut chunk = [0u8; 65536];
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Vec<u8> = buf.drain(..end + 4 + len).skip(end + 4).collect();
                    let batch = wasmfed_remote::decode_write_request(&body, 64 << 20).unwrap();
                    tokio::time::sleep(delay).await;
                    let taken = open
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if !taken {
                        refusals.fetch_add(1, Ordering::SeqCst);
                        let refused =
                            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
                        if conn.write_all(refused).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    {
                        let mut got = keep.lock().unwrap();
                        for s in batch.series {
                            let points = got.entry(s.labels.to_string()).or_default();
                            points.extend(s.samples.iter().map(|&(t, v)| (t, v.to_bits())));
                        }
                    }
                    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                    if conn.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, got, refused)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

struct Node {
    /// The timestamps' origin.
    base: i64,
    head: Arc<Head>,
    wal: Arc<Wal>,
    dir: tempfile::TempDir,
    telemetry: Arc<Telemetry>,
}

impl Node {
    fn new() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let head = Arc::new(Head::new());
        let options = WalOptions {
            segment_size: 64 * 1024,
            ..WalOptions::default()
        };
        let (wal, _) = Wal::open(
            &dir.path().join("wal"),
            &head,
            options,
            WalMetrics::default(),
        )
        .unwrap();
        Node {
            // A little ahead: a new queue sends samples from its start on.
            base: wasmfed_model::clock::unix_millis(SystemTime::now()) + 5_000,
            head,
            wal: Arc::new(wal),
            dir,
            telemetry: Arc::new(Telemetry::default()),
        }
    }

    /// Stores `rounds` samples of each of `series` series (one record per round).
    fn fill(&self, series: usize, rounds: i64, t0: i64) {
        let refs: Vec<_> = (0..series)
            .map(|i| {
                let labels =
                    Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())]);
                self.head.get_or_create(&labels).0
            })
            .collect();
        for n in 0..rounds {
            for &r in &refs {
                self.head
                    .append(r, self.base + t0 + n * 1000, n as f64)
                    .unwrap();
            }
        }
    }

    fn queue(&self, url: String, min_shards: usize, max_shards: usize) -> Queue {
        let labels = QueueLabels {
            tenant: "default".into(),
            remote_name: "test".into(),
            url: url.clone(),
        };
        let sender_labels = labels.clone();
        let telemetry = self.telemetry.clone();
        let setup = QueueSetup {
            wal: self.wal.clone(),
            state_path: self.dir.path().join("remote_write/test.state"),
            sender: Box::new(move |stopping| Sender {
                fetcher: Fetcher::default(),
                client: HttpClient::new(&Default::default()),
                url,
                headers: String::new(),
                timeout: Duration::from_secs(10),
                max_samples: 50,
                batch_deadline: Duration::from_millis(50),
                min_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                retry_on_429: false,
                telemetry,
                labels: sender_labels,
                stopping,
                sent_samples: AtomicU64::new(0),
                send_nanos: AtomicU64::new(0),
                highest_sent_ms: AtomicI64::new(0),
            }),
            min_shards,
            max_shards,
            capacity: 200,
            transform: Arc::new(Transform {
                external_labels: Labels::from_pairs([("dc", "a")]),
                stage: GuardedStage::empty(World::Series),
            }),
            metadata: None,
            scale_every: Duration::from_millis(300),
        };
        Queue::start(setup, labels, self.telemetry.clone())
    }
}

/// Waits until `got` holds `series` series of `per_series` samples each.
async fn until_received(got: &Received, series: usize, per_series: usize) {
    for _ in 0..600 {
        {
            let got = got.lock().unwrap();
            if got.len() == series && got.values().all(|p| p.len() >= per_series) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = got.lock().unwrap();
    let n: usize = got.values().map(Vec::len).sum();
    panic!(
        "{n} samples of {} series received, want {series} × {per_series}",
        got.len()
    );
}

/// Each series' samples arrived once each, in time order, with the external label.
fn assert_once_in_order(got: &Received, series: usize, per_series: usize) {
    let got = got.lock().unwrap();
    assert_eq!(got.len(), series);
    for (labels, points) in got.iter() {
        assert!(labels.contains(r#"dc="a""#), "{labels}");
        assert_eq!(points.len(), per_series, "{labels}: every sample once");
        assert!(
            points.windows(2).all(|w| w[0].0 < w[1].0),
            "{labels}: in order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_arrives_once_in_order_across_reshards() {
    let node = Node::new();
    // A slow receiver: one shard cannot keep up, so the queue grows its shards.
    let (addr, got, _) = receiver(
        Duration::from_millis(15),
        Arc::new(AtomicUsize::new(usize::MAX)),
    )
    .await;
    let queue = node.queue(format!("http://{addr}/api/v1/write"), 1, 4);
    for round in 0..10 {
        node.fill(200, 10, round * 10_000);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until_received(&got, 200, 100).await;
    queue.stop().await;
    assert_once_in_order(&got, 200, 100);
    let text = node.telemetry.encode();
    let shards = text
        .lines()
        .find(|l| l.starts_with("prometheus_remote_storage_shards{"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap();
    assert!(shards > 1.0, "the queue resharded: {shards} shards");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_queue_resumes_where_the_receiver_acknowledged() {
    let node = Node::new();
    // The receiver takes ten requests, then answers 503 until told otherwise.
    let open = Arc::new(AtomicUsize::new(10));
    let (addr, got, refused) = receiver(Duration::ZERO, open.clone()).await;
    let url = format!("http://{addr}/api/v1/write");
    let queue = node.queue(url.clone(), 2, 2);
    node.fill(100, 20, 0);
    // Stop while a request is being retried.
    for _ in 0..500 {
        if refused.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    queue.stop().await;
    let before: usize = got.lock().unwrap().values().map(Vec::len).sum();
    assert!(
        before > 0 && before < 100 * 20,
        "stopped part-way: {before}"
    );
    // A new queue on the same position: the rest arrives, nothing twice.
    node.fill(100, 20, 100_000);
    open.store(usize::MAX, Ordering::SeqCst);
    let queue = node.queue(url, 2, 2);
    until_received(&got, 100, 40).await;
    queue.stop().await;
    assert_once_in_order(&got, 100, 40);
    // The requests being retried at the stop were sent again, in requests of their own.
    let text = node.telemetry.encode();
    let resent = text
        .lines()
        .find(|l| l.starts_with("wasmfed_remote_write_samples_resent_total{"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(resent > Some(0.0), "{resent:?}");
}
