//! Label-set hash → series, for finding an existing series by its labels.
//!
//! Shaped like Prometheus' `seriesHashmap`: almost every hash names one series, kept in a flat
//! map of 16-byte slots; the rare second series with the same 64-bit hash goes to a side map
//! of lists. Callers compare the candidates' labels, so a collision costs a comparison, never a
//! wrong answer.

use std::collections::HashMap;

use super::head::SeriesRef;
use super::index::IdHash;

#[derive(Debug, Default)]
pub(crate) struct HashLookup {
    unique: HashMap<u64, SeriesRef, IdHash>,
    collisions: HashMap<u64, Vec<SeriesRef>, IdHash>,
}

impl HashLookup {
    /// The series whose label sets hash to `hash`, oldest first.
    pub(crate) fn candidates(&self, hash: u64) -> impl Iterator<Item = SeriesRef> + '_ {
        let more = self.collisions.get(&hash).map_or(&[][..], Vec::as_slice);
        self.unique.get(&hash).into_iter().chain(more).copied()
    }

    pub(crate) fn insert(&mut self, hash: u64, r: SeriesRef) {
        if let Some(first) = self.unique.insert(hash, r) {
            self.unique.insert(hash, first);
            self.collisions.entry(hash).or_default().push(r);
        }
    }

    pub(crate) fn remove(&mut self, hash: u64, r: SeriesRef) {
        let mut others = self.collisions.remove(&hash).unwrap_or_default();
        others.retain(|&o| o != r);
        if self.unique.get(&hash) == Some(&r) {
            self.unique.remove(&hash);
            if !others.is_empty() {
                self.unique.insert(hash, others.remove(0));
            }
        }
        if !others.is_empty() {
            self.collisions.insert(hash, others);
        }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.unique.is_empty() && self.collisions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collisions_keep_every_series() {
        let (a, b, c) = (SeriesRef(1), SeriesRef(2), SeriesRef(3));
        let mut l = HashLookup::default();
        let all = |l: &HashLookup, h| l.candidates(h).collect::<Vec<_>>();
        l.insert(7, a);
        l.insert(7, b);
        l.insert(7, c);
        l.insert(8, c);
        assert_eq!(all(&l, 7), [a, b, c]);
        assert_eq!(all(&l, 8), [c]);
        assert_eq!(all(&l, 9), []);
        for (remove, left) in [(b, vec![a, c]), (a, vec![c]), (c, vec![])] {
            l.remove(7, remove);
            assert_eq!(all(&l, 7), left, "after removing {remove:?}");
        }
        assert!(!l.is_empty());
        l.remove(8, c);
        assert!(l.is_empty());
    }
}
