//! The series a queue sends, by the ref the log names them with, each already in the form it
//! leaves the node: external labels added (a series' own label of the same name wins, as in
//! Prometheus), then `write_relabel_configs` and the destination's `series_plugins` run as one
//! plugin stage, then encoded once as protobuf `Label` messages so every request that carries
//! the series copies pointers, not strings.
//!
//! A series the stage drops (or leaves without labels) is kept as dropped, so its samples are
//! counted and skipped without asking again. A checkpoint's series arriving again only renew
//! their entry; a [`SeriesTable::reset`] then forgets the series that were not among them.

use std::sync::Arc;

use bytes::Bytes;
use hashbrown::HashMap;

use wasmfed_model::Labels;

use crate::encode::encode_labels;
use wasmfed_scrape::stages::GuardedStage;
use wasmfed_storage::SeriesRef;

/// A series as it is sent.
#[derive(Debug)]
pub(crate) struct SendSeries {
    /// Its labels, encoded as the labels part of a `TimeSeries` (see `encode`).
    pub labels: Bytes,
}

impl SendSeries {
    pub fn new(labels: &Labels) -> SendSeries {
        SendSeries {
            labels: encode_labels(labels),
        }
    }
}

/// What becomes of a series' labels before they leave the node.
pub(crate) struct Transform {
    pub external_labels: Labels,
    /// `write_relabel_configs` through the stock relabel plugin, then `series_plugins`.
    pub stage: GuardedStage,
}

impl Transform {
    /// The labels each series is sent with (`None`: not sent). Blocking (plugin calls).
    pub fn apply(&self, batch: Vec<Labels>) -> Result<Vec<Option<Labels>>, String> {
        let with_external: Vec<Labels> = batch
            .into_iter()
            .map(|mut labels| {
                for l in self.external_labels.iter() {
                    if labels.get(&l.name).is_none() {
                        labels.set(l.name.clone(), l.value.clone());
                    }
                }
                labels
            })
            .collect();
        let out = self
            .stage
            .process(&with_external)
            .map_err(|e| e.to_string())?;
        Ok(out
            .into_iter()
            .map(|l| l.filter(|l| !l.is_empty()))
            .collect())
    }
}

/// What the table knows of a ref.
pub(crate) enum Lookup<'a> {
    Send(&'a Arc<SendSeries>),
    Dropped,
    Unknown,
}

struct Entry {
    /// The segment (or checkpoint) its record was last read from.
    segment: u64,
    send: Option<Arc<SendSeries>>,
}

#[derive(Default)]
pub(crate) struct SeriesTable {
    entries: HashMap<SeriesRef, Entry, foldhash::fast::RandomState>,
}

impl SeriesTable {
    /// Whether the ref is known (its record read since the last reset).
    pub fn renew(&mut self, series: SeriesRef, segment: u64) -> bool {
        match self.entries.get_mut(&series) {
            Some(e) => {
                e.segment = e.segment.max(segment);
                true
            }
            None => false,
        }
    }

    pub fn insert(&mut self, series: SeriesRef, segment: u64, labels: Option<&Labels>) {
        let send = labels.map(|l| Arc::new(SendSeries::new(l)));
        self.entries.insert(series, Entry { segment, send });
    }

    pub fn get(&self, series: SeriesRef) -> Lookup<'_> {
        match self.entries.get(&series) {
            Some(Entry { send: Some(s), .. }) => Lookup::Send(s),
            Some(_) => Lookup::Dropped,
            None => Lookup::Unknown,
        }
    }

    /// Forgets the series last read from records before checkpoint `checkpoint` (they were
    /// not in it: gone from the head).
    pub fn reset(&mut self, checkpoint: u64) {
        self.entries.retain(|_, e| e.segment >= checkpoint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_forgets_what_the_checkpoint_did_not_name_again() {
        let mut t = SeriesTable::default();
        let l = Labels::from_pairs([("__name__", "up")]);
        t.insert(SeriesRef(1), 2, Some(&l));
        t.insert(SeriesRef(2), 3, None);
        t.insert(SeriesRef(3), 9, Some(&l));
        assert!(t.renew(SeriesRef(1), 7), "named again by checkpoint 7");
        assert!(!t.renew(SeriesRef(4), 7));
        t.reset(7);
        assert!(matches!(t.get(SeriesRef(1)), Lookup::Send(_)));
        assert!(matches!(t.get(SeriesRef(2)), Lookup::Unknown));
        assert!(
            matches!(t.get(SeriesRef(3)), Lookup::Send(_)),
            "logged after the checkpoint"
        );
        assert_eq!(t.entries.len(), 2);
    }
}
