//! Turning one scraped exposition into stored samples, per target.
//!
//! The hot path is a steady scrape of series seen before. For those, the raw series text of
//! each line (`name{labels}` exactly as exposed) is looked up in the target's [`SeriesCache`] and
//! yields the storage reference directly: no label decoding, no label-set hashing, no index
//! update. Only new series are decoded, merged with the target's labels and created — in one
//! batch per scrape, which is where the series stage (metric relabeling) plugs in.
//!
//! A scrape is all or nothing, as in Prometheus: it is parsed completely (and checked against
//! the sample limit) before anything is appended, so a parse error half-way stores nothing.
//! Series that were in the previous successful scrape but not in this one get a stale marker;
//! a failed scrape counts as an empty one. Series exposed with their own timestamp are not
//! tracked for staleness (Prometheus does the same: their owner decides when they end).

use std::collections::HashMap;

use super::honor::merge_target_labels;
use super::parse::{parse_series, Entry, Format, ParseError, Parser};
use crate::model::{Labels, STALE_NAN};
use crate::storage::{AppendError, Head, SeriesRef};

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
}

/// The counts a scrape reports in its synthetic series and in the node's own metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Samples in the exposition (`scrape_samples_scraped`).
    pub scraped: usize,
    /// Samples left after label merging and the series stage (`scrape_samples_post_metric_relabeling`).
    pub kept: usize,
    /// Series this target exposed that it had not exposed recently (`scrape_series_added`).
    pub series_added: usize,
    /// Samples storage refused as out of order.
    pub out_of_order: usize,
    /// Samples storage refused as a second, different value at the same timestamp.
    pub duplicates: usize,
    /// Stale markers written for series that vanished.
    pub stale_markers: usize,
}

#[derive(Clone, Copy)]
enum CachedSeries {
    Stored(SeriesRef),
    Dropped,
}

struct CacheEntry {
    series: CachedSeries,
    last_seen: u64,
}

/// Per-target state carried from one scrape to the next.
#[derive(Default)]
pub struct SeriesCache {
    entries: HashMap<Box<str>, CacheEntry>,
    /// Series of the previous successful scrape without explicit timestamps, sorted.
    previous: Vec<SeriesRef>,
    scrape_count: u64,
}

/// How a target's series are labeled and timed.
pub struct IngestSettings<'a> {
    pub target_labels: &'a Labels,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub sample_limit: u64,
}

struct Pending {
    series: SeriesRef,
    timestamp_ms: i64,
    value: f64,
    tracked: bool,
}

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
        self.scrape_count += 1;
        let now = self.scrape_count;
        let mut report = IngestReport::default();
        let mut pending = Vec::new();
        // New series wait here (with the index of their samples) until the batch is decided.
        let mut new_series: Vec<(&str, Vec<usize>)> = Vec::new();
        let mut new_index: HashMap<&str, usize> = HashMap::new();
        for entry in Parser::new(text, format) {
            let Entry::Sample(raw) = entry? else { continue };
            report.scraped += 1;
            let (timestamp_ms, tracked) = match raw.timestamp_ms {
                Some(t) if settings.honor_timestamps => (t, false),
                _ => (scrape_ms, true),
            };
            let sample = Pending {
                series: SeriesRef(0),
                timestamp_ms,
                value: raw.value,
                tracked,
            };
            match self.entries.get_mut(raw.series) {
                Some(entry) => {
                    entry.last_seen = now;
                    if let CachedSeries::Stored(series) = entry.series {
                        pending.push(Pending { series, ..sample });
                    }
                }
                None => {
                    let slot = *new_index.entry(raw.series).or_insert_with(|| {
                        new_series.push((raw.series, Vec::new()));
                        new_series.len() - 1
                    });
                    new_series[slot].1.push(pending.len());
                    pending.push(sample);
                }
            }
        }
        // Decode and label the new series first, so a parse error in one stores nothing.
        let mut decided = Vec::with_capacity(new_series.len());
        for (raw, _) in &new_series {
            let scraped = parse_series(raw)?;
            let labels =
                merge_target_labels(scraped, settings.target_labels, settings.honor_labels)
                    .without_empty();
            decided.push(if labels.metric_name().is_empty() {
                None
            } else {
                Some(labels)
            });
        }
        let dropped_samples: usize = new_series
            .iter()
            .zip(&decided)
            .filter(|(_, d)| d.is_none())
            .map(|((_, idx), _)| idx.len())
            .sum();
        report.kept = pending.len() - dropped_samples;
        if settings.sample_limit > 0 && report.kept as u64 > settings.sample_limit {
            return Err(IngestError::SampleLimit {
                samples: report.kept,
                limit: settings.sample_limit,
            });
        }
        let mut dropped = vec![false; pending.len()];
        for ((raw, indexes), labels) in new_series.into_iter().zip(decided) {
            let series = match labels {
                Some(labels) => {
                    let (series, _) = head.get_or_create(&labels);
                    report.series_added += 1;
                    for &i in &indexes {
                        pending[i].series = series;
                    }
                    CachedSeries::Stored(series)
                }
                None => {
                    for &i in &indexes {
                        dropped[i] = true;
                    }
                    CachedSeries::Dropped
                }
            };
            self.entries.insert(
                raw.into(),
                CacheEntry {
                    series,
                    last_seen: now,
                },
            );
        }
        let mut current = Vec::with_capacity(pending.len());
        let mut vanished = Vec::new();
        for (sample, dropped) in pending.iter().zip(dropped) {
            if dropped {
                continue;
            }
            match head.append(sample.series, sample.timestamp_ms, sample.value) {
                Ok(()) => {}
                Err(AppendError::OutOfOrder { .. }) => report.out_of_order += 1,
                Err(AppendError::DuplicateTimestamp { .. }) => report.duplicates += 1,
                // Retention removed a series this cache still pointed at: forget it so the next
                // scrape creates it again.
                Err(AppendError::UnknownSeries) => vanished.push(sample.series),
            }
            if sample.tracked {
                current.push(sample.series);
            }
        }
        if !vanished.is_empty() {
            self.entries.retain(
                |_, e| !matches!(e.series, CachedSeries::Stored(s) if vanished.contains(&s)),
            );
        }
        current.sort_unstable();
        current.dedup();
        report.stale_markers = self.finish_scrape(head, current, scrape_ms);
        Ok(report)
    }

    /// Records a failed scrape: every series of the previous scrape ends now.
    pub fn mark_all_stale(&mut self, head: &Head, scrape_ms: i64) -> usize {
        self.scrape_count += 1;
        self.finish_scrape(head, Vec::new(), scrape_ms)
    }

    /// Writes stale markers for series in the previous scrape but not in `current` (sorted),
    /// then forgets cache entries that have been gone for a while.
    fn finish_scrape(&mut self, head: &Head, current: Vec<SeriesRef>, scrape_ms: i64) -> usize {
        let mut stale = 0;
        for series in &self.previous {
            if current.binary_search(series).is_err()
                && head.append(*series, scrape_ms, STALE_NAN).is_ok()
            {
                stale += 1;
            }
        }
        self.previous = current;
        let now = self.scrape_count;
        if now.is_multiple_of(CACHE_KEEP_SCRAPES) {
            self.entries
                .retain(|_, e| now - e.last_seen < CACHE_KEEP_SCRAPES);
        }
        stale
    }
}

#[cfg(test)]
mod tests;
