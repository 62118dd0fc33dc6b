//! Interoperability with the real Prometheus (Debian's `prometheus` package, installed by
//! `./test.sh`): the same scrape gives byte-identical `/federate` text, and each federates the
//! other with values and labels intact.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::federate::{fixed_exposition, now_ms};
use crate::harness::*;
use wasmfed_scrape::fetch::HttpClient;

/// A real Prometheus on loopback with a temp storage dir; killed on drop.
pub struct Prometheus {
    pub addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

fn prometheus_binary() -> PathBuf {
    let path = std::env::var_os("PROMETHEUS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/prometheus".into());
    assert!(
        path.exists(),
        "{} not found: the interop tests need Debian's prometheus package; ./test.sh installs it",
        path.display()
    );
    path
}

impl Prometheus {
    pub fn start(config: &str) -> Prometheus {
        let p = Self::spawn(config, &[]);
        p.wait_ready();
        p
    }

    /// With `extra_args` on its command line.
    pub fn start_args(config: &str, extra_args: &[&str]) -> Prometheus {
        let extra: Vec<String> = extra_args.iter().map(|a| a.to_string()).collect();
        let p = Self::spawn(config, &extra);
        p.wait_ready();
        p
    }

    fn wait_ready(&self) {
        wait_for(
            "prometheus to be ready",
            Duration::from_secs(30),
            || match get(self.addr, "/-/ready") {
                Ok(r) if r.status == 200 => Ok(()),
                Ok(r) => Err(format!("status {}", r.status)),
                Err(e) => Err(e),
            },
        );
    }

    /// With `--web.config.file=web_config`, ready once `/-/ready` answers over https with
    /// `client`'s TLS settings and credentials.
    pub fn start_https(
        config: &str,
        web_config: &std::path::Path,
        client: &HttpClient,
    ) -> Prometheus {
        let p = Self::spawn(
            config,
            &[format!("--web.config.file={}", web_config.display())],
        );
        wait_for("prometheus to be ready", Duration::from_secs(30), || {
            fetch_with(client, &format!("https://{}/-/ready", p.addr)).map(|_| ())
        });
        p
    }

    /// On an existing data directory `data` and `port`, with `extra_args`, ready once
    /// `/-/ready` answers.
    pub fn start_on(
        config: &str,
        data: &std::path::Path,
        port: u16,
        extra_args: &[&str],
    ) -> Prometheus {
        let extra: Vec<String> = extra_args.iter().map(|a| a.to_string()).collect();
        let p = Self::spawn_at(config, Some(data), port, &extra);
        p.wait_ready();
        p
    }

    fn spawn(config: &str, extra_args: &[String]) -> Prometheus {
        Self::spawn_at(config, None, free_port(), extra_args)
    }

    fn spawn_at(
        config: &str,
        data: Option<&std::path::Path>,
        port: u16,
        extra_args: &[String],
    ) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let data = data.map_or_else(|| dir.path().join("data"), std::path::Path::to_path_buf);
        let child = Command::new(prometheus_binary())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--log.level=warn")
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus");
        Prometheus {
            addr,
            child,
            _dir: dir,
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn job(name: &str, target: SocketAddr, path: &str, extra: &str) -> String {
    format!(
        "  - job_name: {name}\n    metrics_path: {path}\n{extra}    static_configs:\n      - targets: ['{target}']\n"
    )
}

pub fn federation_job(name: &str, target: SocketAddr, selector: &str) -> String {
    job(
        name,
        target,
        "/federate",
        &format!("    honor_labels: true\n    params:\n      'match[]': ['{selector}']\n"),
    )
}

pub fn global(external: &str) -> String {
    format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  external_labels:\n    dc: {external}\n")
}

#[test]
fn same_scrape_gives_byte_identical_federation() {
    let ts = now_ms() - 1000;
    let exporter = Exporter::start(move |_| Reply::Text(fixed_exposition(ts)));
    let config = format!(
        "{}scrape_configs:\n{}",
        global("eu"),
        job("exp", exporter.addr, "/metrics", "")
    );
    let prometheus = Prometheus::start(&config);
    let node = Wasmfed::start(&config);
    let selector = r#"{job="exp",__name__=~"t.*"}"#;
    let theirs = wait_for(
        "prometheus to federate the exporter",
        Duration::from_secs(60),
        || {
            let text = federate(prometheus.addr, &[selector]).text();
            if samples_of(&text).len() == 9 {
                Ok(text)
            } else {
                Err(text)
            }
        },
    );
    let ours = wait_for(
        "wasmfed to federate the exporter",
        Duration::from_secs(20),
        || {
            let text = node.federate(&[selector]).text();
            if samples_of(&text).len() == 9 {
                Ok(text)
            } else {
                Err(text)
            }
        },
    );
    assert_eq!(ours, theirs);
}

#[test]
fn each_federates_the_other() {
    // Explicit timestamps keep both ends comparable however their scrapes interleave.
    let ts = now_ms() - 1000;
    let exporter = Exporter::start(move |path| {
        Reply::Text(match path {
            "/w" => format!("w_value{{kind=\"a\"}} 1.5 {ts}\nw_value{{kind=\"b\"}} -2 {ts}\nw_total 1e+10 {ts}\n"),
            _ => format!("p_value{{kind=\"a\"}} 3.25 {ts}\np_value{{kind=\"b\",note=\"x y\"}} NaN {ts}\np_total 17 {ts}\n"),
        })
    });
    let node = Wasmfed::start(&format!(
        "{}scrape_configs:\n{}",
        global("wasmfed"),
        job("wonly", exporter.addr, "/w", "")
    ));
    let prometheus = Prometheus::start(&format!(
        "{}scrape_configs:\n{}{}",
        global("prom"),
        job("ponly", exporter.addr, "/p", ""),
        federation_job("from_wasmfed", node.addr, r#"{job="wonly"}"#),
    ));
    // wasmfed federates Prometheus: reconfigure by starting a second node pointed at it.
    let global_node = Wasmfed::start(&format!(
        "{}scrape_configs:\n{}",
        global("global"),
        federation_job("from_prometheus", prometheus.addr, r#"{job="ponly"}"#),
    ));
    // The exporters' series carry fixed timestamps; the synthetic ones (up, ...) move.
    let wonly = r#"{job="wonly",__name__=~"w_.*"}"#;
    let ponly = r#"{job="ponly",__name__=~"p_.*"}"#;
    let at_source = wait_for("wasmfed's own series", Duration::from_secs(20), || {
        let s = samples_of(&node.federate(&[wonly]).text());
        if s.len() == 3 {
            Ok(s)
        } else {
            Err(format!("{s:?}"))
        }
    });
    wait_for(
        "prometheus to hold wasmfed's series",
        Duration::from_secs(60),
        || {
            let s = samples_of(&federate(prometheus.addr, &[wonly]).text());
            if s == at_source {
                Ok(())
            } else {
                Err(format!("{s:?}\nwant {at_source:?}"))
            }
        },
    );
    let at_prometheus = wait_for("prometheus' own series", Duration::from_secs(60), || {
        let s = samples_of(&federate(prometheus.addr, &[ponly]).text());
        if s.len() == 3 {
            Ok(s)
        } else {
            Err(format!("{s:?}"))
        }
    });
    wait_for(
        "wasmfed to hold prometheus' series",
        Duration::from_secs(30),
        || {
            let ours = samples_of(&global_node.federate(&[ponly]).text());
            let theirs = samples_of(&federate(prometheus.addr, &[ponly]).text());
            if ours.len() == 3 && ours == theirs {
                Ok(())
            } else {
                Err(format!(
                    "{ours:?}\nvs {theirs:?} (first seen {at_prometheus:?})"
                ))
            }
        },
    );
    // The labels carried across: the source's external label, job and instance.
    let sample = at_source.iter().next().unwrap();
    assert!(
        sample.0.contains(&("dc".into(), "wasmfed".into())),
        "{sample:?}"
    );
}

/// `/federate` reads selectors as 2.42 does (the e2e node runs with `--query.compat=2`): Go's
/// regex dialect, Go 1.19's refusals, 2.42's anchoring in messages, no quoted names; status and
/// body alike.
#[test]
fn selectors_are_read_and_refused_alike() {
    let config = format!("{}scrape_configs: []\n", global("eu"));
    let prometheus = Prometheus::start(&config);
    let node = Wasmfed::start(&config);
    for selector in [
        r#"{v=~"a{1001}"}"#,
        r#"{v=~"(?<n>x)"}"#,
        r#"{v=~"("}"#,
        r#"{v=~"(?x)a"}"#,
        r#"{v=~"\\u00fc"}"#,
        r#"{v=~"\\p{greek}"}"#,
        "up{job=\"x\",\n  v=~\"(?x)a\"}",
        r#"{"up"}"#,
        r#"{v=~"\\Qa.b\\E"}"#,
        r#"{v=~"\\p{Greek}|a{b}"}"#,
    ] {
        let theirs = federate(prometheus.addr, &[selector]);
        let ours = node.federate(&[selector]);
        assert_eq!(
            (ours.status, ours.text()),
            (theirs.status, theirs.text()),
            "{selector}"
        );
    }
}

#[test]
fn a_query_past_its_timeout_is_answered_as_prometheus_answers_it() {
    let config = format!("{}scrape_configs: []\n", global("eu"));
    let prometheus = Prometheus::start(&config);
    let node = Wasmfed::start(&config);
    for (path, status, kind) in [
        ("/api/v1/query?query=1&timeout=0s", 503, "timeout"),
        ("/api/v1/query?query=1&timeout=1m", 200, ""),
        ("/api/v1/query?query=1&timeout=soon", 400, "bad_data"),
    ] {
        for (who, addr) in [("prometheus", prometheus.addr), ("wasmfed", node.addr)] {
            let r = get(addr, path).unwrap();
            assert_eq!(r.status, status, "{who} {path}: {}", r.text());
            if !kind.is_empty() {
                assert_eq!(r.json()["errorType"], kind, "{who} {path}: {}", r.text());
            }
        }
    }
}

/// Active and dropped targets of `job` as `/api/v1/targets` lists them: each active target's
/// labels, and the number of dropped ones.
fn target_listing(targets: &serde_json::Value, job: &str) -> (Vec<String>, usize) {
    let data = &targets["data"];
    let mut active: Vec<String> = data["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scrapePool"] == job)
        .map(|t| t["labels"].to_string())
        .collect();
    active.sort();
    (active, dropped_by(targets, job))
}

#[test]
fn targets_relabeling_merges_or_breaks_are_listed_as_prometheus_lists_them() {
    // Nothing listens on these addresses: both sides list the targets (down), which is all
    // that is compared. Two groups become one target once `src` is dropped; one is dropped by
    // a rule; one loses its address and is "Creating target failed" (listed nowhere).
    let config = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  \
                  - job_name: merged\n    static_configs:\n      \
                  - {targets: ['127.0.0.9:9100'], labels: {src: a}}\n      \
                  - {targets: ['127.0.0.9:9100'], labels: {src: b}}\n      \
                  - {targets: ['127.0.0.9:9101'], labels: {drop: 'yes'}}\n      \
                  - {targets: ['127.0.0.9:9102'], labels: {bad: 'yes'}}\n    \
                  relabel_configs:\n      \
                  - {action: labeldrop, regex: src}\n      \
                  - {action: drop, source_labels: [drop], regex: 'yes'}\n      \
                  - {source_labels: [bad], regex: 'yes', target_label: __address__, replacement: ''}\n";
    let prometheus = Prometheus::start(config);
    let node = Wasmfed::start(config);
    let listed = |addr| {
        wait_for("both targets decided", Duration::from_secs(60), || {
            let listing = target_listing(&get(addr, "/api/v1/targets")?.json(), "merged");
            if listing.0.len() + listing.1 >= 2 {
                Ok(listing)
            } else {
                Err(format!("{listing:?}"))
            }
        })
    };
    let theirs = listed(prometheus.addr);
    assert_eq!((theirs.0.len(), theirs.1), (1, 1), "{theirs:?}");
    assert_eq!(listed(node.addr), theirs);
}
