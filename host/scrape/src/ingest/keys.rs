//! The series-text → slot map of one target's cache, with a fast path for the exposition order.
//!
//! A target exposes the same series in the same order scrape after scrape. So before hashing, a
//! line is compared with the series that stood at the same position in the previous scrape:
//! when it matches (almost always) the lookup reads the previous scrape's order sequentially and
//! the keys, which were allocated together in exposition order, sequentially too — no hash
//! computed, no probe into a table that has long left the CPU caches since the target's last
//! scrape. A line that moved, or a new one, falls back to the hash table.
//!
//! Keys live once, in `keys` by slot; the table holds only slot numbers (4 bytes an entry) and
//! finds keys through `keys`. The invariant every method keeps: `keys[slot]` is `Some(k)` exactly
//! when the table maps `k` to `slot`, so a key match at a remembered position is the same answer
//! the table would give.

use std::hash::BuildHasher;

use foldhash::quality::RandomState;

use hashbrown::HashTable;

/// A remembered position whose line was not cached (dropped before it got a slot).
const NONE: u32 = u32::MAX;

#[derive(Default)]
pub(super) struct KeyIndex {
    keys: Vec<Option<Box<str>>>,
    table: HashTable<u32>,
    /// Keys come from scraped targets: a seeded hash keeps crafted series names from colliding.
    hasher: RandomState,
    /// The slot of each line of the last completed scrape, by position.
    order: Vec<u32>,
    /// The same for the scrape in progress.
    next: Vec<u32>,
}

impl KeyIndex {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// The slot of the line at `position` of this scrape, if its series text is cached.
    pub fn find(&self, position: usize, key: &str) -> Option<u32> {
        if let Some(&slot) = self.order.get(position) {
            if self.key(slot) == Some(key) {
                return Some(slot);
            }
        }
        let hash = self.hasher.hash_one(key);
        self.table
            .find(hash, |&slot| self.key(slot) == Some(key))
            .copied()
    }

    /// A scrape starts (whatever became of the previous attempt).
    pub fn begin_scrape(&mut self) {
        self.next.clear();
    }

    /// Records the slot of this scrape's next line (`None` for one not cached).
    pub fn saw(&mut self, slot: Option<u32>) {
        self.next.push(slot.unwrap_or(NONE));
    }

    /// The scrape is complete: its order is the one the next scrape is compared with.
    pub fn end_scrape(&mut self) {
        std::mem::swap(&mut self.order, &mut self.next);
        self.next.clear();
    }

    /// Caches `key` at `slot`, which must hold no key.
    pub fn insert(&mut self, slot: u32, key: Box<str>) {
        let at = slot as usize;
        if self.keys.len() <= at {
            self.keys.resize_with(at + 1, || None);
        }
        debug_assert!(self.keys[at].is_none(), "slot {slot} holds a key");
        let hash = self.hasher.hash_one(&*key);
        self.keys[at] = Some(key);
        let keys = &self.keys;
        let hasher = &self.hasher;
        self.table.insert_unique(hash, slot, |&s| {
            hasher.hash_one(keys[s as usize].as_deref().expect("tabled slots have keys"))
        });
    }

    /// Forgets the key of `slot`, if it has one.
    pub fn remove(&mut self, slot: u32) {
        let Some(key) = self.keys.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        let hash = self.hasher.hash_one(&*key);
        if let Ok(entry) = self.table.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
    }

    /// Keeps the slots `keep` says yes to; forgets the others' keys.
    pub fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) {
        let keys = &mut self.keys;
        self.table.retain(|&mut slot| {
            let kept = keep(slot);
            if !kept {
                keys[slot as usize] = None;
            }
            kept
        });
    }

    /// Forgets every key; the slots that had one.
    pub fn clear(&mut self) -> Vec<u32> {
        let slots: Vec<u32> = self.table.drain().collect();
        for &slot in &slots {
            self.keys[slot as usize] = None;
        }
        self.order.clear();
        slots
    }

    fn key(&self, slot: u32) -> Option<&str> {
        self.keys.get(slot as usize)?.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(index: &mut KeyIndex, lines: &[&str]) -> Vec<Option<u32>> {
        index.begin_scrape();
        let found: Vec<Option<u32>> = lines
            .iter()
            .enumerate()
            .map(|(position, line)| index.find(position, line))
            .collect();
        for &slot in &found {
            index.saw(slot);
        }
        index.end_scrape();
        found
    }

    #[test]
    fn lines_are_found_in_order_moved_or_not_at_all() {
        let mut index = KeyIndex::default();
        for (slot, key) in ["a", "b", "c"].into_iter().enumerate() {
            index.insert(slot as u32, key.into());
        }
        assert_eq!(index.len(), 3);
        let cases: &[(&[&str], &[Option<u32>])] = &[
            (&["a", "b", "c"], &[Some(0), Some(1), Some(2)]),
            (&["a", "b", "c"], &[Some(0), Some(1), Some(2)]),
            // Reordered, one line missing, one unknown: the table answers.
            (&["c", "x", "a"], &[Some(2), None, Some(0)]),
            (&["c", "x", "a", "b"], &[Some(2), None, Some(0), Some(1)]),
            (&[], &[]),
            (&["b"], &[Some(1)]),
        ];
        for (lines, want) in cases {
            assert_eq!(&scrape(&mut index, lines), want, "{lines:?}");
        }
    }

    #[test]
    fn a_removed_or_reused_slot_is_not_found_at_its_old_position() {
        let mut index = KeyIndex::default();
        index.insert(0, "a".into());
        index.insert(1, "b".into());
        scrape(&mut index, &["a", "b"]);
        index.remove(0);
        assert_eq!(
            index.find(0, "a"),
            None,
            "removed: neither position nor table"
        );
        index.insert(0, "z".into());
        assert_eq!(index.find(0, "a"), None, "the slot now holds another key");
        assert_eq!(index.find(0, "z"), Some(0));
        assert_eq!(index.find(5, "b"), Some(1));
        index.retain(|slot| slot != 1);
        assert_eq!((index.find(1, "b"), index.len()), (None, 1));
        assert_eq!(index.clear(), vec![0]);
        assert_eq!((index.find(0, "z"), index.len()), (None, 0));
        index.insert(1, "b".into());
        index.begin_scrape();
        assert_eq!(index.find(0, "b"), Some(1));
    }

    #[test]
    fn many_keys_survive_table_growth() {
        let mut index = KeyIndex::default();
        let keys: Vec<String> = (0..5000).map(|i| format!("m{{i=\"{i}\"}}")).collect();
        for (slot, key) in keys.iter().enumerate() {
            index.insert(slot as u32, key.as_str().into());
        }
        for (slot, key) in keys.iter().enumerate().rev() {
            assert_eq!(index.find(0, key), Some(slot as u32));
        }
    }
}
