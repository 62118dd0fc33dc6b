//! Label sets for the metadata API (`/api/v1/labels`, `/api/v1/label/<name>/values`) over the
//! head and the blocks, read the way Prometheus reads them: from each source's index. A source
//! (the head, a block) whose time range overlaps the asked one contributes every series the
//! matchers select in it, whether or not that series has a sample inside the range; a source
//! outside the range contributes nothing. So a dashboard's label list shows what the database
//! held in that period, at the granularity Prometheus' own answers have.

use std::collections::BTreeSet;

use wasmfed_block::Error as BlockError;
use wasmfed_model::Labels;

use crate::{Blocks, Head, MatchOp, Matcher};

/// The label sets of the series selected by any of `matcher_sets` (every series when there
/// are none) in the sources overlapping `[mint, maxt]`.
pub fn indexed_labels(
    head: &Head,
    blocks: &Blocks,
    matcher_sets: &[Vec<Matcher>],
    mint: i64,
    maxt: i64,
) -> Result<BTreeSet<Labels>, BlockError> {
    let every = [vec![
        Matcher::new(MatchOp::Regex, "__name__", ".+").expect("a valid regex")
    ]];
    let sets = if matcher_sets.is_empty() {
        &every[..]
    } else {
        matcher_sets
    };
    let mut out = BTreeSet::new();
    if head
        .time_range()
        .is_some_and(|(first, last)| first <= maxt && last >= mint)
    {
        for matchers in sets {
            out.extend(
                head.select(matchers)
                    .into_iter()
                    .filter_map(|r| head.labels(r)),
            );
        }
    }
    for matchers in sets {
        out.extend(blocks.indexed_labels(matchers, mint, maxt)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_overlapping_the_range_give_all_their_selected_series() {
        let head = Head::with_series(&[
            (&[("__name__", "up"), ("job", "a")], &[(1_000, 1.0)]),
            (&[("__name__", "up"), ("job", "b")], &[(9_000, 1.0)]),
            (
                &[("__name__", "mem"), ("job", "a"), ("zone", "z")],
                &[(5_000, 7.0)],
            ),
        ]);
        let blocks = Blocks::default();
        let names = |sets: &[Vec<Matcher>], mint, maxt| -> Vec<String> {
            indexed_labels(&head, &blocks, sets, mint, maxt)
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        // The head holds 1s..9s: a range inside it sees every series, even without a sample
        // in the range (as Prometheus' index lookups do).
        assert_eq!(names(&[], 2_000, 3_000).len(), 3);
        assert!(names(&[], 10_000, 20_000).is_empty());
        let up = vec![Matcher::new(MatchOp::Equal, "__name__", "up").unwrap()];
        assert_eq!(
            names(&[up], i64::MIN, i64::MAX),
            [r#"{__name__="up", job="a"}"#, r#"{__name__="up", job="b"}"#]
        );
    }
}
