//! Matchers over one block's index, evaluated by the head's own planner
//! (`index::select_refs`): the block answers its postings lists from its mapped index.

use std::borrow::Cow;

use wasmfed_block::index::IndexReader;
use wasmfed_block::Error;

use crate::index::select_refs;
use crate::matcher::Matcher;

/// The series references of the block matching all `matchers`, ascending (label order). No
/// matchers select nothing, as in the head.
pub(super) fn series(index: &IndexReader, matchers: &[Matcher]) -> Result<Vec<u32>, Error> {
    let refs = select_refs(
        matchers,
        |name, value| {
            Ok(Cow::Owned(
                index.postings(name, value)?.map(u64::from).collect(),
            ))
        },
        |name, keep| refs_where(index, name, keep).map(Cow::Owned),
        || Ok(index.all_postings()?.map(u64::from).collect()),
    )?;
    Ok(refs.into_iter().map(|r| r as u32).collect())
}

/// Union of the postings of `name`'s values accepted by `keep`, ascending.
fn refs_where(
    index: &IndexReader,
    name: &str,
    keep: &dyn Fn(&str) -> bool,
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
