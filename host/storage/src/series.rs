//! The samples of one series: sealed chunks plus the open chunk, and Prometheus' append rules.
//!
//! The open chunk is cut only when the next sample arrives for a full chunk, so an empty open
//! chunk always means an empty series, and the newest sample (needed for ordering checks and
//! for `/federate`'s lookback) is read from the encoder state without decoding anything.

use super::chunk::{ChunkIter, ChunkPages, OpenChunk, SealedChunk, SAMPLES_PER_CHUNK};
use wasmfed_model::Sample;

/// Why a sample was refused. Messages are Prometheus' (`storage/interface.go`).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AppendError {
    #[error("out of order sample")]
    OutOfOrder { last_ms: i64, got_ms: i64 },
    #[error("duplicate sample for timestamp")]
    DuplicateTimestamp { timestamp_ms: i64 },
    #[error("unknown series")]
    UnknownSeries,
    /// Older than the head's start: that range is already persisted in a block.
    #[error("out of bounds")]
    OutOfBounds { min_valid_ms: i64, got_ms: i64 },
}

/// Sample storage of one series.
#[derive(Debug, Default)]
pub(crate) struct SeriesSamples {
    sealed: Vec<SealedChunk>,
    open: OpenChunk,
    /// Set when a retention pass found the series empty without having emptied it; the next
    /// pass removes it. This gives a caller that has just created a series (and holds its ref)
    /// until the next pass to append the first sample.
    empty_at_last_truncation: bool,
    /// Set when retention removed the series; appends through a handle are then refused.
    removed: bool,
}

impl SeriesSamples {
    /// Appends one sample under Prometheus' head rules: older than the newest → out of order;
    /// same timestamp with other value bits → duplicate; same timestamp and bits → ignored.
    /// A full open chunk is sealed into `pages`, the head's.
    pub(crate) fn append(&mut self, t: i64, v: f64, pages: &ChunkPages) -> Result<(), AppendError> {
        if self.removed {
            return Err(AppendError::UnknownSeries);
        }
        if let Some((last_t, last_v)) = self.open.last() {
            if t < last_t {
                return Err(AppendError::OutOfOrder {
                    last_ms: last_t,
                    got_ms: t,
                });
            }
            if t == last_t {
                return if v.to_bits() == last_v.to_bits() {
                    Ok(())
                } else {
                    Err(AppendError::DuplicateTimestamp { timestamp_ms: t })
                };
            }
        }
        if self.open.len() >= SAMPLES_PER_CHUNK {
            self.sealed.extend(self.open.cut(pages));
        }
        self.open.append(t, v);
        self.empty_at_last_truncation = false;
        Ok(())
    }

    /// Where the next append writes (for prefetching; never dereferenced).
    pub(crate) fn tail_ptr(&self) -> *const u8 {
        self.open.tail_ptr()
    }

    /// Marks the series removed if it has no samples; true if it did so.
    pub(crate) fn mark_removed_if_empty(&mut self) -> bool {
        self.removed = self.is_empty();
        self.removed
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Newest sample with `mint_exclusive < t <= maxt`.
    pub(crate) fn latest(&self, mint_exclusive: i64, maxt: i64) -> Option<Sample> {
        let (last_t, last_v) = self.open.last()?;
        let newest = if last_t <= maxt {
            Some((last_t, last_v))
        } else {
            self.chunks()
                .rev()
                .filter(|c| c.min_t <= maxt)
                .find_map(|c| c.samples.take_while(|s| s.0 <= maxt).last())
        };
        newest
            .filter(|&(t, _)| t > mint_exclusive)
            .map(|(timestamp_ms, value)| Sample {
                timestamp_ms,
                value,
            })
    }

    /// Sealed chunks and the open one, if it holds a sample.
    pub(crate) fn chunk_count(&self) -> usize {
        self.sealed.len() + usize::from(!self.open.is_empty())
    }

    /// The times of the oldest and newest sample, if any.
    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        let (last, _) = self.open.last()?;
        let first = self
            .sealed
            .first()
            .map(|c| c.min_t)
            .or_else(|| self.open.min_time())
            .unwrap_or(last);
        Some((first, last))
    }

    /// Appends the samples with `mint <= t <= maxt` to `out`, oldest first.
    pub(crate) fn samples_into(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        for c in self.chunks().filter(|c| c.min_t <= maxt && c.max_t >= mint) {
            out.extend(
                c.samples
                    .skip_while(|s| s.0 < mint)
                    .take_while(|s| s.0 <= maxt)
                    .map(|(timestamp_ms, value)| Sample {
                        timestamp_ms,
                        value,
                    }),
            );
        }
    }

    /// Drops whole chunks whose newest sample is older than `before_ms`. Returns true when the
    /// series should now be removed: this pass emptied it, or it was already empty at the
    /// previous pass.
    pub(crate) fn truncate_before(&mut self, before_ms: i64) -> bool {
        let was_empty = self.is_empty();
        let keep_from = self.sealed.partition_point(|c| c.max_t < before_ms);
        self.sealed.drain(..keep_from);
        if self.open.last().is_some_and(|(t, _)| t < before_ms) {
            // Sealed chunks are older than the open one, so they are all gone already.
            self.open = OpenChunk::default();
        }
        if !self.is_empty() {
            return false;
        }
        if !was_empty {
            return true;
        }
        let removable = self.empty_at_last_truncation;
        self.empty_at_last_truncation = true;
        removable
    }

    /// Every chunk, oldest first; reversible for newest-first scans.
    fn chunks(&self) -> impl DoubleEndedIterator<Item = ChunkView<'_>> {
        let open = self.open.last().map(|(max_t, _)| ChunkView {
            min_t: self.open.min_time().unwrap_or(max_t),
            max_t,
            samples: self.open.iter(),
        });
        let sealed = self.sealed.iter().map(|c| ChunkView {
            min_t: c.min_t,
            max_t: c.max_t,
            samples: ChunkIter::new(c.bytes()),
        });
        sealed.chain(open)
    }
}

/// A chunk's time range and samples, whether sealed or open.
struct ChunkView<'a> {
    min_t: i64,
    max_t: i64,
    samples: ChunkIter<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_model::STALE_NAN;

    /// The pages every test series seals into (a head has one such store).
    fn pages() -> &'static ChunkPages {
        static PAGES: std::sync::LazyLock<ChunkPages> = std::sync::LazyLock::new(ChunkPages::new);
        &PAGES
    }

    /// Name, samples before, the sample to append, the expected answer.
    type Case<'a> = (
        &'a str,
        &'a [(i64, f64)],
        (i64, f64),
        Result<(), AppendError>,
    );

    fn series(samples: impl IntoIterator<Item = (i64, f64)>) -> SeriesSamples {
        let mut s = SeriesSamples::default();
        for (t, v) in samples {
            s.append(t, v, pages()).expect("in order");
        }
        s
    }

    fn all(s: &SeriesSamples) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        s.samples_into(i64::MIN, i64::MAX, &mut out);
        out.into_iter().map(|s| (s.timestamp_ms, s.value)).collect()
    }

    #[test]
    fn append_rules() {
        use AppendError::*;
        let nan2 = f64::from_bits(0x7ff8_0000_0000_0001);
        let cases: &[Case] = &[
            ("first sample", &[], (5, 1.0), Ok(())),
            ("newer", &[(5, 1.0)], (6, 2.0), Ok(())),
            (
                "older",
                &[(5, 1.0)],
                (4, 1.0),
                Err(OutOfOrder {
                    last_ms: 5,
                    got_ms: 4,
                }),
            ),
            ("same t, same value", &[(5, 1.0)], (5, 1.0), Ok(())),
            (
                "same t, other value",
                &[(5, 1.0)],
                (5, 2.0),
                Err(DuplicateTimestamp { timestamp_ms: 5 }),
            ),
            ("same t, same NaN", &[(5, f64::NAN)], (5, f64::NAN), Ok(())),
            (
                "same t, other NaN",
                &[(5, f64::NAN)],
                (5, nan2),
                Err(DuplicateTimestamp { timestamp_ms: 5 }),
            ),
            (
                "same t, stale after NaN",
                &[(5, f64::NAN)],
                (5, STALE_NAN),
                Err(DuplicateTimestamp { timestamp_ms: 5 }),
            ),
            (
                "same t, +0 vs -0",
                &[(5, 0.0)],
                (5, -0.0),
                Err(DuplicateTimestamp { timestamp_ms: 5 }),
            ),
            ("stale marker", &[(5, 1.0)], (6, STALE_NAN), Ok(())),
        ];
        for (name, before, (t, v), want) in cases {
            let mut s = series(before.iter().copied());
            assert_eq!(&s.append(*t, *v, pages()), want, "{name}");
            let expected_len =
                before.len() + usize::from(want.is_ok() && before.last().is_none_or(|l| l.0 != *t));
            assert_eq!(all(&s).len(), expected_len, "{name}");
        }
    }

    #[test]
    fn chunks_are_cut_at_the_limit() {
        let n = i64::from(SAMPLES_PER_CHUNK) * 3 + 7;
        let s = series((0..n).map(|i| (i * 1000, i as f64)));
        assert_eq!(s.sealed.len(), 3);
        assert_eq!(s.open.len(), 7);
        let got = all(&s);
        assert_eq!(got.len() as i64, n);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, &(t, v))| t == i as i64 * 1000 && v == i as f64));
    }

    #[test]
    fn latest_lookback_is_open_on_the_left() {
        let s = series([(0, 1.0)]);
        let at = |maxt: i64| s.latest(maxt - 300_000, maxt).map(|s| s.timestamp_ms);
        assert_eq!(at(0), Some(0));
        assert_eq!(at(299_999), Some(0));
        assert_eq!(at(300_000), None);
        assert_eq!(at(-1), None);
    }

    #[test]
    fn latest_finds_older_samples_across_chunks() {
        let n = i64::from(SAMPLES_PER_CHUNK) * 2 + 10;
        let s = series((0..n).map(|i| (i * 10, i as f64)));
        for (mint, maxt, want) in [
            (-1, i64::MAX, Some(((n - 1) * 10, (n - 1) as f64))),
            (-1, 1195, Some((1190, 119.0))),
            (-1, 1200, Some((1200, 120.0))),
            (-1, 5, Some((0, 0.0))),
            (0, 5, None),
            (1185, 1195, Some((1190, 119.0))),
            (1190, 1195, None),
            (-100, -1, None),
        ] {
            let got = s.latest(mint, maxt).map(|s| (s.timestamp_ms, s.value));
            assert_eq!(got, want, "({mint}, {maxt}]");
        }
    }

    #[test]
    fn samples_in_range_are_inclusive() {
        let n = i64::from(SAMPLES_PER_CHUNK) * 2 + 10;
        let s = series((0..n).map(|i| (i * 10, i as f64)));
        for (mint, maxt, want) in [
            (0, 0, vec![0]),
            (5, 25, vec![10, 20]),
            (1190, 1210, vec![1190, 1200, 1210]),
            (-10, -1, vec![]),
            (3000, 4000, vec![]),
        ] {
            let mut out = Vec::new();
            s.samples_into(mint, maxt, &mut out);
            assert_eq!(
                out.iter().map(|s| s.timestamp_ms).collect::<Vec<_>>(),
                want,
                "[{mint}, {maxt}]"
            );
        }
    }

    #[test]
    fn truncation_drops_whole_chunks() {
        let per = i64::from(SAMPLES_PER_CHUNK);
        let s = || series((0..per * 3).map(|i| (i, i as f64)));
        for (before, first_left, removable) in [
            (0, Some(0), false),
            (per - 1, Some(0), false),
            (per, Some(per), false),
            (per * 2 + 5, Some(per * 2), false),
            (per * 3 - 1, Some(per * 2), false),
            (per * 3, None, true),
        ] {
            let mut s = s();
            assert_eq!(s.truncate_before(before), removable, "before {before}");
            assert_eq!(all(&s).first().map(|s| s.0), first_left, "before {before}");
        }
    }

    #[test]
    fn a_never_filled_series_is_removable_at_the_second_pass() {
        let mut s = SeriesSamples::default();
        assert!(!s.truncate_before(10));
        s.append(20, 1.0, pages()).expect("fresh");
        assert!(
            !s.truncate_before(10),
            "a sample in between resets the grace"
        );
    }
}
