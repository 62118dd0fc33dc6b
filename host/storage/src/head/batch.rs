//! Storing a batch of whole series at once (a remote-write request), checked before anything
//! is stored.
//!
//! Prometheus' receiver appends a request through one appender and rolls it back at the first
//! sample the head refuses, so a refused request leaves nothing. Samples here reach the head
//! as they are appended (readers see them at once), so the batch is checked first instead:
//! every sample against the newest its series holds and against the head's lower bound. Only
//! a batch that passes is stored, through one appender (one hand-over to the log). A writer
//! racing on the same series between check and store can still make a sample too old; it is
//! then refused alone and reported, as Prometheus would have refused it.

use wasmfed_model::Labels;

use super::Head;

/// Series of a batch: each one's labels and samples, (timestamp ms, value) oldest first.
pub type SeriesSamples = [(Labels, Vec<(i64, f64)>)];
use crate::series::AppendError;
use crate::wal::SampleBatch;

/// What storing a batch came to.
#[derive(Debug, Default, PartialEq)]
pub struct BatchOutcome {
    /// Samples stored (exact repeats of the newest sample included).
    pub stored: usize,
    /// Series refused because the head's series limit was reached, with their samples.
    pub over_limit: usize,
    /// The first sample a racing writer made too old since the check, if any.
    pub raced: Option<(Labels, AppendError)>,
}

/// A batch refused before anything was stored: the first sample the head would refuse.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("{error}: series {labels}, timestamp {timestamp_ms}")]
pub struct BatchRefused {
    pub labels: Labels,
    pub timestamp_ms: i64,
    pub error: AppendError,
}

impl Head {
    /// Stores every series' samples (each series' oldest first, sets not repeated), or none
    /// if any sample would be refused. New series beyond the head's limit are left out and
    /// counted, as a scrape's are.
    pub fn append_batch(&self, series: &SeriesSamples) -> Result<BatchOutcome, BatchRefused> {
        for (labels, samples) in series {
            self.check_series(labels, samples)?;
        }
        let mut outcome = BatchOutcome::default();
        let mut appender = self.appender(SampleBatch::default());
        for (labels, samples) in series {
            let handle = self
                .create_within_limit(labels)
                .and_then(|(r, _)| self.handle(r));
            let Some(handle) = handle else {
                outcome.over_limit += 1;
                continue;
            };
            for &(t, v) in samples {
                match appender.append_to(&handle, t, v) {
                    Ok(_) => outcome.stored += 1,
                    Err(e) => {
                        outcome.raced.get_or_insert((labels.clone(), e));
                    }
                }
            }
        }
        appender.finish();
        Ok(outcome)
    }

    /// Refuses the first sample of `samples` the head would refuse: older than the head's
    /// lower bound or than the newest sample stored, or at its timestamp with another value.
    fn check_series(&self, labels: &Labels, samples: &[(i64, f64)]) -> Result<(), BatchRefused> {
        let refuse = |timestamp_ms: i64, error: AppendError| BatchRefused {
            labels: labels.clone(),
            timestamp_ms,
            error,
        };
        let min_valid_ms = self.min_valid_ms.load(std::sync::atomic::Ordering::Relaxed);
        let stored = self
            .find_series(labels)
            .and_then(|r| self.latest(r, i64::MIN, i64::MAX))
            .map(|s| (s.timestamp_ms, s.value));
        let mut newest = stored;
        for &(t, v) in samples {
            if t < min_valid_ms {
                return Err(refuse(
                    t,
                    AppendError::OutOfBounds {
                        min_valid_ms,
                        got_ms: t,
                    },
                ));
            }
            match newest {
                Some((last, _)) if t < last => {
                    return Err(refuse(
                        t,
                        AppendError::OutOfOrder {
                            last_ms: last,
                            got_ms: t,
                        },
                    ))
                }
                Some((last, value)) if t == last && value.to_bits() != v.to_bits() => {
                    return Err(refuse(
                        t,
                        AppendError::DuplicateTimestamp { timestamp_ms: t },
                    ))
                }
                _ => newest = Some((t, v)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name)])
    }

    #[test]
    fn a_batch_is_stored_whole_or_not_at_all() {
        let head = Head::new();
        let stored = head
            .append_batch(&[(labels("a"), vec![(1000, 1.0), (2000, 2.0)])])
            .unwrap();
        assert_eq!(stored.stored, 2);
        let cases: [(&SeriesSamples, AppendError); 2] = [
            (
                &[
                    (labels("b"), vec![(1000, 1.0)]),
                    (labels("a"), vec![(1500, 3.0)]),
                ],
                AppendError::OutOfOrder {
                    last_ms: 2000,
                    got_ms: 1500,
                },
            ),
            (
                &[
                    (labels("b"), vec![(1000, 1.0)]),
                    (labels("a"), vec![(2000, 9.0)]),
                ],
                AppendError::DuplicateTimestamp { timestamp_ms: 2000 },
            ),
        ];
        for (batch, want) in cases {
            let refused = head.append_batch(batch).unwrap_err();
            assert_eq!(refused.error, want);
            assert_eq!(refused.labels, labels("a"));
        }
        // Neither refused batch stored its other series.
        assert!(head.find_series(&labels("b")).is_none());
        // An exact repeat passes and stores nothing new.
        let again = head
            .append_batch(&[(labels("a"), vec![(2000, 2.0)])])
            .unwrap();
        assert_eq!(again.raced, None);
        let a = head.find_series(&labels("a")).unwrap();
        assert_eq!(head.samples(a, 0, 3000).len(), 2);
    }

    #[test]
    fn new_series_past_the_limit_are_left_out_and_counted() {
        let head = Head::new();
        head.set_max_series(1);
        let outcome = head
            .append_batch(&[
                (labels("a"), vec![(1000, 1.0)]),
                (labels("b"), vec![(1000, 1.0)]),
            ])
            .unwrap();
        assert_eq!((outcome.stored, outcome.over_limit), (1, 1));
        assert!(head.find_series(&labels("b")).is_none());
    }
}
