//! The inverted index: for each label name and value, the sorted refs of the series having it,
//! and the evaluation of matchers against it (Prometheus' `PostingsForMatchers`).
//!
//! Refs are handed out in increasing order while the index is locked for writing, so a new
//! series is always appended at the end of its lists and every list stays sorted without
//! sorting (a series restored from the WAL under a lower ref is inserted in place). Matchers that reject the empty string select by union of the matching values'
//! lists; those that accept it also select series lacking the label, so they are evaluated by
//! subtracting the series whose value fails them. Lists are borrowed, not copied, wherever a
//! single list is the answer, so `{job="node"}` over a million series copies nothing until the
//! caller collects the result.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::matcher::{MatchOp, Matcher};
use super::symbols::{Symbol, Symbols};

/// Hashes integer keys that are already well spread (refs, symbols, label-set hashes) with one
/// multiplication instead of SipHash.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the odd multiplier spreads sequential keys over the high bits,
        // which hashbrown uses for its control bytes.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

pub(crate) type IdHash = BuildHasherDefault<IdHasher>;

/// Label name → label value → sorted series refs.
#[derive(Debug, Default)]
pub(crate) struct Postings {
    by_name: HashMap<Symbol, HashMap<Symbol, Vec<u64>, IdHash>, IdHash>,
}

impl Postings {
    /// Records that series `r` has `name=value`. New series come with a ref above every other
    /// and are appended; WAL replay may restore a lower one, which is inserted in order.
    pub(crate) fn add(&mut self, name: Symbol, value: Symbol, r: u64) {
        let list = self
            .by_name
            .entry(name)
            .or_default()
            .entry(value)
            .or_default();
        if list.last().is_none_or(|&last| last < r) {
            list.push(r);
        } else if let Err(at) = list.binary_search(&r) {
            list.insert(at, r);
        }
    }

    /// Calls `f` with every label name and its values' lists.
    pub(crate) fn for_each_name(
        &self,
        mut f: impl FnMut(Symbol, &HashMap<Symbol, Vec<u64>, IdHash>),
    ) {
        for (name, values) in &self.by_name {
            f(*name, values);
        }
    }

    /// Removes the sorted refs `removed` from the lists of the given label pairs.
    pub(crate) fn remove(
        &mut self,
        pairs: impl IntoIterator<Item = (Symbol, Symbol)>,
        removed: &[u64],
    ) {
        // Many removed series share a pair (`job="node"`): filter each list once, not per series.
        let mut pairs: Vec<_> = pairs.into_iter().collect();
        pairs.sort_unstable();
        pairs.dedup();
        for (name, value) in pairs {
            let Some(values) = self.by_name.get_mut(&name) else {
                continue;
            };
            if let Some(list) = values.get_mut(&value) {
                list.retain(|r| removed.binary_search(r).is_err());
                if list.is_empty() {
                    values.remove(&value);
                } else if list.capacity() > 2 * list.len() + 4 {
                    list.shrink_to_fit();
                }
            }
            if values.is_empty() {
                self.by_name.remove(&name);
            }
        }
    }

    /// Refs of the series matching all `matchers`, ascending. `all` lists every series (ascending)
    /// and is called only when no matcher narrows the selection by itself.
    pub(crate) fn select(
        &self,
        symbols: &Symbols,
        matchers: &[Matcher],
        all: impl FnOnce() -> Vec<u64>,
    ) -> Vec<u64> {
        let Ok(refs) = select_refs::<std::convert::Infallible>(
            matchers,
            |name, value| Ok(self.refs_equal(symbols, name, value)),
            |name, keep| Ok(self.refs_where(symbols, name, keep)),
            || Ok(all()),
        );
        refs
    }

    fn refs_equal<'a>(&'a self, symbols: &Symbols, name: &str, value: &str) -> Cow<'a, [u64]> {
        let list = symbols
            .get(name)
            .zip(symbols.get(value))
            .and_then(|(n, v)| self.by_name.get(&n)?.get(&v));
        Cow::Borrowed(list.map_or(&[][..], Vec::as_slice))
    }

    /// Union of the lists of `name`'s values accepted by `keep`. A series has one value per
    /// name, so the lists are disjoint and a sort is a merge.
    fn refs_where<'a>(
        &'a self,
        symbols: &Symbols,
        name: &str,
        keep: &dyn Fn(&str) -> bool,
    ) -> Cow<'a, [u64]> {
        let Some(values) = symbols.get(name).and_then(|n| self.by_name.get(&n)) else {
            return Cow::Borrowed(&[]);
        };
        let mut kept = values
            .iter()
            .filter(|(&v, _)| keep(symbols.resolve(v)))
            .map(|(_, list)| list.as_slice());
        match (kept.next(), kept.next()) {
            (None, _) => Cow::Borrowed(&[]),
            (Some(only), None) => Cow::Borrowed(only),
            (Some(a), Some(b)) => {
                let mut union = [a, b].concat();
                for l in kept {
                    union.extend_from_slice(l);
                }
                union.sort_unstable();
                Cow::Owned(union)
            }
        }
    }
}

/// Evaluates `matchers` over an index (the head's, or a block's) that can list the refs having
/// `name="value"` (`equal`), the union of the refs having a value of `name` that a predicate
/// accepts (`having`), and every ref (`all`, asked only when no matcher narrows the selection
/// by itself). Returns the matching refs, ascending; no matchers select nothing.
pub(crate) fn select_refs<'a, E>(
    matchers: &[Matcher],
    mut equal: impl FnMut(&str, &str) -> Result<Cow<'a, [u64]>, E>,
    mut having: impl FnMut(&str, &dyn Fn(&str) -> bool) -> Result<Cow<'a, [u64]>, E>,
    all: impl FnOnce() -> Result<Vec<u64>, E>,
) -> Result<Vec<u64>, E> {
    if matchers.is_empty() {
        return Ok(Vec::new());
    }
    let mut include: Vec<Cow<'a, [u64]>> = Vec::new();
    let mut exclude: Vec<Cow<'a, [u64]>> = Vec::new();
    for m in matchers {
        if m.matches_empty() {
            exclude.push(having(&m.name, &|v| !m.matches(v))?);
        } else {
            let refs = match m.op {
                MatchOp::Equal => equal(&m.name, &m.value)?,
                _ => having(&m.name, &|v| m.matches(v))?,
            };
            if refs.is_empty() {
                return Ok(Vec::new());
            }
            include.push(refs);
        }
    }
    include.sort_by_key(|l| l.len());
    let mut lists = include.into_iter();
    let mut result = match lists.next() {
        Some(first) => lists.fold(first.into_owned(), |acc, l| intersect(&acc, &l)),
        None => all()?,
    };
    for l in exclude.iter().filter(|l| !l.is_empty()) {
        result = subtract(&result, l);
    }
    Ok(result)
}

/// Sorted intersection; gallops through the longer list when the lengths differ widely.
fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(short.len());
    if short.len() * 16 < long.len() {
        let mut rest = long;
        for &r in short {
            match rest.binary_search(&r) {
                Ok(i) => {
                    out.push(r);
                    rest = &rest[i + 1..];
                }
                Err(i) => rest = &rest[i..],
            }
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    while i < short.len() && j < long.len() {
        match short[i].cmp(&long[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(short[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Sorted difference `a \ b`.
fn subtract(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &r in a {
        while j < b.len() && b[j] < r {
            j += 1;
        }
        if j == b.len() || b[j] != r {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use MatchOp::*;

    /// Matchers as (op, name, value).
    type Spec<'a> = &'a [(MatchOp, &'a str, &'a str)];

    #[test]
    fn set_operations() {
        let long: Vec<u64> = (0..200).collect();
        for (a, b, inter, diff) in [
            (vec![1, 3, 5], vec![2, 3, 4, 5], vec![3, 5], vec![1]),
            (vec![], vec![1], vec![], vec![]),
            (vec![1, 2], vec![], vec![], vec![1, 2]),
            (vec![7, 150, 250], long.clone(), vec![7, 150], vec![250]),
            (
                long.clone(),
                vec![0, 199, 200],
                vec![0, 199],
                (1..199).collect(),
            ),
        ] {
            assert_eq!(intersect(&a, &b), inter, "{a:?} ∩ {b:?}");
            assert_eq!(intersect(&b, &a), inter, "{b:?} ∩ {a:?}");
            assert_eq!(subtract(&a, &b), diff, "{a:?} \\ {b:?}");
        }
    }

    /// Series 1..=4: {a=x,b=1} {a=y,b=1} {a=x} {b=2}
    fn fixture() -> (Symbols, Postings, Vec<u64>) {
        let mut symbols = Symbols::default();
        let mut postings = Postings::default();
        let series: &[&[(&str, &str)]] = &[
            &[("a", "x"), ("b", "1")],
            &[("a", "y"), ("b", "1")],
            &[("a", "x")],
            &[("b", "2")],
        ];
        for (i, labels) in series.iter().enumerate() {
            for (n, v) in labels.iter() {
                let (n, v) = (symbols.acquire(n), symbols.acquire(v));
                postings.add(n, v, i as u64 + 1);
            }
        }
        (symbols, postings, vec![1, 2, 3, 4])
    }

    #[test]
    fn select_semantics() {
        let (symbols, postings, all) = fixture();
        let cases: &[(Spec, &[u64])] = &[
            (&[], &[]),
            (&[(Equal, "a", "x")], &[1, 3]),
            (&[(Equal, "a", "z")], &[]),
            (&[(Equal, "c", "x")], &[]),
            (&[(Equal, "a", "")], &[4]),
            (&[(Equal, "c", "")], &[1, 2, 3, 4]),
            (&[(NotEqual, "a", "x")], &[2, 4]),
            (&[(NotEqual, "a", "")], &[1, 2, 3]),
            (&[(Regex, "a", "x|y")], &[1, 2, 3]),
            (&[(Regex, "a", "x|")], &[1, 3, 4]),
            (&[(Regex, "a", ".*")], &[1, 2, 3, 4]),
            (&[(Regex, "a", ".+")], &[1, 2, 3]),
            (&[(NotRegex, "a", "x")], &[2, 4]),
            (&[(NotRegex, "a", ".+")], &[4]),
            (&[(NotRegex, "a", ".*")], &[]),
            (&[(Equal, "a", "x"), (Equal, "b", "1")], &[1]),
            (&[(Equal, "b", "1"), (NotEqual, "a", "x")], &[2]),
            (&[(Regex, "a", ".+"), (NotEqual, "a", "y")], &[1, 3]),
            (&[(Equal, "a", "x"), (Equal, "b", "")], &[3]),
            (&[(Regex, "b", "1|2"), (Equal, "a", "")], &[4]),
            (&[(Equal, "a", "x"), (Equal, "a", "y")], &[]),
        ];
        for (spec, want) in cases {
            let matchers: Vec<_> = spec
                .iter()
                .map(|&(op, n, v)| Matcher::new(op, n, v).expect("valid"))
                .collect();
            let got = postings.select(&symbols, &matchers, || all.clone());
            assert_eq!(
                got,
                *want,
                "{}",
                matchers
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            );
        }
    }

    #[test]
    fn removal_prunes_empty_lists() {
        let (symbols, mut postings, _) = fixture();
        let sym = |s| symbols.get(s).expect("known");
        postings.remove([(sym("a"), sym("x")), (sym("b"), sym("1"))], &[1]);
        postings.remove([(sym("a"), sym("x"))], &[3]);
        let m = |op, n, v| vec![Matcher::new(op, n, v).expect("valid")];
        assert_eq!(
            postings.select(&symbols, &m(Equal, "a", "x"), Vec::new),
            Vec::<u64>::new()
        );
        assert_eq!(
            postings.select(&symbols, &m(Equal, "b", "1"), Vec::new),
            vec![2]
        );
        assert!(!postings.by_name[&sym("a")].contains_key(&sym("x")));
    }
}
