//! One scrape loop per target: when to scrape, and what to record about each scrape.
//!
//! Scrapes happen at a fixed phase within the interval (see `Target::next_slot`), so a target is
//! scraped at evenly spaced times that survive restarts. After each scrape the loop writes the
//! five synthetic series Prometheus writes (`up`, `scrape_duration_seconds`,
//! `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling`, `scrape_series_added`) and
//! updates the target's health for `/api/v1/targets`. When the loop is stopped (target gone,
//! node shutting down) every series it wrote, synthetic ones included, gets a stale marker.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use wasmfed_config::NameRules;

use super::capture::{series_stage_input, InputCapture};
use super::every_sample::{Answer, CursorBook, EveryTarget};
use super::fetch::{Exposition, Fetcher, HttpClient};
use super::ha::HaTracker;
use super::ingest::{IngestError, IngestReport, IngestSettings, SeriesCache};
use super::parse::Format;
use super::remote_read::{self, RemoteRead};
use super::stages::GuardedStage;
use super::target::Target;
use wasmfed_config::{ScrapeConfig, ScrapeProtocol, TenantLimits};
use wasmfed_model::clock::{unix_millis, unix_nanos};
use wasmfed_model::compat::Compat;
use wasmfed_model::labels::METRIC_NAME;
use wasmfed_model::{Labels, STALE_NAN};
use wasmfed_plugin::PluginRuntime;
use wasmfed_storage::{AppendError, Head, SeriesRef};
use wasmfed_telemetry::{ReplicaLabels, Telemetry};

/// What an every-sample answer made from a remote-read pull is parsed as.
const EVERY_SAMPLE_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

mod align;
mod handle;

use align::aligned_scrape_time;

use handle::Signal;
pub use handle::{Carried, LoopHandle};

/// Bodies larger than this are parsed with `block_in_place` so one huge federation scrape does
/// not hold up the other loops sharing its runtime worker.
const INLINE_PARSE_BYTES: usize = 256 * 1024;

/// What `/api/v1/targets` says about a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Up,
    Down,
}

impl Health {
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The latest scrape of a target.
#[derive(Clone, Debug)]
pub struct TargetHealth {
    pub health: Health,
    pub last_error: String,
    pub last_scrape: Option<SystemTime>,
    pub last_duration: Duration,
}

impl Default for TargetHealth {
    fn default() -> Self {
        TargetHealth {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape: None,
            last_duration: Duration::ZERO,
        }
    }
}

/// Per-job settings a loop needs besides its target.
#[derive(Clone)]
pub struct LoopSettings {
    pub job: String,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub sample_limit: u64,
    pub body_size_limit: u64,
    pub series_stage: GuardedStage,
    /// The generation whose scrape semantics the job follows (see [`ScrapeConfig::compat`]).
    pub compat: Compat,
    /// Which names the job stores, and its `Accept` header, which asks for them.
    pub names: NameRules,
    pub accept: Arc<str>,
    /// The format of a body whose Content-Type is blank, unparsable or unknown; without one
    /// such a scrape fails (see [`content_type_fallback`]).
    pub fallback: Option<Format>,
    /// The job's credentials, TLS settings and redirect policy.
    pub client: Arc<HttpClient>,
    /// Every-sample mode (`federation.every_sample`): the most samples one answer may hold.
    pub every_sample: Option<u64>,
    /// HA replica pairs (`federation.replica_label`): the job's elected replicas.
    pub ha: Option<Arc<HaTracker>>,
    /// `federation.remote_read`: every sample pulled from a stock Prometheus.
    pub remote_read: Option<Arc<RemoteRead>>,
}

/// A job's `fallback_scrape_protocol` as the format it asks for. Prometheus 2.42 parses every
/// body it cannot place as the text format, which is what a text fallback does in 3.
pub fn content_type_fallback(cfg: &ScrapeConfig) -> Option<Format> {
    match cfg.compat {
        Compat::V2 => Some(Format::PrometheusText),
        Compat::V3 => cfg.fallback_scrape_protocol.and_then(|p| match p {
            ScrapeProtocol::PrometheusText0_0_4 | ScrapeProtocol::PrometheusText1_0_0 => {
                Some(Format::PrometheusText)
            }
            ScrapeProtocol::OpenMetricsText0_0_1 | ScrapeProtocol::OpenMetricsText1_0_0 => {
                Some(Format::OpenMetrics)
            }
            // Refused when the configuration is read: wasmfed parses no protobuf.
            ScrapeProtocol::PrometheusProto => None,
        }),
    }
}

/// Shared services of all loops.
#[derive(Clone)]
pub struct LoopContext {
    pub head: Arc<Head>,
    pub fetcher: Fetcher,
    pub telemetry: Arc<Telemetry>,
    pub plugins: Arc<PluginRuntime>,
    pub node_seed: u64,
    /// The tenant the loops scrape for (metric labels, plugin budgets).
    pub tenant: Arc<str>,
    /// The tenant's limits, read when a job starts.
    pub limits: Arc<parking_lot::RwLock<TenantLimits>>,
    /// Which Prometheus the relabel rules' regexes are read as (`--query.compat`).
    pub compat: wasmfed_model::compat::Compat,
    /// Where every-sample jobs keep their targets' cursors.
    pub cursors: Arc<CursorBook>,
}

const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

struct ScrapeLoop {
    target: Arc<Target>,
    settings: Arc<LoopSettings>,
    ctx: LoopContext,
    cache: SeriesCache,
    report_series: [SeriesRef; 5],
    health: Arc<Mutex<TargetHealth>>,
    /// Where a recording asks for the next scrape's series-stage input.
    capture: Arc<InputCapture>,
    /// The grid scrape times snap to; starts at the first scrape.
    aligned_ms: Option<i64>,
    /// Where the target stands in its leaf's stream, in every-sample mode.
    every: Option<EveryTarget>,
}

impl ScrapeLoop {
    /// Scrapes until signalled. A stop ends the target (stale markers for all it wrote); a
    /// reload hands the loop's state on to the loop that replaces it, ending nothing.
    async fn run(mut self, mut signal: watch::Receiver<Signal>) -> Option<Carried> {
        let first = self.target.next_slot(
            unix_nanos(SystemTime::now()).max(0) as u128,
            self.ctx.node_seed,
        );
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + first, self.target.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.scrape_once().await,
                changed = signal.changed() => {
                    if changed.is_ok() && *signal.borrow() == Signal::Reload {
                        return Some(self.carry());
                    }
                    break;
                }
            }
        }
        self.end_of_target();
        None
    }

    async fn scrape_once(&mut self) {
        let wall = SystemTime::now();
        let now_ms = unix_millis(wall);
        let grid = self.aligned_ms.get_or_insert(now_ms);
        let scrape_ms = aligned_scrape_time(grid, now_ms, self.target.interval.as_millis() as i64);
        let started = Instant::now();
        let job = Telemetry::job(&self.ctx.tenant, &self.settings.job);
        self.ctx.telemetry.scrapes.get_or_create(&job).inc();
        let outcome = match self.every.is_some() {
            false => {
                let url = self.target.url.clone();
                self.scrape_url(&url, scrape_ms)
                    .await
                    .map(|(report, _)| report)
            }
            true => self.scrape_pages(scrape_ms, started).await,
        };
        let report = match &outcome {
            Ok(report) => report.clone(),
            Err(reason) => {
                tracing::debug!(target = %self.target, job = %self.settings.job, error = %reason, "scrape failed");
                if self.capture.wanted() {
                    self.capture.put(Err(reason.clone()));
                }
                self.ctx.telemetry.scrape_failures.get_or_create(&job).inc();
                let stale = self.cache.mark_all_stale(&self.ctx.head, scrape_ms);
                IngestReport {
                    stale_markers: stale,
                    ..IngestReport::default()
                }
            }
        };
        let duration = started.elapsed();
        self.show_elected(&report.took_over);
        for (replica, from) in &report.took_over {
            tracing::warn!(
                job = %self.settings.job,
                target = %self.target,
                cluster = %replica.cluster,
                replica = %replica.replica,
                from = %from,
                "HA: the elected replica delivered nothing for the failover timeout; this one takes over"
            );
            self.ctx
                .telemetry
                .federation
                .failovers
                .get_or_create(&job)
                .inc();
        }
        if report.standby > 0 {
            let standby = &self.ctx.telemetry.federation.standby_samples;
            standby.get_or_create(&job).inc_by(report.standby as u64);
        }
        self.record(&report, outcome.is_ok(), duration, scrape_ms);
        if let Some(every) = &self.every {
            // The samples before the cursor are with the log now (`record` handed them over).
            if let Some(cursor) = &every.cursor {
                self.ctx.cursors.advance(&every.key, cursor.clone());
            }
        }
        let mut health = self.health.lock().expect("health lock");
        health.health = if outcome.is_ok() {
            Health::Up
        } else {
            Health::Down
        };
        health.last_error = outcome.err().unwrap_or_default();
        health.last_scrape = Some(wall);
        health.last_duration = duration;
    }

    /// Fetches `url` and stores what it answers; with the body's every-sample trailer when
    /// the loop is in that mode.
    async fn scrape_url(
        &mut self,
        url: &str,
        scrape_ms: i64,
    ) -> Result<(IngestReport, Option<Answer>), String> {
        let exposition = self.fetch(url).await?;
        let format = Format::negotiate(exposition.content_type.as_deref(), self.settings.fallback);
        let answer = match (&format, &self.every) {
            (Ok(_), Some(_)) => EveryTarget::answer(&exposition.body).map(Some),
            _ => Ok(None),
        };
        let (format, answer) = match (format, answer) {
            (Ok(format), Ok(answer)) => (format, answer),
            (Err(e), _) => {
                self.ctx.fetcher.recycle(exposition.body);
                return Err(e.to_string());
            }
            (_, Err(e)) => {
                self.ctx.fetcher.recycle(exposition.body);
                return Err(e);
            }
        };
        if self.capture.wanted() {
            let settings = ingest_settings(&self.target, &self.settings, false);
            let input = series_stage_input(&settings, &exposition.body, format);
            self.capture.put(input.map_err(|e| e.to_string()));
        }
        let (result, body) = self.ingest(exposition.body, format, scrape_ms).await;
        self.ctx.fetcher.recycle(body);
        result.map(|report| (report, answer))
    }

    /// GETs `url`; in remote-read mode pulls the time since the cursor instead, and answers
    /// with what the pull brought, as an every-sample answer.
    async fn fetch(&self, url: &str) -> Result<Exposition, String> {
        let (client, timeout, limit) = (
            &self.settings.client,
            self.target.timeout,
            self.settings.body_size_limit,
        );
        let fetcher = &self.ctx.fetcher;
        let (Some(read), Some(every)) = (&self.settings.remote_read, &self.every) else {
            let accept = &self.settings.accept;
            let fetched = fetcher
                .fetch_accepting(client, url, accept, timeout, limit)
                .await;
            return fetched.map_err(|e| e.to_string());
        };
        let mut pull = read.pull(every.cursor.as_deref());
        let body = std::mem::take(&mut pull.body);
        let streamed = fetcher
            .remote_read(client, &self.target.url, body, timeout, limit)
            .await
            .map_err(|e| e.to_string())?;
        let content_type = streamed.content_type.as_deref().unwrap_or("");
        let answer = match content_type.starts_with("application/x-streamed-protobuf") {
            true => remote_read::answer(&pull, &streamed.body),
            false => Err(format!(
                "remote read answered {content_type:?}, not streamed XOR chunks (a Prometheus \
                 older than 2.13, or not a Prometheus)"
            )),
        };
        fetcher.recycle(streamed.body);
        Ok(Exposition {
            content_type: Some(EVERY_SAMPLE_CONTENT_TYPE.into()),
            body: answer?,
        })
    }

    /// Every-sample mode: fetches pages until the leaf says the round is complete or the
    /// scrape timeout is spent, moving the cursor after each page stored.
    async fn scrape_pages(
        &mut self,
        scrape_ms: i64,
        started: Instant,
    ) -> Result<IngestReport, String> {
        let job = Telemetry::job(&self.ctx.tenant, &self.settings.job);
        let mut total = IngestReport::default();
        loop {
            let every = self.every.as_ref().expect("every-sample mode");
            let url = every.url(&self.target.url);
            let (report, answer) = self.scrape_url(&url, scrape_ms).await?;
            let answer = answer.expect("every-sample answers are read");
            let metrics = &self.ctx.telemetry.federation;
            metrics.pages.get_or_create(&job).inc();
            metrics
                .samples_resent
                .get_or_create(&job)
                .inc_by(report.resent as u64);
            if let Some(reset) = &answer.reset {
                metrics.resets_received.get_or_create(&job).inc();
                tracing::warn!(
                    target = %self.target,
                    job = %self.settings.job,
                    from_ms = reset.from_ms,
                    reason = %reset.reason,
                    "the leaf could not go on from the cursor: samples it stored late before from_ms may be missing"
                );
            }
            let rewind = report.rewind;
            total.absorb(report);
            let every = self.every.as_mut().expect("every-sample mode");
            if rewind {
                // This replica just took over: its samples since before the old one went
                // silent fill the gap; the answer just dropped is asked for again.
                every.rewind();
                continue;
            }
            every.advance(answer.trailer.cursor);
            if answer.trailer.complete || started.elapsed() >= self.target.timeout {
                return Ok(total);
            }
        }
    }

    /// HA: `wasmfed_ha_elected_replica` for the job's clusters, the replaced replicas' series
    /// removed.
    fn show_elected(&self, took_over: &[(crate::ha::Replica, String)]) {
        let Some(ha) = &self.settings.ha else {
            return;
        };
        let labels = |cluster: &str, replica: &str| ReplicaLabels {
            tenant: self.ctx.tenant.to_string(),
            job: self.settings.job.clone(),
            cluster: cluster.to_owned(),
            replica: replica.to_owned(),
        };
        let elected = &self.ctx.telemetry.federation.elected;
        for (replica, from) in took_over {
            elected.remove(&labels(&replica.cluster, from));
        }
        for replica in ha.elected() {
            elected
                .get_or_create(&labels(&replica.cluster, &replica.replica))
                .set(1);
        }
    }

    /// Stores a scraped body. Plugin calls block (and must not run on a runtime worker), so a
    /// job with series plugins ingests on a blocking thread; so does a large body, which would
    /// otherwise hold up the loops sharing this worker.
    /// Answers with the body, to be recycled.
    async fn ingest(
        &mut self,
        body: Vec<u8>,
        format: Format,
        scrape_ms: i64,
    ) -> (Result<IngestReport, String>, Vec<u8>) {
        if body.len() <= INLINE_PARSE_BYTES {
            // Plugins run only for new series: a scrape of known ones stays on this thread.
            let known_only = !self.settings.series_stage.is_empty();
            let inline = ingest(
                &mut self.cache,
                &self.ctx.head,
                &self.target,
                &self.settings,
                (&body, format, scrape_ms),
                known_only,
            );
            if !matches!(inline, Err(IngestError::NewSeries)) {
                return (inline.map_err(|e| e.to_string()), body);
            }
        }
        let mut cache = std::mem::take(&mut self.cache);
        let (head, target, settings) = (
            self.ctx.head.clone(),
            self.target.clone(),
            self.settings.clone(),
        );
        let (cache, result, body) = tokio::task::spawn_blocking(move || {
            let scrape = (&body[..], format, scrape_ms);
            let result = ingest(&mut cache, &head, &target, &settings, scrape, false)
                .map_err(|e| e.to_string());
            (cache, result, body)
        })
        .await
        .expect("ingesting a scrape panicked");
        self.cache = cache;
        (result, body)
    }

    fn record(&mut self, report: &IngestReport, up: bool, duration: Duration, scrape_ms: i64) {
        let t = &self.ctx.telemetry;
        t.samples_scraped.inc_by(report.scraped as u64);
        t.stale_markers.inc_by(report.stale_markers as u64);
        for (reason, n) in [
            ("out_of_order", report.out_of_order),
            ("out_of_bounds", report.out_of_bounds),
            ("duplicate", report.duplicates),
        ] {
            if n > 0 {
                t.samples_rejected
                    .get_or_create(&Telemetry::rejected(reason))
                    .inc_by(n as u64);
            }
        }
        t.scrape_duration.observe(duration.as_secs_f64());
        let job = Telemetry::job(&self.ctx.tenant, &self.settings.job);
        t.series_cache_hits
            .get_or_create(&job)
            .inc_by(report.cache_hits as u64);
        let misses = report.scraped.saturating_sub(report.cache_hits);
        t.series_cache_misses
            .get_or_create(&job)
            .inc_by(misses as u64);
        if report.series_refused > 0 {
            t.series_refused
                .get_or_create(&job)
                .inc_by(report.series_refused as u64);
        }
        if report.undecided_series > 0 {
            t.series_undecided
                .get_or_create(&job)
                .inc_by(report.undecided_series as u64);
            tracing::warn!(
                target = %self.target,
                job = %self.settings.job,
                series = report.undecided_series,
                error = report.stage_error.as_deref().unwrap_or(""),
                "series stage gave no answer; new series dropped until it does"
            );
        }
        let values = [
            if up { 1.0 } else { 0.0 },
            duration.as_secs_f64(),
            report.scraped as f64,
            report.kept as f64,
            report.series_added as f64,
        ];
        let mut appended = report.appended + report.stale_markers;
        let (head, target) = (&self.ctx.head, &self.target);
        let report_series = self.report_series;
        self.cache.commit(head, |appender| {
            for (series, value) in report_series.iter().zip(values) {
                let stored = match head.handle(*series) {
                    Some(handle) => appender.append_to(&handle, scrape_ms, value).map(|_| ()),
                    None => Err(AppendError::UnknownSeries),
                };
                match stored {
                    Ok(()) => appended += 1,
                    Err(e) => {
                        tracing::warn!(target = %target, error = %e, "recording scrape report")
                    }
                }
            }
        });
        t.head_samples_appended.inc_by(appended as u64);
    }

    fn end_of_target(&mut self) {
        let now_ms = unix_millis(SystemTime::now());
        let stale = self.cache.mark_all_stale(&self.ctx.head, now_ms);
        self.ctx.telemetry.stale_markers.inc_by(stale as u64);
        let (head, report_series) = (&self.ctx.head, self.report_series);
        self.cache.commit(head, |appender| {
            for series in report_series {
                if let Some(handle) = head.handle(series) {
                    let _ = appender.append_to(&handle, now_ms, STALE_NAN);
                }
            }
        });
    }
}

/// One scrape's body, its format and its timestamp.
type Scrape<'a> = (&'a [u8], Format, i64);

fn ingest(
    cache: &mut SeriesCache,
    head: &Head,
    target: &Target,
    settings: &LoopSettings,
    (body, format, scrape_ms): Scrape<'_>,
    known_only: bool,
) -> Result<IngestReport, IngestError> {
    let ingest_settings = ingest_settings(target, settings, known_only);
    cache.ingest(head, &ingest_settings, body, format, scrape_ms)
}

fn ingest_settings<'a>(
    target: &'a Target,
    settings: &'a LoopSettings,
    known_only: bool,
) -> IngestSettings<'a> {
    IngestSettings {
        target_labels: &target.public,
        honor_labels: settings.honor_labels,
        honor_timestamps: settings.honor_timestamps,
        sample_limit: settings.sample_limit,
        series_stage: &settings.series_stage,
        known_only,
        compat: settings.compat,
        names: settings.names,
        every_sample: settings.every_sample.is_some(),
        ha: settings.ha.as_deref(),
    }
}

fn report_series(head: &Head, target_labels: &Labels) -> [SeriesRef; 5] {
    REPORT_NAMES.map(|name| {
        let mut labels = target_labels.clone();
        labels.set(METRIC_NAME, name);
        head.get_or_create(&labels).0
    })
}
