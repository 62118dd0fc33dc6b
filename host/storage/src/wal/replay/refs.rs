//! A replay worker's series by logged ref: a paged array, with a hash map for stragglers.
//!
//! Every replayed sample looks its ref up. In a hash map each lookup is a cache miss (the
//! hash scatters neighbouring refs), and a start-up replaying millions of samples spent a third
//! of a worker's time waiting on them. Refs are handed out by a counter, so the live ones are
//! mostly dense and a record names them in runs: indexed by ref, neighbours share cache lines
//! and the hardware prefetcher follows the runs.
//!
//! A log after much churn can hold refs spread thinly over a wide range; pages are allocated
//! only while the slots they hold stay within [`SLACK`] times the entries stored (and the
//! directory of pages within as many entries), and an entry whose page would break that goes to
//! the map. Memory thus stays within a small factor of a
//! hash map's whatever the refs, and lookups stay exact: a ref is in its page or in the map.

use std::collections::HashMap;

use crate::index::IdHash;

const PAGE_BITS: u32 = 9;
const PAGE: usize = 1 << PAGE_BITS;
/// Most allocated slots (and directory entries) per stored entry before new entries go to the
/// map; a page more may be allocated at the limit.
const SLACK: usize = 4;

/// Values of type `T` keyed by refs `r` with `r % stride == offset` (one worker's partition):
/// `r / stride` indexes the pages, so a partition is as dense as the refs are.
pub(super) struct RefTable<T> {
    stride: u64,
    pages: Vec<Option<Box<[Option<T>]>>>,
    allocated: usize,
    entries: usize,
    stragglers: HashMap<u64, T, IdHash>,
}

impl<T> RefTable<T> {
    pub(super) fn new(stride: usize) -> Self {
        RefTable {
            stride: stride.max(1) as u64,
            pages: Vec::new(),
            allocated: 0,
            entries: 0,
            stragglers: HashMap::default(),
        }
    }

    fn index(&self, r: u64) -> (usize, usize) {
        let i = r / self.stride;
        ((i >> PAGE_BITS) as usize, (i as usize) & (PAGE - 1))
    }

    /// The value under `r`: in its page if that holds it, else among the stragglers (which
    /// hold refs stored before their page was allocated, too).
    pub(super) fn get(&self, r: u64) -> Option<&T> {
        let (page, slot) = self.index(r);
        match self.pages.get(page) {
            Some(Some(p)) => p[slot].as_ref().or_else(|| self.stragglers.get(&r)),
            _ => self.stragglers.get(&r),
        }
    }

    /// Stores `value` under `r`. Every key must be in this table's partition (the pages cannot
    /// tell `r` from `r + 1` when the stride is 2).
    pub(super) fn insert(&mut self, r: u64, value: T) {
        if let Some(v) = self.stragglers.get_mut(&r) {
            *v = value;
            return;
        }
        let (page, slot) = self.index(r);
        if self.pages.get(page).is_none_or(Option::is_none) {
            let budget = SLACK * (self.entries + 1);
            // The directory is bounded too: 8 bytes a page, even for a page never allocated.
            if self.allocated > budget || page > budget {
                self.stragglers.insert(r, value);
                self.entries += 1;
                return;
            }
            if self.pages.len() <= page {
                self.pages.resize_with(page + 1, || None);
            }
            self.pages[page] = Some((0..PAGE).map(|_| None).collect());
            self.allocated += PAGE;
        }
        let p = self.pages[page].as_mut().expect("allocated above");
        self.entries += usize::from(p[slot].replace(value).is_none());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case: the stride, and the refs stored (each stored as value `!r`).
    #[test]
    fn every_ref_is_found_dense_or_sparse() {
        let dense: Vec<u64> = (1..5000).collect();
        let sparse: Vec<u64> = (0..300).map(|i| 1 + i * 7919 * 3).collect();
        let mixed: Vec<u64> = (0..2000u64)
            .chain((0..50).map(|i| 1 << (20 + i % 40)))
            .collect();
        // Stragglers first, then the dense run that allocates their pages after all.
        let filled_in: Vec<u64> = sparse.iter().copied().chain(1..30_000).collect();
        let cases: &[(usize, &[u64])] = &[
            (1, &dense),
            (1, &sparse),
            (1, &mixed),
            (1, &filled_in),
            (3, &sparse),
            (1, &[0, u64::MAX]),
        ];
        for &(stride, refs) in cases {
            let mut t = RefTable::new(stride);
            for &r in refs {
                t.insert(r, !r);
            }
            let distinct: std::collections::HashSet<_> = refs.iter().collect();
            assert_eq!(t.entries, distinct.len(), "stride {stride}: entries");
            for &r in refs {
                assert_eq!(t.get(r), Some(&!r), "stride {stride}, ref {r}");
            }
            let absent = (1..)
                .map(|k: u64| refs[0].wrapping_add(k * stride as u64))
                .find(|r| !distinct.contains(r))
                .unwrap();
            assert_eq!(t.get(absent), None, "stride {stride}, absent ref {absent}");
            assert!(
                t.allocated <= SLACK * (distinct.len() + 1) + PAGE,
                "stride {stride}: {} slots for {} refs",
                t.allocated,
                refs.len()
            );
        }
    }

    #[test]
    fn replacing_keeps_one_entry() {
        let mut t = RefTable::new(1);
        t.insert(5, 'a');
        t.insert(5, 'b');
        assert_eq!((t.get(5), t.entries), (Some(&'b'), 1));
    }
}
