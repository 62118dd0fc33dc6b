//! Retention by time and by size, for the head and the log together.
//!
//! Time retention drops the head's chunks older than the retention period, then takes a
//! checkpoint if the log may still hold what was dropped — the oldest segment not covered by a
//! checkpoint was started before the cut-off — or if the segments since the last checkpoint
//! have outgrown it (so compaction keeps the log within about twice the live data plus a
//! segment). Deleting the covered segments is what makes expired series leave the disk.
//!
//! Size retention, like Prometheus' `--storage.tsdb.retention.size`, drops the oldest data until
//! the WAL directory fits: it moves the time cut-off forward in proportion to the excess (the
//! head's data is spread over its time range about evenly), checkpoints, and measures again, a
//! few rounds at most. The head drops whole chunks, so the result is approximate.

use std::time::{Duration, SystemTime};

use wasmfed_model::clock::unix_millis;

use super::checkpoint::CheckpointReport;
use super::hold::HoldPolicy;
use super::segment::{list, segment_path};
use super::{Wal, WalError};
use crate::Head;

/// Size retention aims this far below the limit, so it does not run again at once.
const SIZE_TARGET: f64 = 0.9;
const SIZE_ROUNDS: usize = 3;

#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub time: Duration,
    /// Maximum bytes of the WAL directory; `None` for no limit.
    pub size: Option<u64>,
}

#[derive(Debug, Default)]
pub struct RetentionReport {
    pub removed_series: usize,
    /// The last checkpoint taken, if any.
    pub checkpoint: Option<CheckpointReport>,
    /// The cut-off size retention moved to, if it had to.
    pub size_cutoff_ms: Option<i64>,
    pub bytes: u64,
}

impl Wal {
    /// Applies `retention` at `now_ms` to `head` and this log.
    pub fn enforce_retention(
        &self,
        head: &Head,
        retention: &Retention,
        now_ms: i64,
    ) -> Result<RetentionReport, WalError> {
        let cutoff = now_ms.saturating_sub(retention.time.as_millis() as i64);
        let mut report = RetentionReport {
            removed_series: head.truncate_before(cutoff),
            ..RetentionReport::default()
        };
        let over_size = |bytes: u64| retention.size.is_some_and(|limit| bytes > limit);
        let bytes = self.size_bytes();
        // Holds yield to the size limit, and keep nothing older than the retention time.
        let holds = match over_size(bytes) {
            true => HoldPolicy::Ignore,
            false => HoldPolicy::Honor {
                not_before: SystemTime::now().checked_sub(retention.time),
            },
        };
        if self.may_hold_expired(cutoff) || self.outgrew_checkpoint() || over_size(bytes) {
            report.checkpoint = Some(self.checkpoint_with(head, holds)?);
        }
        for _ in 0..SIZE_ROUNDS {
            let (Some(limit), Some(cp)) = (retention.size, &report.checkpoint) else {
                break;
            };
            let bytes = self.size_bytes();
            let Some(cut) = size_cutoff(cp, bytes, limit) else {
                break;
            };
            report.size_cutoff_ms = Some(cut);
            report.removed_series += head.truncate_before(cut);
            let next = self.checkpoint_with(head, HoldPolicy::Ignore)?;
            let progressed = next.min_t != cp.min_t || next.series != cp.series;
            report.checkpoint = Some(next);
            if !progressed {
                break;
            }
        }
        report.bytes = self.size_bytes();
        self.metrics.size_bytes.set(report.bytes as i64);
        Ok(report)
    }

    fn may_hold_expired(&self, cutoff_ms: i64) -> bool {
        let since = self.compaction.lock().uncovered_since;
        let since_ms = unix_millis(since);
        since_ms < cutoff_ms
    }

    /// Whether the segments after the newest checkpoint outgrew it (segments a hold keeps
    /// before it do not count: another checkpoint would not delete them either).
    fn outgrew_checkpoint(&self) -> bool {
        let checkpoint = self.compaction.lock().checkpoint_bytes;
        let Ok(listing) = list(&self.dir) else {
            return false;
        };
        let newest = listing.checkpoints.last().copied();
        let segments: u64 = listing
            .segments
            .iter()
            .filter(|&&s| newest.is_none_or(|c| s > c))
            .filter_map(|&s| std::fs::metadata(segment_path(&self.dir, s)).ok())
            .map(|m| m.len())
            .sum();
        segments > checkpoint.max(self.options.segment_size)
    }
}

/// The cut-off that should bring `bytes` under `limit`, given what the checkpoint spans.
fn size_cutoff(cp: &CheckpointReport, bytes: u64, limit: u64) -> Option<i64> {
    let target = (limit as f64 * SIZE_TARGET) as u64;
    if bytes <= limit || cp.bytes == 0 {
        return None;
    }
    let (min_t, max_t) = (cp.min_t?, cp.max_t?);
    let share = ((bytes - target) as f64 / cp.bytes as f64).clamp(0.0, 1.0);
    Some(min_t + ((max_t - min_t) as f64 * share) as i64 + 1)
}

/// Why a size flag was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "invalid size {0:?}: a number and a unit (B, KB, MB, GB, TB, PB, EB; powers of 2), e.g. 512MB"
)]
pub struct SizeError(String);

/// Parses a size as Prometheus' `--storage.tsdb.retention.size` does: a whole number and a
/// unit, powers of 2 (`1KB` = 1024 bytes). `0` (with or without unit) means no limit.
pub fn parse_size(s: &str) -> Result<Option<u64>, SizeError> {
    let err = || SizeError(s.to_owned());
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| err())?;
    let shift = match unit {
        "B" => 0,
        "KB" => 10,
        "MB" => 20,
        "GB" => 30,
        "TB" => 40,
        "PB" => 50,
        "EB" => 60,
        "" if n == 0 => 0,
        _ => return Err(err()),
    };
    let bytes = n.checked_mul(1 << shift).ok_or_else(err)?;
    Ok((bytes > 0).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_prometheus() {
        let cases: &[(&str, Result<Option<u64>, ()>)] = &[
            ("512MB", Ok(Some(512 << 20))),
            ("1KB", Ok(Some(1024))),
            ("10B", Ok(Some(10))),
            ("2EB", Ok(Some(2 << 60))),
            ("0", Ok(None)),
            ("0GB", Ok(None)),
            ("16EB", Err(())),
            ("12", Err(())),
            ("1.5GB", Err(())),
            ("MB", Err(())),
            ("1mb", Err(())),
            ("", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text).map_err(drop), *want, "{text}");
        }
    }

    #[test]
    fn the_size_cutoff_is_proportional_to_the_excess() {
        let cp = CheckpointReport {
            bytes: 1000,
            min_t: Some(0),
            max_t: Some(10_000),
            ..CheckpointReport::default()
        };
        // (bytes on disk, limit, expected cut-off)
        let cases = [
            (1000, 1000, None),
            (1000, 2000, None),
            (1000, 500, Some(5501)),
            (1200, 1000, Some(3001)),
            (5000, 10, Some(10_001)),
        ];
        for (bytes, limit, want) in cases {
            assert_eq!(size_cutoff(&cp, bytes, limit), want, "{bytes} over {limit}");
        }
        let empty = CheckpointReport::default();
        assert_eq!(size_cutoff(&empty, 5000, 10), None);
    }
}
