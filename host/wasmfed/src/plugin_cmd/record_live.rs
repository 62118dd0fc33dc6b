//! `wasmfed plugin record --from URL --plugin NAME --job J ...`: a fixture recorded from a live
//! node through its admin API (`GET /api/v1/plugins/{name}/fixture`, see
//! `wasmfed_web::plugin_fixture`), written to a file that `wasmfed plugin test` runs.
//!
//! The node records (it has the targets, the scrapes and the running components); this
//! command only asks, with the job's scrape client (so `https://` and its system roots work as
//! they do for scrapes) and the admin token, and writes the answer with the file's own name
//! in its "Run:" line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use wasmfed_config::{Auth, HttpClientConfig, Secret};
use wasmfed_scrape::fetch::{Fetcher, HttpClient};

/// The largest fixture taken from a node (a scrape of a big target is big).
const MAX_FIXTURE_BYTES: u64 = 256 << 20;

/// What to record, from where.
pub struct RecordLive<'a> {
    /// The node's base URL, e.g. `http://127.0.0.1:9090`.
    pub from: &'a str,
    pub plugin: &'a str,
    pub job: &'a str,
    /// `target` or `series`; needed only when the job runs the plugin at both stages.
    pub stage: Option<&'a str>,
    /// At the series stage, the target's `instance`; at the target stage, an `__address__`.
    pub target: Option<&'a str>,
    /// `X-Scope-OrgID`; the node's own tenant when `None`.
    pub tenant: Option<&'a str>,
    /// A file holding the admin bearer token (else `$WASMFED_ADMIN_TOKEN`).
    pub token_file: Option<&'a Path>,
    pub output: &'a Path,
    pub timeout: Duration,
}

pub fn record(ask: &RecordLive<'_>) -> anyhow::Result<()> {
    let token = match ask.token_file {
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| format!("reading the admin token from {}", file.display()))?
            .trim()
            .to_owned(),
        None => std::env::var("WASMFED_ADMIN_TOKEN").context(
            "the admin API needs its bearer token: give --token-file FILE or set WASMFED_ADMIN_TOKEN",
        )?,
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("job", ask.job);
    if let Some(stage) = ask.stage {
        query.append_pair("stage", stage);
    }
    if let Some(target) = ask.target {
        query.append_pair("target", target);
    }
    let url = format!(
        "{}/api/v1/plugins/{}/fixture?{}",
        ask.from.trim_end_matches('/'),
        ask.plugin,
        query.finish()
    );
    let mut config = HttpClientConfig {
        auth: Some(Auth::Authorization {
            kind: "Bearer".into(),
            credentials: Some(Secret::Inline(token)),
        }),
        ..HttpClientConfig::default()
    };
    if let Some(tenant) = ask.tenant {
        config.headers.push((
            "X-Scope-OrgID".into(),
            vec![Secret::Inline(tenant.to_owned())],
        ));
    }
    let client = HttpClient::new(&config);
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime for the request")?
        .block_on(Fetcher::default().api_get(&client, &url, ask.timeout, MAX_FIXTURE_BYTES))
        .with_context(|| format!("GET {url}"))?;
    let text = String::from_utf8(answer.body).context("the node's answer is not UTF-8")?;
    if answer.status != 200 {
        // The admin API's errors are JSON naming the reason (and what exists).
        let why = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(text);
        bail!("GET {url}: HTTP {}: {why}", answer.status);
    }
    let path: PathBuf = ask.output.to_owned();
    let text = text.replacen("<this file>", &path.display().to_string(), 1);
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    println!("recorded {}", path.display());
    if let Some(run) = text.lines().find_map(|l| l.strip_prefix("# Run: ")) {
        println!("run: {run}");
    }
    Ok(())
}
