//! Interned label names and values, referenced by 4-byte symbols.
//!
//! Most label strings are shared by many series (`job`, `instance`, metric names), so each
//! series stores its label set as symbol pairs — 8 bytes a label instead of two `String`s —
//! and the postings index is keyed by symbols too. Every string is held once, in `entries`;
//! the hash table stores only symbols and hashes through `entries`, so no string is kept
//! twice. Symbols are reference-counted by the series using them and recycled when the last
//! one goes, so label churn (pod names, short-lived instances) does not grow the table forever.

use std::hash::BuildHasher;

use foldhash::quality::RandomState;

use hashbrown::HashTable;

pub(crate) type Symbol = u32;

#[derive(Debug)]
struct Entry {
    text: Box<str>,
    refs: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Symbols {
    table: HashTable<Symbol>,
    entries: Vec<Entry>,
    free: Vec<Symbol>,
    hasher: RandomState,
}

impl Symbols {
    /// The symbol of `text`, if some series uses it.
    pub(crate) fn get(&self, text: &str) -> Option<Symbol> {
        let hash = self.hasher.hash_one(text);
        self.table
            .find(hash, |&s| &*self.entries[s as usize].text == text)
            .copied()
    }

    /// The text of a live symbol.
    pub(crate) fn resolve(&self, symbol: Symbol) -> &str {
        &self.entries[symbol as usize].text
    }

    /// Takes one reference to the symbol of `text`, creating it if needed.
    pub(crate) fn acquire(&mut self, text: &str) -> Symbol {
        let hash = self.hasher.hash_one(text);
        let entries = &mut self.entries;
        if let Some(&s) = self
            .table
            .find(hash, |&s| &*entries[s as usize].text == text)
        {
            entries[s as usize].refs += 1;
            return s;
        }
        let entry = Entry {
            text: text.into(),
            refs: 1,
        };
        let symbol = match self.free.pop() {
            Some(s) => {
                entries[s as usize] = entry;
                s
            }
            None => {
                entries.push(entry);
                Symbol::try_from(entries.len() - 1).expect("fewer than 2^32 distinct strings")
            }
        };
        let hasher = &self.hasher;
        self.table.insert_unique(hash, symbol, |&s| {
            hasher.hash_one(&*entries[s as usize].text)
        });
        symbol
    }

    /// Drops one reference; the last one frees the symbol for reuse.
    pub(crate) fn release(&mut self, symbol: Symbol) {
        let entry = &mut self.entries[symbol as usize];
        entry.refs -= 1;
        if entry.refs > 0 {
            return;
        }
        let text = std::mem::take(&mut entry.text);
        let hash = self.hasher.hash_one(&*text);
        if let Ok(found) = self.table.find_entry(hash, |&s| s == symbol) {
            found.remove();
        }
        self.free.push(symbol);
    }

    /// Sorts items by their label sets (flattened name/value symbol pairs) in the order of
    /// [`Labels`](wasmfed_model::Labels): pairwise by name then value, shorter set first on a tie.
    ///
    /// Comparing strings in the sort would chase two pointers per label per comparison. Instead
    /// the distinct symbols involved (few: names and shared values) are ranked once by their
    /// text, and the sort compares rank slices.
    pub(crate) fn sort_by_label_sets<T>(&self, items: &mut [T], labels: impl Fn(&T) -> &[Symbol]) {
        let Ranking { rank, .. } = self.rank_by_text(items.iter().flat_map(&labels).copied());
        let mut ranked: Vec<u32> = Vec::new();
        let mut spans: Vec<(usize, std::ops::Range<usize>)> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let start = ranked.len();
            ranked.extend(labels(item).iter().map(|&s| rank[s as usize]));
            spans.push((i, start..ranked.len()));
        }
        spans.sort_unstable_by(|a, b| ranked[a.1.clone()].cmp(&ranked[b.1.clone()]));
        let mut order: Vec<usize> = spans.into_iter().map(|(i, _)| i).collect();
        apply_permutation(items, &mut order);
    }

    /// Ranks the distinct symbols among `symbols` by their text, so that comparing ranks
    /// compares texts: for many comparisons over few distinct strings, one string sort up front
    /// is far cheaper than chasing two pointers per comparison.
    pub(crate) fn rank_by_text(&self, symbols: impl IntoIterator<Item = Symbol>) -> Ranking {
        const UNSEEN: u32 = u32::MAX;
        let mut rank = vec![UNSEEN; self.entries.len()];
        let mut used = Vec::new();
        for s in symbols {
            if rank[s as usize] == UNSEEN {
                rank[s as usize] = 0;
                used.push(s);
            }
        }
        used.sort_unstable_by(|&a, &b| self.resolve(a).cmp(self.resolve(b)));
        for (i, &s) in used.iter().enumerate() {
            rank[s as usize] = i as u32;
        }
        Ranking { rank, used }
    }

    /// Number of live symbols.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

/// The result of [`Symbols::rank_by_text`].
pub(crate) struct Ranking {
    /// `rank[symbol]`: the symbol's position in `used`; meaningless for symbols not ranked.
    pub(crate) rank: Vec<u32>,
    /// The distinct ranked symbols, ascending by text.
    pub(crate) used: Vec<Symbol>,
}

/// Rearranges `items` so that position `k` holds the item that was at `order[k]`; `order` is
/// consumed as scratch space.
fn apply_permutation<T>(items: &mut [T], order: &mut [usize]) {
    for start in 0..order.len() {
        let mut current = start;
        while order[current] != start {
            let next = order[current];
            items.swap(current, next);
            order[current] = current;
            current = next;
        }
        order[current] = current;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_reference_counted_and_recycles() {
        let mut s = Symbols::default();
        let a = s.acquire("a");
        let b = s.acquire("b");
        assert_eq!(s.acquire("a"), a);
        assert_ne!(a, b);
        assert_eq!((s.resolve(a), s.resolve(b)), ("a", "b"));
        assert_eq!(s.get("a"), Some(a));
        assert_eq!(s.get("c"), None);

        s.release(a);
        assert_eq!(s.get("a"), Some(a), "one reference left");
        s.release(a);
        assert_eq!(s.get("a"), None);
        assert_eq!(s.len(), 1);

        let c = s.acquire("c");
        assert_eq!(c, a, "freed symbol is reused");
        assert_eq!(s.resolve(c), "c");
        assert_eq!(s.get("c"), Some(c));
        assert_eq!(s.get("b"), Some(b));
    }

    #[test]
    fn label_sets_sort_like_labels() {
        let mut s = Symbols::default();
        let sets: Vec<Vec<(&str, &str)>> = vec![
            vec![("b", "1")],
            vec![("a", "2"), ("c", "1")],
            vec![("a", "10")],
            vec![("a", "2")],
            vec![],
            vec![("a", "2"), ("b", "9")],
            vec![("__name__", "z")],
        ];
        let mut items: Vec<(usize, Vec<Symbol>)> = sets
            .iter()
            .enumerate()
            .map(|(i, set)| {
                (
                    i,
                    set.iter()
                        .flat_map(|(n, v)| [s.acquire(n), s.acquire(v)])
                        .collect(),
                )
            })
            .collect();
        s.sort_by_label_sets(&mut items, |item| &item.1);
        let got: Vec<usize> = items.iter().map(|item| item.0).collect();
        let mut want: Vec<usize> = (0..sets.len()).collect();
        let as_labels = |i: usize| wasmfed_model::Labels::from_pairs(sets[i].iter().copied());
        want.sort_by_key(|&i| as_labels(i));
        assert_eq!(got, want);
        assert_eq!(got, [4, 6, 2, 3, 5, 1, 0]);
    }

    #[test]
    fn permutation_is_applied() {
        let mut items = vec!['a', 'b', 'c', 'd', 'e'];
        apply_permutation(&mut items, &mut [3, 0, 4, 1, 2]);
        assert_eq!(items, ['d', 'a', 'e', 'b', 'c']);
    }

    #[test]
    fn many_symbols_survive_table_growth() {
        let mut s = Symbols::default();
        let syms: Vec<_> = (0..10_000).map(|i| s.acquire(&format!("v{i}"))).collect();
        for (i, &sym) in syms.iter().enumerate() {
            assert_eq!(s.resolve(sym), format!("v{i}"));
            assert_eq!(s.get(&format!("v{i}")), Some(sym));
        }
    }
}
