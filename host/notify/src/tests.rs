//! The notifier against a local HTTP server that records what it is sent.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use wasmfed_model::compat::Compat;

/// Accepts posts on a loopback port, answering `status` (0: never answering); hands each body
/// over.
async fn receiver(status: u16) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    let head = &text[..end];
                    let body = text[end + 4..end + 4 + length].to_string();
                    let _ = tx.send(format!("{}\n{body}", head.lines().next().unwrap()));
                    buf.drain(..end + 4 + length);
                    if status == 0 {
                        std::future::pending::<()>().await;
                    }
                    let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
                    socket.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (address, rx)
}

/// Waits for the notifier's task to count what the test expects (it counts after the
/// receiver has answered), then returns the metrics text.
async fn metrics_once_they_contain(telemetry: &Telemetry, needle: &str) -> String {
    for _ in 0..200 {
        let text = telemetry.encode();
        if text.contains(needle) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    telemetry.encode()
}

fn config(yaml: &str) -> Config {
    Config::from_yaml(yaml, std::path::Path::new("."), Compat::V3)
        .unwrap()
        .config
}

fn alert(name: &str) -> Notification {
    Notification {
        labels: Labels::from_pairs([("alertname", name), ("replica", "a")]),
        annotations: vec![],
        starts_at_ms: 1_000,
        ends_at_ms: 2_000,
        generator_url: "http://x/graph".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_go_to_every_alertmanager_with_external_labels_and_relabeling() {
    let (first, mut first_rx) = receiver(200).await;
    let (second, mut second_rx) = receiver(200).await;
    let telemetry = Arc::new(Telemetry::default());
    let notifier = Notifier::new(Fetcher::default(), telemetry.clone(), 100);
    let cfg = config(&format!(
        r#"
global: {{external_labels: {{dc: eu1, replica: r}}}}
alerting:
  alert_relabel_configs: [{{action: labeldrop, regex: replica}}]
  alertmanagers:
    - static_configs: [{{targets: ['{first}']}}]
    - path_prefix: /am
      static_configs: [{{targets: ['{second}']}}]
"#
    ));
    let runtime = PluginRuntime::new().unwrap();
    let prepared = notifier.prepare(&cfg, &runtime, Compat::V3).unwrap();
    notifier.commit(prepared);
    assert_eq!(
        notifier.alertmanagers(),
        [
            format!("http://{first}/api/v2/alerts"),
            format!("http://{second}/am/api/v2/alerts")
        ]
    );
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(notifier.clone().run(stopped));
    notifier
        .sink_for(Some("team-a"))
        .send(vec![alert("Down"), alert("Slow")]);
    for rx in [&mut first_rx, &mut second_rx] {
        let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let (line, body) = got.split_once('\n').unwrap();
        assert!(
            line.starts_with("POST /") && line.contains("/api/v2/alerts"),
            "{line}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        // External labels are added where the alert has none; `replica` is dropped by
        // relabeling; the tenant is named.
        assert_eq!(
            body[0]["labels"],
            serde_json::json!({"alertname": "Down", "dc": "eu1", "tenant": "team-a"})
        );
        assert_eq!(body[1]["labels"]["alertname"], "Slow");
    }
    let sent = format!(
        "wasmfed_notifications_sent_total{{alertmanager=\"http://{first}/api/v2/alerts\"}} 2"
    );
    let metrics = metrics_once_they_contain(&telemetry, &sent).await;
    assert!(metrics.contains(&sent), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_the_oldest_and_failed_posts_are_counted() {
    let (address, mut rx) = receiver(500).await;
    let telemetry = Arc::new(Telemetry::default());
    let notifier = Notifier::new(Fetcher::default(), telemetry.clone(), 2);
    let cfg = config(&format!(
        "alerting: {{alertmanagers: [{{static_configs: [{{targets: ['{address}']}}]}}]}}\n"
    ));
    let runtime = PluginRuntime::new().unwrap();
    notifier.commit(notifier.prepare(&cfg, &runtime, Compat::V3).unwrap());
    // Queued before the sender runs: three alerts into a queue of two.
    notifier
        .sink_for(None)
        .send(vec![alert("A"), alert("B"), alert("C")]);
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(notifier.clone().run(stopped));
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !got.contains("\"A\"") && got.contains("\"B\"") && got.contains("\"C\""),
        "{got}"
    );
    // The only Alertmanager refused the batch: its two alerts are dropped too.
    let dropped = "wasmfed_notifications_dropped_total 3";
    let metrics = metrics_once_they_contain(&telemetry, dropped).await;
    assert!(metrics.contains(dropped), "{metrics}");
    assert!(
        metrics.contains("wasmfed_notifications_errors_total{alertmanager="),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_alertmanager_delays_only_itself() {
    let (hanging, mut hanging_rx) = receiver(0).await;
    let (live, mut live_rx) = receiver(200).await;
    let telemetry = Arc::new(Telemetry::default());
    let notifier = Notifier::new(Fetcher::default(), telemetry.clone(), 100);
    let cfg = config(&format!(
        "alerting: {{alertmanagers: [{{timeout: 1h, static_configs: [{{targets: ['{hanging}', '{live}']}}]}}]}}\n"
    ));
    let runtime = PluginRuntime::new().unwrap();
    notifier.commit(notifier.prepare(&cfg, &runtime, Compat::V3).unwrap());
    let sink = notifier.sink_for(None);
    sink.send(vec![alert("First")]);
    // The hanging one has the first batch and holds it; the live one gets both alerts, in one
    // batch or two (its task may not have posted the first when the second is queued).
    hanging_rx.recv().await.unwrap();
    sink.send(vec![alert("Second")]);
    let mut received = String::new();
    while !(received.contains("First") && received.contains("Second")) {
        let got = tokio::time::timeout(Duration::from_secs(10), live_rx.recv())
            .await
            .unwrap_or_else(|_| panic!("the live Alertmanager is held up; it got: {received}"))
            .unwrap();
        received.push_str(&got);
    }
    assert!(
        received.find("First") < received.find("Second"),
        "{received}"
    );
    let queued = "wasmfed_notifications_queue_length 1";
    let metrics = metrics_once_they_contain(&telemetry, queued).await;
    assert!(
        metrics.contains(queued),
        "the second alert waits for the hanging one: {metrics}"
    );
}
