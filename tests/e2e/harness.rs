//! Test harness: run the real `wasmfed` binary, test exporters and real Prometheus on loopback.
//!
//! Everything binds 127.0.0.1; peer processes get ports below the ephemeral range
//! ([`free_port`]). Waits poll with a bound and fail with what was last seen; nothing asserts
//! on elapsed time. Test exporters and node_exporter are in [`exporters`]; what receives the
//! node's alerts (a request recorder, Debian's Alertmanager) in [`peers`].

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wasmfed_scrape::fetch::{Fetcher, HttpClient};

#[path = "harness/exporters.rs"]
mod exporters;
#[path = "harness/peers.rs"]
mod peers;
pub use exporters::*;
pub use peers::*;

/// A port free right now on 127.0.0.1, for a peer process to be started on: below Linux's
/// ephemeral range (from 32768), so no outgoing connection can be holding it, and spread by
/// process id so test binaries running side by side rarely try the same ports.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 32_768 - FIRST;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = std::process::id().wrapping_mul(97) % COUNT;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (FIRST + (offset + n) % COUNT) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls `check` every 200 ms until it returns Some, or panics after `limit` with `what`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    while Instant::now() < deadline {
        match check() {
            Ok(v) => return v,
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("gave up waiting for {what} after {limit:?}; last seen: {last}");
}

/// A plain HTTP/1.1 response.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A blocking GET of `url` (http or https) with a scrape client's TLS settings and credentials:
/// the body of a 200 answer, or why there was none.
pub fn fetch_with(client: &HttpClient, url: &str) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(Fetcher::default().fetch(client, url, Duration::from_secs(10), 0))
        .map(|e| String::from_utf8_lossy(&e.body).into_owned())
        .map_err(|e| e.to_string())
}

/// Starts the binary on `config` (storage under `dir`) expecting it to refuse to start;
/// returns what it wrote to stderr.
pub fn refused_start(config: &std::path::Path, dir: &std::path::Path) -> String {
    let run = Command::new(env!("CARGO_BIN_EXE_wasmfed"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .output()
        .unwrap();
    assert!(
        !run.status.success(),
        "wasmfed started on {}",
        config.display()
    );
    String::from_utf8_lossy(&run.stderr).into_owned()
}

/// A blocking GET (or POST with a form body) with `Connection: close`.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    extra_headers: &[(&str, &str)],
    body: &[u8],
) -> Result<HttpResponse, String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut request = format!("{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in extra_headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    stream.write_all(body).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("reading response: {e}"))?;
    parse_response(&raw)
}

pub fn get(addr: SocketAddr, path_and_query: &str) -> Result<HttpResponse, String> {
    http(addr, "GET", path_and_query, &[], b"")
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty response")?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .map_err(|e| e.to_string())?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// URL-encodes a query value.
pub fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A running `wasmfed` node; killed on drop. Its storage is `<dir>/data`.
pub struct Wasmfed {
    pub addr: SocketAddr,
    child: Child,
    /// Always `Some` until [`Wasmfed::kill_keeping_dir`] takes it.
    dir: Option<tempfile::TempDir>,
    pub log: PathBuf,
}

impl Wasmfed {
    /// Starts the binary with `config` (YAML) and waits until `/-/ready` answers 200.
    pub fn start(config: &str) -> Wasmfed {
        Self::start_args(config, &[])
    }

    /// [`Wasmfed::start`] with more command-line arguments.
    pub fn start_args(config: &str, extra_args: &[&str]) -> Wasmfed {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("wasmfed.yml");
        std::fs::write(&config_path, config).unwrap();
        Self::start_with(dir, &config_path, extra_args)
    }

    pub fn start_with(dir: tempfile::TempDir, config_path: &Path, extra_args: &[&str]) -> Wasmfed {
        let mut node = Self::spawn_with(dir, config_path, extra_args);
        node.wait_ready();
        node
    }

    /// Starts the binary like [`Wasmfed::start_with`] but returns at once, ready or not.
    pub fn spawn_with(dir: tempfile::TempDir, config_path: &Path, extra_args: &[&str]) -> Wasmfed {
        Self::spawn_env(dir, config_path, extra_args, &[])
    }

    /// [`Wasmfed::spawn_with`] with environment variables set for the process.
    pub fn spawn_env(
        dir: tempfile::TempDir,
        config_path: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Wasmfed {
        Self::spawn_at(free_port(), dir, config_path, extra_args, env)
    }

    /// Starts a node listening on `port` (one a test told others about before it started)
    /// and waits until it is ready.
    pub fn start_on(port: u16, config: &str) -> Wasmfed {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("wasmfed.yml");
        std::fs::write(&config_path, config).unwrap();
        Self::start_with_port(port, dir, &config_path, &[])
    }

    /// [`Wasmfed::start_with`] on a given port.
    pub fn start_with_port(
        port: u16,
        dir: tempfile::TempDir,
        config_path: &Path,
        extra_args: &[&str],
    ) -> Wasmfed {
        let mut node = Self::spawn_at(port, dir, config_path, extra_args, &[]);
        node.wait_ready();
        node
    }

    fn spawn_at(
        port: u16,
        dir: tempfile::TempDir,
        config_path: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Wasmfed {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = dir.path().join("wasmfed.log");
        // These tests compare with Debian's Prometheus 2.42, unless one asks for 3.
        let compat = (!extra_args.iter().any(|a| a.starts_with("--query.compat")))
            .then_some("--query.compat=2");
        let child = Command::new(env!("CARGO_BIN_EXE_wasmfed"))
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .args(compat)
            .args(extra_args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting wasmfed");
        Wasmfed {
            addr,
            child,
            dir: Some(dir),
            log,
        }
    }

    /// Waits until `/-/ready` answers 200; panics if the process exits first.
    pub fn wait_ready(&mut self) {
        self.wait_ready_by(|addr| match get(addr, "/-/ready") {
            Ok(r) if r.status == 200 => Ok(()),
            Ok(r) => Err(format!("status {}", r.status)),
            Err(e) => Err(e),
        });
    }

    /// Waits until `/-/ready` answers 200 over https with `client`'s TLS settings and
    /// credentials (a node started with `--web.config.file`).
    pub fn wait_ready_https(&mut self, client: &HttpClient) {
        self.wait_ready_by(|addr| {
            fetch_with(client, &format!("https://{addr}/-/ready")).map(|_| ())
        });
    }

    /// Waits until `ready` (given the address) succeeds; panics if the process exits first.
    pub fn wait_ready_by(&mut self, ready: impl Fn(SocketAddr) -> Result<(), String>) {
        // Generous: a node compiles its rule plugins before it is ready, slow on a loaded CI.
        wait_for("wasmfed to be ready", Duration::from_secs(60), || {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("wasmfed exited with {status}: {}", self.log_text());
            }
            ready(self.addr)
        });
    }

    /// The node's process id, for reading its memory and threads from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The node's `--storage.path`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.as_ref().expect("dir").path().join("data")
    }

    /// SIGTERMs the node (a graceful shutdown, as systemd or docker stop sends), waits up to
    /// 30 s for it to exit, and hands back how it exited and its directory. Panics if it is
    /// still running then.
    pub fn terminate(mut self) -> (std::process::ExitStatus, tempfile::TempDir) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -TERM failed");
        let status = wait_for(
            "wasmfed to exit after SIGTERM",
            Duration::from_secs(30),
            || {
                self.child
                    .try_wait()
                    .unwrap()
                    .ok_or_else(|| "still running".to_string())
            },
        );
        (status, self.dir.take().expect("dir"))
    }

    /// SIGKILLs the node (no shutdown of any kind) and hands back its directory, storage
    /// included, to start a node on again with [`Wasmfed::start_with`].
    pub fn kill_keeping_dir(mut self) -> tempfile::TempDir {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaping the killed node");
        self.dir.take().expect("dir")
    }

    /// Waits until the log has been fsynced twice more, so that whatever was appended before
    /// the call is on disk (a kill -9 after this loses none of it).
    pub fn wait_durable(&self) {
        let fsyncs = "wasmfed_wal_fsyncs_total";
        let start = self.metric(fsyncs).expect("fsync counter");
        wait_for(
            "two more WAL fsyncs",
            Duration::from_secs(20),
            || match self.metric(fsyncs) {
                Some(n) if n >= start + 2.0 => Ok(()),
                other => Err(format!("{fsyncs} {other:?}, started at {start}")),
            },
        );
    }

    /// The value of the sample `series` (exact text, e.g. `up{job="a"}`) on `/metrics`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let text = get(self.addr, "/metrics").ok()?.text();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    pub fn federate(&self, selectors: &[&str]) -> HttpResponse {
        federate(self.addr, selectors)
    }

    /// The JSON of `/api/v1/targets`.
    pub fn targets(&self) -> serde_json::Value {
        let r = get(self.addr, "/api/v1/targets").unwrap();
        assert_eq!(r.status, 200);
        serde_json::from_slice(&r.body).unwrap()
    }
}

impl Drop for Wasmfed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until each `(job, error)` target is up with no error when `error` is empty, else down
/// with a `lastError` containing `error` (as `/api/v1/targets` shows them).
pub fn wait_for_health(node: &Wasmfed, expected: &[(&str, &str)]) {
    wait_for(
        "every target to report its health",
        Duration::from_secs(30),
        || {
            let targets = node.targets();
            let active = targets["data"]["activeTargets"].as_array().unwrap().clone();
            for &(job, error) in expected {
                let t = active
                    .iter()
                    .find(|t| t["scrapePool"] == job)
                    .ok_or(format!("no target for {job}"))?;
                let health = t["health"].as_str().unwrap();
                let last_error = t["lastError"].as_str().unwrap();
                let want_health = if error.is_empty() { "up" } else { "down" };
                if health != want_health
                    || !last_error.contains(error)
                    || (error.is_empty() && !last_error.is_empty())
                {
                    return Err(format!("{job}: health {health}, lastError {last_error:?}"));
                }
            }
            Ok(())
        },
    );
}

pub fn federate(addr: SocketAddr, selectors: &[&str]) -> HttpResponse {
    let query: Vec<String> = selectors
        .iter()
        .map(|s| format!("match[]={}", enc(s)))
        .collect();
    get(addr, &format!("/federate?{}", query.join("&"))).unwrap()
}

/// One parsed `/federate` line: sorted labels (name included), value bits, timestamp.
pub type FederatedSample = (Vec<(String, String)>, u64, i64);

/// Parses a text-format body into comparable samples (order-insensitive, label-order-insensitive).
pub fn samples_of(text: &str) -> BTreeSet<FederatedSample> {
    let mut out = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, rest) = match line.find('}') {
            Some(i) => (&line[..=i], line[i + 1..].trim()),
            None => line.split_once(' ').unwrap(),
        };
        let labels = wasmfed_scrape::parse::parse_series(series).unwrap();
        let mut parts = rest.split_whitespace();
        let value: f64 = match parts.next().unwrap() {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap(),
        };
        let ts: i64 = parts.next().unwrap().parse().unwrap();
        let pairs = labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        out.insert((pairs, value.to_bits(), ts));
    }
    out
}

/// How many targets of `job` a `/api/v1/targets` answer lists as dropped by relabeling.
pub fn dropped_by(targets: &serde_json::Value, job: &str) -> usize {
    targets["data"]["droppedTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["discoveredLabels"]["job"] == job)
        .count()
}

/// An exporter that numbers its replies: `scrape_seq N` (1, 2, 3, ...) before `body`, so a
/// test can tell that every scrape was stored exactly once from the stored numbers alone
/// (see [`assert_each_once`]), without reading anything into the time between scrapes.
pub fn sequenced_exporter(body: &'static str) -> Exporter {
    let served = std::sync::atomic::AtomicU64::new(0);
    Exporter::start(move |_| {
        let n = served.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        Reply::Text(format!("scrape_seq {n}\n{body}"))
    })
}

/// Checks stored `scrape_seq` values: consecutive (no scrape lost between the first and the
/// last stored) and none twice.
pub fn assert_each_once(what: &str, values: impl IntoIterator<Item = f64>) {
    let mut seq: Vec<u64> = values.into_iter().map(|v| v as u64).collect();
    seq.sort_unstable();
    assert!(!seq.is_empty(), "{what}: no scrape stored");
    let repeated: Vec<u64> = seq
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    assert!(
        repeated.is_empty(),
        "{what}: scrapes stored twice: {repeated:?}"
    );
    let missing: Vec<u64> = seq.windows(2).flat_map(|w| w[0] + 1..w[1]).collect();
    assert!(
        missing.is_empty(),
        "{what}: scrapes lost: {missing:?} of {seq:?}"
    );
}

/// The value on a `/metrics` text of the series named `name` whose labels include `labels`
/// (others allowed); `None` when there is none.
pub fn metric_with(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = match line.rfind('}') {
                Some(i) => (&line[..=i], &line[i + 1..]),
                None => line.split_once(' ')?,
            };
            let parsed = wasmfed_scrape::parse::parse_series(series).ok()?;
            let has = |k: &str, v: &str| parsed.iter().any(|l| l.name == k && l.value == v);
            if !has("__name__", name) || !labels.iter().all(|(k, v)| has(k, v)) {
                return None;
            }
            value.split_whitespace().next()?.parse().ok()
        })
}

/// `global:` with 1 s scrapes and evaluations, and the external labels given.
pub fn global_section(external_labels: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n{external_labels}"
    )
}

/// A `scrape_configs` entry for `targets`; `extra` holds the job's other keys, indented as
/// job keys.
pub fn static_job(name: &str, targets: &[SocketAddr], extra: &str) -> String {
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    format!(
        "  - job_name: {name}\n{extra}    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    )
}
