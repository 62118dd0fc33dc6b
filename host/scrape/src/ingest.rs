//! Turning one scraped exposition into stored samples, per target.
//!
//! The hot path is a steady scrape of series seen before. For those, the raw series text of
//! each line (`name{labels}` exactly as exposed) is looked up in the target's [`SeriesCache`] and
//! yields the storage reference directly: no label decoding, no label-set hashing, no index
//! update. Only new series are decoded, merged with the target's labels and created — in one
//! batch per scrape, which is where the series stage (metric relabeling) plugs in. Decoding is
//! where Prometheus 3 normalizes `le` and `quantile` values, so it follows the `# TYPE` lines;
//! the cache stays keyed by the text as exposed, as Prometheus' is.
//!
//! A scrape is all or nothing, as in Prometheus: it is parsed completely (and checked against
//! the sample limit) before anything is appended, so a parse error half-way stores nothing.
//! Series that were in the previous successful scrape but not in this one get a stale marker;
//! a failed scrape counts as an empty one. Series exposed with their own timestamp are not
//! tracked for staleness (Prometheus does the same: their owner decides when they end).

use std::collections::HashMap;

use self::keys::KeyIndex;
pub use self::report::IngestReport;
use super::ha::{HaTracker, Replica, Verdict};
use super::honor::merge_target_labels;
use super::metadata::SharedMetadata;
use super::parse::{
    normalize_float_labels, parse_series, Entry, Format, MetricType, ParseError, Parser,
};
use super::stages::GuardedStage;
use wasmfed_config::{NameRules, NameValidation};
use wasmfed_model::compat::Compat;
use wasmfed_model::labels::{is_valid_label_name, is_valid_metric_name, METRIC_NAME};
use wasmfed_model::{Labels, STALE_NAN};
use wasmfed_storage::wal::SampleBatch;
use wasmfed_storage::{AppendError, Appender, ChunkTail, Head, SeriesHandle};

/// Cache entries unseen for this many scrapes are forgotten.
const CACHE_KEEP_SCRAPES: u64 = 10;

/// Why the samples of a scrape were not stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    #[error("exposition is not valid UTF-8 (at byte {0})")]
    NotUtf8(usize),
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("sample limit exceeded: {samples} samples, limit {limit}")]
    SampleLimit { samples: usize, limit: u64 },
    /// Metric relabeling (or a series plugin) left a series without a name: Prometheus fails
    /// the scrape with these words.
    #[error("missing metric name (__name__ label)")]
    MissingName,
    /// Metric relabeling made a name Prometheus 2 does not allow (its words).
    #[error("invalid metric name or label names: {0}")]
    InvalidLabels(String),
    /// Only with [`IngestSettings::known_only`]: the scrape has a series the cache does not
    /// know, so the series stage must run; nothing was stored.
    #[error("new series need the series stage")]
    NewSeries,
}

/// One cached series of the target: where its samples go and when it was last seen.
struct Slot {
    /// `None` when the series stage dropped the series.
    series: Option<SeriesHandle>,
    /// The scrape that last exposed it.
    last_seen: u64,
    /// The successful scrape that last stored a sample of it without an explicit timestamp.
    live_in: u64,
    /// Where its next sample will be written, to prefetch.
    tail: ChunkTail,
    /// HA: the replica it came from, an index into the cache's replicas ([`NO_REPLICA`]).
    replica: u32,
}

/// A slot whose series carries no replica label.
const NO_REPLICA: u32 = u32::MAX;

/// Per-target state carried from one scrape to the next.
#[derive(Default)]
pub struct SeriesCache {
    /// Exact exposed series text → slot.
    keys: KeyIndex,
    slots: Vec<Slot>,
    free: Vec<u32>,
    scrape_count: u64,
    /// The last successful scrape: series with `live_in` equal to it are the live ones.
    last_success: u64,
    /// The series stage's generation the cached decisions were made under.
    stage_generation: u64,
    /// Slots whose decision a plugin swap made stale: out of the index, kept until the next
    /// scrape ends so their series get stale markers if the new version no longer keeps them.
    orphans: Vec<u32>,
    /// The log records of a scrape's samples, kept between scrapes for its memory.
    log_batch: SampleBatch,
    /// A scrape's samples on their way to storage, kept between scrapes for its memory.
    pending: Vec<Pending>,
    metadata: SharedMetadata,
    /// HA: the replicas this target's series came from (few: one per cluster it federates).
    replicas: Vec<Replica>,
}

/// How a target's series are labeled and timed.
pub struct IngestSettings<'a> {
    pub target_labels: &'a Labels,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub sample_limit: u64,
    /// metric_relabel_configs and series plugins; the synthetic series never pass through it.
    pub series_stage: &'a GuardedStage,
    /// Give up with [`IngestError::NewSeries`] at the first series not in the cache, so a
    /// caller can ingest the common scrape (all series known) where it is and move only scrapes
    /// that call plugins to a blocking thread.
    pub known_only: bool,
    /// The generation whose parser decodes new series: 3 normalizes `le` and `quantile`.
    pub compat: Compat,
    /// Whether the parser reads quoted (UTF-8) names and which names may be stored.
    pub names: NameRules,
    /// The body is a wasmfed leaf's every-sample answer: `# STALE` lines are stale markers,
    /// and samples no newer than what their series holds are ones sent again, dropped and
    /// counted as resent (the leaf errs on the side of sending).
    pub every_sample: bool,
    /// HA replica pairs: the job's tracker; only the elected replica's samples are stored.
    pub ha: Option<&'a HaTracker>,
}

struct Pending {
    slot: u32,
    timestamp_ms: i64,
    value: f64,
    tracked: bool,
}

/// What becomes of a new series.
enum Decision {
    Keep(Labels),
    Drop,
    /// The series stage gave no answer: store nothing, cache nothing, ask again next scrape.
    Undecided,
}

/// Slot number standing for "a new series, not decided yet".
const UNDECIDED: u32 = u32::MAX;

/// How many samples ahead the append loop prefetches a series and its chunk's tail: a few
/// hundred nanoseconds of memory latency over appends of some tens of nanoseconds each.
const PREFETCH_AHEAD: usize = 16;

impl SeriesCache {
    /// Stores one successful scrape's samples. On error nothing is stored (the caller then
    /// reports the failure with [`SeriesCache::mark_all_stale`]).
    pub fn ingest(
        &mut self,
        head: &Head,
        settings: &IngestSettings<'_>,
        body: &[u8],
        format: Format,
        scrape_ms: i64,
    ) -> Result<IngestReport, IngestError> {
        let text = std::str::from_utf8(body).map_err(|e| IngestError::NotUtf8(e.valid_up_to()))?;
        let generation = settings.series_stage.generation();
        if generation != self.stage_generation {
            // A swapped plugin decides every series afresh.
            self.stage_generation = generation;
            self.orphans.extend(self.keys.clear());
        }
        self.scrape_count += 1;
        let now = self.scrape_count;
        let mut report = IngestReport::default();
        self.keys.begin_scrape();
        let mut pending = std::mem::take(&mut self.pending);
        pending.clear();
        // New series wait here (with their family's type and the index of their samples) until
        // the batch is decided.
        let mut new_series: Vec<(&str, MetricType, Vec<usize>)> = Vec::new();
        let mut new_index: HashMap<&str, usize> = HashMap::new();
        // The type the last `# TYPE` line declared, whatever its family: Prometheus' parsers
        // keep it so.
        let mut kind = MetricType::Unknown;
        let shared = self.metadata.clone();
        let mut metadata = shared.lock().expect("metadata lock");
        for entry in settings.parser(text, format) {
            let raw = match entry? {
                Entry::Sample(raw) => raw,
                Entry::Type {
                    metric,
                    kind: declared,
                } => {
                    kind = declared;
                    metadata.set_type(metric, declared);
                    continue;
                }
                Entry::Help { metric, text } => {
                    metadata.set_help(metric, &text);
                    continue;
                }
                Entry::Unit { metric, unit } => {
                    metadata.set_unit(metric, unit);
                    continue;
                }
            };
            let position = report.scraped;
            report.scraped += 1;
            let (timestamp_ms, tracked) = match raw.timestamp_ms {
                Some(t) if settings.honor_timestamps => (t, false),
                _ => (scrape_ms, true),
            };
            let found = self.keys.find(position, raw.series);
            self.keys.saw(found);
            let slot = match found {
                Some(slot) => {
                    report.cache_hits += 1;
                    let cached = &mut self.slots[slot as usize];
                    cached.last_seen = now;
                    if cached.series.is_none() {
                        continue;
                    }
                    slot
                }
                None if settings.known_only => {
                    self.scrape_count -= 1;
                    return Err(IngestError::NewSeries);
                }
                None => {
                    let at = *new_index.entry(raw.series).or_insert_with(|| {
                        new_series.push((raw.series, kind, Vec::new()));
                        new_series.len() - 1
                    });
                    new_series[at].2.push(pending.len());
                    UNDECIDED
                }
            };
            pending.push(Pending {
                slot,
                timestamp_ms,
                value: raw.value,
                tracked,
            });
        }
        drop(metadata);
        // Decode and label the new series first, so a parse error in one stores nothing.
        let mut labeled = Vec::with_capacity(new_series.len());
        let mut replicas = Vec::with_capacity(new_series.len());
        for &(raw, kind, _) in &new_series {
            let (labels, replica) = stage_input(raw, kind, settings)?;
            replicas.push(replica);
            labeled.push(labels);
        }
        let decided = self.decide(labeled, settings.series_stage, &mut report);
        for decision in &decided {
            if let Decision::Keep(labels) = decision {
                check_labels(labels, settings.names.validation)?;
            }
        }
        let dropped_samples: usize = new_series
            .iter()
            .zip(&decided)
            .filter(|(_, d)| !matches!(d, Decision::Keep(_)))
            .map(|((_, _, idx), _)| idx.len())
            .sum();
        report.kept = pending.len() - dropped_samples;
        if settings.sample_limit > 0 && report.kept as u64 > settings.sample_limit {
            return Err(IngestError::SampleLimit {
                samples: report.kept,
                limit: settings.sample_limit,
            });
        }
        // The cache keys of a scrape's new series are allocated back to back, before their
        // series: every later scrape looks them up in this same order, and keys that sit
        // together in memory cost one cache miss per few lookups instead of one each.
        let keys: Vec<Box<str>> = new_series
            .iter()
            .map(|(raw, _, _)| Box::from(*raw))
            .collect();
        let new = new_series.into_iter().zip(decided).zip(keys).zip(replicas);
        for ((((_, _, indexes), decision), key), replica) in new {
            let series = match decision {
                Decision::Undecided => continue,
                Decision::Drop => None,
                Decision::Keep(labels) => match head.create_within_limit(&labels) {
                    Some((series, _)) => {
                        report.series_added += 1;
                        head.handle(series)
                    }
                    None => {
                        report.series_refused += 1;
                        continue;
                    }
                },
            };
            let kept = series.is_some();
            let slot = self.insert(key, series, now);
            self.slots[slot as usize].replica = self.replica_id(replica);
            if kept {
                for &i in &indexes {
                    pending[i].slot = slot;
                }
            }
        }
        let mut vanished = Vec::new();
        let mut appender = head.appender(std::mem::take(&mut self.log_batch));
        let mut newest = HashMap::new();
        let elected = self.elect(settings, &pending, &mut report);
        for (i, sample) in pending.iter().enumerate() {
            self.prefetch(&appender, &pending, i + PREFETCH_AHEAD);
            if sample.slot == UNDECIDED {
                continue; // a new series that was dropped
            }
            let cached = &mut self.slots[sample.slot as usize];
            let Some(series) = &cached.series else {
                continue;
            };
            if cached.replica != NO_REPLICA && !elected[cached.replica as usize] {
                report.standby += 1;
                continue;
            }
            if settings.every_sample {
                let held = newest
                    .entry(sample.slot)
                    .or_insert_with(|| series.newest_timestamp().unwrap_or(i64::MIN));
                if sample.timestamp_ms <= *held {
                    report.resent += 1;
                    continue;
                }
                *held = sample.timestamp_ms;
            }
            match appender.append_to(series, sample.timestamp_ms, sample.value) {
                Ok(tail) => {
                    cached.tail = tail;
                    report.appended += 1;
                }
                Err(AppendError::OutOfOrder { .. }) => report.out_of_order += 1,
                Err(AppendError::OutOfBounds { .. }) => report.out_of_bounds += 1,
                Err(AppendError::DuplicateTimestamp { .. }) => report.duplicates += 1,
                // Retention removed a series this cache still pointed at: forget it so the next
                // scrape creates it again.
                Err(AppendError::UnknownSeries) => vanished.push(sample.slot),
            }
            if sample.tracked {
                cached.live_in = now;
            }
        }
        for slot in vanished {
            self.release(slot);
        }
        self.keys.end_scrape();
        self.pending = pending;
        report.stale_markers = self.finish_scrape(&mut appender, now, scrape_ms);
        self.log_batch = appender.hold();
        if !body.is_empty() {
            shared.lock().expect("metadata lock").scrape_done();
        }
        Ok(report)
    }

    /// Takes every series' decision again at the next scrape (a reload may have changed the
    /// series stage): series the stage no longer keeps end then.
    pub fn decide_again(&mut self) {
        self.stage_generation = u64::MAX;
    }

    /// What the target's `# TYPE`, `# HELP` and `# UNIT` lines said, shared with the API.
    pub fn metadata(&self) -> &SharedMetadata {
        &self.metadata
    }

    /// Appends what `also` adds (the scrape's `up` and `scrape_*` samples) and hands them to
    /// the log together with the records the last `ingest` or `mark_all_stale` held back, so
    /// a crash keeps or loses a scrape whole, as Prometheus' one commit per scrape does.
    pub fn commit(&mut self, head: &Head, also: impl FnOnce(&mut Appender<'_>)) {
        let mut appender = head.appender(std::mem::take(&mut self.log_batch));
        also(&mut appender);
        self.log_batch = appender.finish();
    }

    /// Records a failed scrape: every series of the previous scrape ends now. The log records
    /// are held for [`SeriesCache::commit`], like `ingest`'s.
    pub fn mark_all_stale(&mut self, head: &Head, scrape_ms: i64) -> usize {
        self.scrape_count += 1;
        let mut appender = head.appender(std::mem::take(&mut self.log_batch));
        let stale = self.finish_scrape(&mut appender, self.scrape_count, scrape_ms);
        self.log_batch = appender.hold();
        stale
    }

    /// Writes stale markers for series live after the previous successful scrape but not stored
    /// by scrape `now`, then forgets cache entries that have been gone for a while.
    fn finish_scrape(&mut self, appender: &mut Appender<'_>, now: u64, scrape_ms: i64) -> usize {
        let mut stale = 0;
        if self.last_success > 0 {
            for slot in &self.slots {
                if slot.live_in != self.last_success {
                    continue;
                }
                if let Some(series) = &slot.series {
                    if appender.append_to(series, scrape_ms, STALE_NAN).is_ok() {
                        stale += 1;
                    }
                }
            }
        }
        self.last_success = now;
        for slot in std::mem::take(&mut self.orphans) {
            self.release(slot);
        }
        if now.is_multiple_of(CACHE_KEEP_SCRAPES) {
            let slots = &mut self.slots;
            let free = &mut self.free;
            self.keys.retain(|slot| {
                let keep = now - slots[slot as usize].last_seen < CACHE_KEEP_SCRAPES;
                if !keep {
                    slots[slot as usize].series = None;
                    free.push(slot);
                }
                keep
            });
        }
        stale
    }

    /// Runs the new series (labels merged) through the series stage in one batch.
    fn decide(
        &self,
        labeled: Vec<Labels>,
        stage: &GuardedStage,
        report: &mut IngestReport,
    ) -> Vec<Decision> {
        // An empty label set is dropped; one without a name fails the scrape (`ingest`).
        let named = |labels: Labels| {
            if labels.is_empty() {
                Decision::Drop
            } else {
                Decision::Keep(labels)
            }
        };
        if labeled.is_empty() || stage.is_empty() {
            return labeled.into_iter().map(named).collect();
        }
        match stage.process(&labeled) {
            Ok(answers) => answers
                .into_iter()
                .map(|answer| answer.map_or(Decision::Drop, named))
                .collect(),
            Err(e) => {
                report.undecided_series = labeled.len();
                report.stage_error = Some(e.to_string());
                labeled.iter().map(|_| Decision::Undecided).collect()
            }
        }
    }

    fn insert(&mut self, key: Box<str>, series: Option<SeriesHandle>, now: u64) -> u32 {
        let slot = Slot {
            series,
            last_seen: now,
            live_in: 0,
            tail: ChunkTail::default(),
            replica: NO_REPLICA,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.slots[at as usize] = slot;
                at
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.keys.insert(at, key);
        at
    }

    /// The index of `replica` in the cache's table, added if new.
    fn replica_id(&mut self, replica: Option<Replica>) -> u32 {
        let Some(replica) = replica else {
            return NO_REPLICA;
        };
        let at = self.replicas.iter().position(|r| *r == replica);
        at.unwrap_or_else(|| {
            self.replicas.push(replica);
            self.replicas.len() - 1
        }) as u32
    }

    /// HA: asks the tracker about each replica this scrape brought samples of; by replica
    /// index, whether its samples are stored.
    fn elect(
        &self,
        settings: &IngestSettings<'_>,
        pending: &[Pending],
        report: &mut IngestReport,
    ) -> Vec<bool> {
        let Some(ha) = settings.ha else {
            return Vec::new();
        };
        let mut present = vec![false; self.replicas.len()];
        for p in pending.iter().filter(|p| p.slot != UNDECIDED) {
            let replica = self.slots[p.slot as usize].replica;
            if replica != NO_REPLICA {
                present[replica as usize] = true;
            }
        }
        let now = std::time::Instant::now();
        let mut elected = vec![false; self.replicas.len()];
        for (i, replica) in self
            .replicas
            .iter()
            .enumerate()
            .filter(|(i, _)| present[*i])
        {
            elected[i] = match ha.observe(replica, now) {
                Verdict::Elected => true,
                Verdict::Standby => false,
                Verdict::TookOver { from } => {
                    report.took_over.push((replica.clone(), from));
                    // In every-sample mode the answer is asked for again from further back.
                    report.rewind |= settings.every_sample;
                    !settings.every_sample
                }
            };
        }
        elected
    }

    /// Prefetches the series the `i`th pending sample goes to, if any.
    fn prefetch(&self, appender: &Appender<'_>, pending: &[Pending], i: usize) {
        let Some(slot) = pending.get(i).and_then(|p| self.slots.get(p.slot as usize)) else {
            return;
        };
        if let Some(series) = &slot.series {
            appender.prefetch(series, slot.tail);
        }
    }

    fn release(&mut self, slot: u32) {
        self.keys.remove(slot);
        self.slots[slot as usize] = Slot {
            series: None,
            last_seen: 0,
            live_in: 0,
            tail: ChunkTail::default(),
            replica: NO_REPLICA,
        };
        self.free.push(slot);
    }
}

impl IngestSettings<'_> {
    /// The parser this job reads a scrape's body with.
    pub(crate) fn parser<'t>(&self, text: &'t str, format: Format) -> Parser<'t> {
        match self.every_sample {
            true => Parser::every_sample(text),
            false => Parser::new(text, format),
        }
        .with_quoted_names(self.names.quoted)
    }
}

/// A new series as the series stage gets it: decoded (Prometheus 3 normalises `le` and
/// `quantile` by its family's type), merged with the target's labels, empty values dropped,
/// and an HA pair's replica labels split off.
pub(crate) fn stage_input(
    raw: &str,
    kind: MetricType,
    settings: &IngestSettings<'_>,
) -> Result<(Labels, Option<Replica>), ParseError> {
    let mut scraped = parse_series(raw)?;
    if settings.compat == Compat::V3 {
        normalize_float_labels(&mut scraped, kind);
    }
    let mut labels =
        merge_target_labels(scraped, settings.target_labels, settings.honor_labels).without_empty();
    let replica = settings.ha.and_then(|ha| ha.split(&mut labels));
    Ok((labels, replica))
}

/// Fails a scrape whose series lost its name, or (as Prometheus 2 reads names) got an invalid
/// one, as Prometheus' scrape loop fails it after metric relabeling.
fn check_labels(labels: &Labels, validation: NameValidation) -> Result<(), IngestError> {
    if labels.metric_name().is_empty() {
        return Err(IngestError::MissingName);
    }
    let valid = |l: &wasmfed_model::Label| match (validation, l.name.as_str()) {
        // Prometheus 3's UTF-8 rule: any non-empty name (the text is UTF-8 already).
        (NameValidation::Utf8, name) => !name.is_empty(),
        (NameValidation::Legacy, METRIC_NAME) => is_valid_metric_name(&l.value),
        (NameValidation::Legacy, name) => is_valid_label_name(name),
    };
    if !labels.iter().all(valid) {
        return Err(IngestError::InvalidLabels(labels.to_string()));
    }
    Ok(())
}

mod keys;
mod report;
#[cfg(test)]
mod tests;
