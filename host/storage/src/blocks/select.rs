//! Matchers over one block's index, as the head's index evaluates them (`index.rs`): matchers
//! that reject the empty value narrow by the union of their values' postings, those that
//! accept it subtract the series whose value fails them, and with no narrowing matcher the
//! block's all-series postings are the start.

use wasmfed_block::index::IndexReader;
use wasmfed_block::Error;

use crate::index::{intersect, subtract};
use crate::matcher::{MatchOp, Matcher};

/// The series references of the block matching all `matchers`, ascending (label order). No
/// matchers select nothing, as in the head.
pub(super) fn series(index: &IndexReader, matchers: &[Matcher]) -> Result<Vec<u32>, Error> {
    if matchers.is_empty() {
        return Ok(Vec::new());
    }
    let mut include: Vec<Vec<u64>> = Vec::new();
    let mut exclude: Vec<Vec<u64>> = Vec::new();
    for m in matchers {
        if m.matches_empty() {
            exclude.push(refs_where(index, &m.name, |v| !m.matches(v))?);
        } else {
            let refs = match m.op {
                MatchOp::Equal => index.postings(&m.name, &m.value)?.map(u64::from).collect(),
                _ => refs_where(index, &m.name, |v| m.matches(v))?,
            };
            if refs.is_empty() {
                return Ok(Vec::new());
            }
            include.push(refs);
        }
    }
    include.sort_by_key(Vec::len);
    let mut lists = include.into_iter();
    let mut result = match lists.next() {
        Some(first) => lists.fold(first, |acc, l| intersect(&acc, &l)),
        None => index.all_postings()?.map(u64::from).collect(),
    };
    for l in exclude.iter().filter(|l| !l.is_empty()) {
        result = subtract(&result, l);
    }
    Ok(result.into_iter().map(|r| r as u32).collect())
}

/// Union of the postings of `name`'s values accepted by `keep`, ascending.
fn refs_where(
    index: &IndexReader,
    name: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<u64>, Error> {
    let mut offsets = Vec::new();
    index.for_each_value(name, |value, off| {
        if keep(value) {
            offsets.push(off);
        }
        true
    })?;
    let mut union = Vec::new();
    for off in offsets {
        union.extend(index.postings_at(off)?.map(u64::from));
    }
    if union.len() > 1 {
        union.sort_unstable();
    }
    Ok(union)
}
