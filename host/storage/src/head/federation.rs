//! Reading the newest sample of many series at once, for `/federate`.
//!
//! Reading series one by one (`select`, then `labels` and `latest` per ref) takes the catalog
//! lock and a shard lock per series and builds a `Labels` — a `String` per name and value — per
//! series, only to compare and copy those strings again. Here everything is read under one
//! catalog read lock instead: the refs from the postings, each series' newest sample, and its
//! label set as *ranks* into a table of the distinct strings involved, sorted, copied out once.
//! The locks are then released and the series are sorted by (metric name, label set) comparing
//! integers only; the writer reads the strings from the table without any lock, so a slow
//! client never holds up the creation of series.
//!
//! Under the lock a series costs one hash probe, one uncontended mutex and a copy of its label
//! symbols; the distinct strings (few: names and shared values) are sorted once. Series are
//! looked up in ref order even when all are selected: refs follow allocation order, and
//! walking the shard maps instead (hash order) was measured slower at 100k and 1M series.

use std::ops::Range;

use super::{shard_of, Head, SeriesRef, Shard};
use crate::symbols::{Ranking, Symbol};
use crate::Matcher;
use wasmfed_model::labels::{Label, METRIC_NAME};
use wasmfed_model::{is_stale_nan, Labels, Sample};

/// The newest non-stale sample of each selected series with its label set, sorted by metric
/// name, then by label set (as [`Labels`](wasmfed_model::Labels) order them).
///
/// Label names and values are *string ids*: indexes into a table of the distinct strings,
/// sorted, so comparing ids compares the strings.
pub struct LatestSamples {
    /// The distinct label names and values, ascending, concatenated.
    text: String,
    /// String `id` is `text[bounds[id]..bounds[id + 1]]`.
    bounds: Vec<usize>,
    /// Each series' sort key: its metric name's id plus one (0 when it has none), then its label
    /// set as (name, value) id pairs. Comparing keys orders series as [`LatestSamples`] says.
    keys: Vec<u32>,
    series: Vec<Chosen>,
}

/// One selected series: its key's place in `keys`, its newest sample and its ref.
#[derive(Clone, Debug)]
struct Chosen {
    key: Range<usize>,
    sample: Sample,
    series_ref: u64,
}

/// One series of a [`LatestSamples`].
#[derive(Clone, Copy, Debug)]
pub struct LatestSeries<'a> {
    /// The id of the metric name, if the series has one.
    pub metric_name: Option<u32>,
    /// The label set as (name, value) string-id pairs, flattened, sorted by name.
    pub labels: &'a [u32],
    pub sample: Sample,
    /// The series in the head it was read from (0 for [`LatestSamples::from_series`]).
    pub series_ref: SeriesRef,
}

impl LatestSamples {
    /// The selection of `series` (label sets distinct), ordered and with its string table
    /// built as [`Head::select_latest`] builds them.
    pub fn from_series(series: Vec<(Labels, Sample)>) -> LatestSamples {
        let mut strings: Vec<&str> = series
            .iter()
            .flat_map(|(labels, _)| labels.iter())
            .flat_map(|l| [l.name.as_str(), l.value.as_str()])
            .collect();
        strings.sort_unstable();
        strings.dedup();
        let mut text = String::new();
        let mut bounds = Vec::with_capacity(strings.len() + 1);
        bounds.push(0);
        for s in &strings {
            text.push_str(s);
            bounds.push(text.len());
        }
        let id = |s: &str| {
            strings
                .binary_search(&s)
                .expect("every string is in the table") as u32
        };
        let mut keys = Vec::new();
        let mut ranges = Vec::with_capacity(series.len());
        for (labels, sample) in &series {
            let start = keys.len();
            keys.push(labels.get(METRIC_NAME).map_or(0, |name| id(name) + 1));
            for l in labels.iter() {
                keys.extend([id(&l.name), id(&l.value)]);
            }
            ranges.push(Chosen {
                key: start..keys.len(),
                sample: *sample,
                series_ref: 0,
            });
        }
        ranges.sort_unstable_by(|a, b| keys[a.key.clone()].cmp(&keys[b.key.clone()]));
        LatestSamples {
            text,
            bounds,
            keys,
            series: ranges,
        }
    }

    /// The label set of `series`, one of this selection's.
    pub fn labels(&self, series: &LatestSeries<'_>) -> Labels {
        Labels::from_sorted(
            series
                .labels
                .chunks_exact(2)
                .map(|p| Label::new(self.string(p[0]), self.string(p[1])))
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The series, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = LatestSeries<'_>> {
        self.series.iter().map(|chosen| {
            let key = &self.keys[chosen.key.clone()];
            LatestSeries {
                metric_name: key[0].checked_sub(1),
                labels: &key[1..],
                sample: chosen.sample,
                series_ref: SeriesRef(chosen.series_ref),
            }
        })
    }

    /// The string with id `id`.
    pub fn string(&self, id: u32) -> &str {
        let id = id as usize;
        &self.text[self.bounds[id]..self.bounds[id + 1]]
    }

    /// The id of `text`, if some selected series uses it.
    pub fn id_of(&self, text: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0, self.bounds.len() - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.string(mid as u32).cmp(text) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// Every string of the table, by id.
    pub fn strings(&self) -> impl ExactSizeIterator<Item = &str> {
        (0..self.bounds.len() - 1).map(|id| self.string(id as u32))
    }
}

impl Head {
    /// The newest sample in `(mint_exclusive, maxt]` of every series matching any of the
    /// matcher sets, leaving out series whose newest sample is a stale marker.
    pub fn select_latest(
        &self,
        matcher_sets: &[Vec<Matcher>],
        mint_exclusive: i64,
        maxt: i64,
    ) -> LatestSamples {
        self.select_newest(matcher_sets, mint_exclusive, maxt, Stale::Skip)
    }

    /// [`Head::select_latest`], keeping or skipping series whose newest sample is a stale
    /// marker.
    pub(crate) fn select_newest(
        &self,
        matcher_sets: &[Vec<Matcher>],
        mint_exclusive: i64,
        maxt: i64,
        stale: Stale,
    ) -> LatestSamples {
        let catalog = self.catalog.read();
        let shards: Vec<_> = self.shards.iter().map(|s| s.read()).collect();
        let all_refs = || {
            let mut all: Vec<u64> = shards.iter().flat_map(|s| s.keys().copied()).collect();
            all.sort_unstable();
            all
        };
        let mut refs: Vec<u64> = Vec::new();
        for matchers in matcher_sets {
            refs.extend(
                catalog
                    .postings
                    .select(&catalog.symbols, matchers, all_refs),
            );
        }
        if matcher_sets.len() > 1 {
            refs.sort_unstable();
            refs.dedup();
        }
        let name_symbol = catalog.symbols.get(METRIC_NAME);
        let (mut keys, mut series) =
            newest_samples(&shards, &refs, name_symbol, (mint_exclusive, maxt), stale);
        let labels = |range: &Range<usize>| range.start + 1..range.end;
        let Ranking { rank, used } = catalog.symbols.rank_by_text(
            series
                .iter()
                .flat_map(|chosen| keys[labels(&chosen.key)].iter().copied()),
        );
        let mut text = String::new();
        let mut bounds = Vec::with_capacity(used.len() + 1);
        bounds.push(0);
        for &s in &used {
            text.push_str(catalog.symbols.resolve(s));
            bounds.push(text.len());
        }
        for chosen in &series {
            let key = &mut keys[chosen.key.clone()];
            key[0] = match key[0] {
                NAMELESS => 0,
                name => rank[name as usize] + 1,
            };
            for s in &mut key[1..] {
                *s = rank[*s as usize];
            }
        }
        drop(shards);
        drop(catalog);
        // Label sets are unique, so keys are too and an unstable sort is deterministic.
        series.sort_unstable_by(|a, b| keys[a.key.clone()].cmp(&keys[b.key.clone()]));
        LatestSamples {
            text,
            bounds,
            keys,
            series,
        }
    }
}

/// Whether a series whose newest sample is a stale marker is selected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Stale {
    Skip,
    Keep,
}

/// Marks a series without a metric name in the first word of its key while keys hold symbols.
const NAMELESS: u32 = u32::MAX;

/// The newest visible, non-stale sample of each of `refs`, with its key still in symbols: the
/// metric name's symbol (or [`NAMELESS`]), then the label symbols. The labels are copied out
/// while the series is at hand, so later passes read one flat array instead of chasing each
/// series' own allocation again.
fn newest_samples(
    shards: &[parking_lot::RwLockReadGuard<'_, Shard>],
    refs: &[u64],
    name_symbol: Option<Symbol>,
    (mint_exclusive, maxt): (i64, i64),
    stale: Stale,
) -> (Vec<u32>, Vec<Chosen>) {
    let mut keys = Vec::with_capacity(refs.len() * 11);
    let mut series = Vec::with_capacity(refs.len());
    for r in refs {
        let Some(s) = shards[shard_of(*r)].get(r) else {
            continue;
        };
        let Some(sample) = s.samples.lock().latest(mint_exclusive, maxt) else {
            continue;
        };
        if stale == Stale::Skip && is_stale_nan(sample.value) {
            continue;
        }
        let start = keys.len();
        let name = s
            .labels
            .chunks_exact(2)
            .find(|pair| Some(pair[0]) == name_symbol)
            .map_or(NAMELESS, |pair| pair[1]);
        keys.push(name);
        keys.extend_from_slice(&s.labels);
        series.push(Chosen {
            key: start..keys.len(),
            sample,
            series_ref: *r,
        });
    }
    (keys, series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_selector;
    use wasmfed_model::compat::Compat;
    use wasmfed_model::STALE_NAN;

    use crate::testing::TestSeries;

    /// (labels, newest sample to show) per series, as text: `{labels} value@t`.
    fn selected(head: &Head, selectors: &[&str]) -> Vec<String> {
        let sets: Vec<Vec<Matcher>> = selectors
            .iter()
            .map(|s| parse_selector(s, Compat::V3).expect("valid"))
            .collect();
        let latest = head.select_latest(&sets, 1000, 2000);
        latest
            .iter()
            .map(|s| {
                let pairs: Vec<String> = s
                    .labels
                    .chunks_exact(2)
                    .map(|p| format!("{}={}", latest.string(p[0]), latest.string(p[1])))
                    .collect();
                let name = s.metric_name.map_or("-", |id| latest.string(id));
                let v = s.sample;
                format!(
                    "{name} {{{}}} {}@{}",
                    pairs.join(","),
                    v.value,
                    v.timestamp_ms
                )
            })
            .collect()
    }

    fn head() -> Head {
        let series: &[TestSeries] = &[
            (&[("__name__", "b"), ("j", "1")], &[(1500, 1.0)]),
            (
                &[("__name__", "a"), ("j", "2")],
                &[(1500, 2.0), (1999, 3.0)],
            ),
            (
                &[("__name__", "a"), ("j", "10")],
                &[(2000, 4.0), (2001, 5.0)],
            ),
            // A label name sorting before `__name__` must not change the family order.
            (&[("A", "x"), ("__name__", "c")], &[(1800, 6.0)]),
            (&[("__name__", "stale")], &[(1500, 1.0), (1600, STALE_NAN)]),
            (&[("__name__", "old")], &[(1000, 1.0)]),
            (&[("__name__", "future")], &[(2001, 1.0)]),
            (&[("j", "3")], &[(1500, 7.0)]),
        ];
        Head::with_series(series)
    }

    #[test]
    fn newest_visible_samples_in_family_order() {
        let head = head();
        let cases: &[(&[&str], &[&str])] = &[
            (
                &[r#"{__name__=~".+"}"#],
                &[
                    "a {__name__=a,j=10} 4@2000",
                    "a {__name__=a,j=2} 3@1999",
                    "b {__name__=b,j=1} 1@1500",
                    "c {A=x,__name__=c} 6@1800",
                ],
            ),
            (
                &[r#"{j=~".+"}"#, "b", "c"],
                &[
                    "- {j=3} 7@1500",
                    "a {__name__=a,j=10} 4@2000",
                    "a {__name__=a,j=2} 3@1999",
                    "b {__name__=b,j=1} 1@1500",
                    "c {A=x,__name__=c} 6@1800",
                ],
            ),
            (
                &[r#"{__name__=~".*"}"#],
                &[
                    "- {j=3} 7@1500",
                    "a {__name__=a,j=10} 4@2000",
                    "a {__name__=a,j=2} 3@1999",
                    "b {__name__=b,j=1} 1@1500",
                    "c {A=x,__name__=c} 6@1800",
                ],
            ),
            (&["stale", "old", "future"], &[]),
            (&["{}"], &[]),
            (&[], &[]),
        ];
        for (selectors, want) in cases {
            assert_eq!(selected(&head, selectors), *want, "{selectors:?}");
        }
    }

    #[test]
    fn strings_are_sorted_and_found() {
        let latest = head().select_latest(&[parse_selector("a", Compat::V3).unwrap()], 1000, 2000);
        let strings: Vec<&str> = latest.strings().collect();
        assert_eq!(strings, ["10", "2", "__name__", "a", "j"]);
        for (id, s) in strings.iter().enumerate() {
            assert_eq!(latest.id_of(s), Some(id as u32));
        }
        for absent in ["", "0", "b", "zz"] {
            assert_eq!(latest.id_of(absent), None, "{absent}");
        }
        assert_eq!(latest.len(), 2);
    }
}
