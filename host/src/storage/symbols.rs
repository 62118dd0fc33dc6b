//! Interned label names and values, referenced by 4-byte symbols.
//!
//! Most label strings are shared by many series (`job`, `instance`, metric names), so each
//! series stores its label set as symbol pairs — 8 bytes a label instead of two `String`s —
//! and the postings index is keyed by symbols too. Every string is held once, in `entries`;
//! the hash table stores only symbols and hashes through `entries`, so no string is kept
//! twice. Symbols are reference-counted by the series using them and recycled when the last
//! one goes, so label churn (pod names, short-lived instances) does not grow the table forever.

use std::hash::{BuildHasher, RandomState};

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

    /// Number of live symbols.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
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
    fn many_symbols_survive_table_growth() {
        let mut s = Symbols::default();
        let syms: Vec<_> = (0..10_000).map(|i| s.acquire(&format!("v{i}"))).collect();
        for (i, &sym) in syms.iter().enumerate() {
            assert_eq!(s.resolve(sym), format!("v{i}"));
            assert_eq!(s.get(&format!("v{i}")), Some(sym));
        }
    }
}
