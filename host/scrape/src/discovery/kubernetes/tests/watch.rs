//! WATCH against a recorded stream (`testdata/watch-services.json`) replayed on loopback:
//! a LIST, then its watch's events one at a time, the watch ended by the server, a 410 Gone
//! answer and a 410 ERROR event that each force a new LIST. After each step the source's
//! targets must become what the events say; the test waits for that, never for a time.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Mutex};
use wasmfed_telemetry::Telemetry;

use super::sd_config;
use crate::discovery::kubernetes::start;
use crate::discovery::polled::{Counters, PolledSource};
use crate::fetch::tests::read_head;
use crate::fetch::Fetcher;

#[derive(Deserialize)]
struct Recording {
    lists: VecDeque<Value>,
    watches: VecDeque<Watch>,
}

/// One WATCH's answer: a status other than 200, or a stream of events the server ends.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Watch {
    Status(Value),
    Events(Vec<Value>),
}

/// The recording being replayed; a WATCH past its end stays open and silent.
struct Replay {
    recording: Mutex<Recording>,
    /// One message lets the next event out.
    next_event: Mutex<mpsc::UnboundedReceiver<()>>,
    /// The request targets of the WATCHes.
    watches: parking_lot::Mutex<Vec<String>>,
}

async fn serve(replay: Arc<Replay>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(answer(tcp, replay.clone()));
        }
    });
    port
}

async fn answer(mut tcp: TcpStream, replay: Arc<Replay>) {
    loop {
        let Some(head) = read_head(&mut tcp).await else {
            return;
        };
        let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
        if !target.contains("watch=1") {
            let list = replay.recording.lock().await.lists.pop_front().unwrap();
            let body = list.to_string();
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            tcp.write_all(reply.as_bytes()).await.unwrap();
            continue;
        }
        replay.watches.lock().push(target);
        let watch = replay.recording.lock().await.watches.pop_front();
        match watch {
            Some(Watch::Status(status)) => {
                let body = status.to_string();
                let reply = format!(
                    "HTTP/1.1 {} Gone\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    status["code"],
                    body.len()
                );
                tcp.write_all(reply.as_bytes()).await.unwrap();
            }
            Some(Watch::Events(events)) => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                tcp.write_all(head.as_bytes()).await.unwrap();
                for event in events {
                    replay.next_event.lock().await.recv().await.unwrap();
                    let line = format!("{event}\n");
                    let chunk = format!("{:x}\r\n{line}\r\n", line.len());
                    tcp.write_all(chunk.as_bytes()).await.unwrap();
                }
                tcp.write_all(b"0\r\n\r\n").await.unwrap();
            }
            None => std::future::pending().await,
        }
    }
}

/// The source's target addresses, sorted.
fn addresses(source: &PolledSource) -> Vec<String> {
    let mut all: Vec<String> = source
        .groups
        .iter()
        .flat_map(|g| g.targets.clone())
        .collect();
    all.sort();
    all
}

/// Takes what the source found until its targets are `want`.
async fn wait_for(source: &mut PolledSource, want: &[&str], step: &str) {
    // Only a guard against a hang: the condition, not a time, is what is tested.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        source.refresh();
        if addresses(source) == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{step}: targets {:?}, waiting for {want:?}",
            addresses(source)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn watch_events_change_the_targets_and_gone_versions_relist() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/discovery/kubernetes/testdata/watch-services.json");
    let recording: Recording =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (next_event, events) = mpsc::unbounded_channel();
    let replay = Arc::new(Replay {
        recording: Mutex::new(recording),
        next_event: Mutex::new(events),
        watches: Default::default(),
    });
    let port = serve(replay.clone()).await;
    let config = sd_config(&format!(
        "{{role: service, api_server: 'http://127.0.0.1:{port}', namespaces: {{names: [default]}}}}"
    ));
    let counters = Counters::of(&Telemetry::default(), "kubernetes");
    let mut source = start(config, Fetcher::default(), counters.clone());

    let svc = |name: &str, port: u16| format!("{name}.default.svc:{port}");
    let (a, a2, b, c, d, e) = (
        svc("a", 80),
        svc("a", 8080),
        svc("b", 81),
        svc("c", 90),
        svc("d", 91),
        svc("e", 92),
    );
    wait_for(&mut source, &[&a], "the first LIST").await;
    // Each event of the first watch, then the bookmark, after which the server ends the
    // watch; the next one (from the bookmark's version) is answered 410, so the source LISTs
    // again; an ERROR 410 event in the third watch does the same.
    for (step, want) in [
        ("ADDED b", vec![&a, &b]),
        ("MODIFIED a", vec![&a2, &b]),
        ("DELETED b", vec![&a2]),
        ("BOOKMARK, end of watch, 410 Gone, LIST", vec![&c]),
        ("ADDED d", vec![&c, &d]),
        ("ERROR 410, LIST", vec![&e]),
    ] {
        next_event.send(()).unwrap();
        let want: Vec<&str> = want.into_iter().map(String::as_str).collect();
        wait_for(&mut source, &want, step).await;
    }
    let versions = loop {
        let versions: Vec<String> = replay
            .watches
            .lock()
            .iter()
            .map(|target| {
                let version = target.split("resourceVersion=").nth(1).unwrap();
                version.split('&').next().unwrap().to_owned()
            })
            .collect();
        if versions.len() == 4 {
            break versions;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(versions, ["10", "15", "20", "30"]);
    assert_eq!(
        replay.watches.lock()[0],
        "/api/v1/namespaces/default/services?allowWatchBookmarks=true&resourceVersion=10&timeoutSeconds=300&watch=1"
    );
    assert_eq!(counters.refreshes.get(), 3, "three LISTs");
    assert_eq!(counters.failures.get(), 0);
}
