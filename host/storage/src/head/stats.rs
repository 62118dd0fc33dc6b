//! The head's statistics for `/api/v1/status/tsdb`: series, label pairs and chunks, the time
//! range, and the ten largest of each of Prometheus' four cardinality lists, computed as its
//! `MemPostings.Stats` does (a label name's "memory" is the length of its distinct values,
//! summed). It walks the whole index, so it is for an operator's occasional look.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Head;

/// How many entries each list keeps, as Prometheus.
const TOP: usize = 10;

/// A name and a count, largest first in each list.
pub type Stat = (String, u64);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeadStats {
    pub num_series: usize,
    pub num_label_pairs: usize,
    pub chunk_count: usize,
    /// The oldest and newest sample, if any.
    pub time_range: Option<(i64, i64)>,
    pub series_count_by_metric_name: Vec<Stat>,
    pub label_value_count_by_label_name: Vec<Stat>,
    pub memory_in_bytes_by_label_name: Vec<Stat>,
    pub series_count_by_label_value_pair: Vec<Stat>,
}

/// The `TOP` largest counts pushed into it.
#[derive(Default)]
struct Largest(BinaryHeap<Reverse<(u64, String)>>);

impl Largest {
    fn push(&mut self, name: impl FnOnce() -> String, count: u64) {
        if self.0.len() == TOP && self.0.peek().is_some_and(|Reverse((c, _))| *c >= count) {
            return;
        }
        self.0.push(Reverse((count, name())));
        if self.0.len() > TOP {
            self.0.pop();
        }
    }

    /// Largest first; equal counts by name.
    fn into_sorted(self) -> Vec<Stat> {
        let mut v: Vec<Stat> = self.0.into_iter().map(|Reverse((c, n))| (n, c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

impl Head {
    /// See the module documentation.
    pub fn stats(&self) -> HeadStats {
        let (mut metrics, mut names, mut memory, mut pairs) = Default::default();
        let (mut num_label_pairs, num_series);
        {
            let catalog = self.catalog.read();
            num_series = catalog.len;
            num_label_pairs = 0;
            let resolve = |s| catalog.symbols.resolve(s);
            catalog.postings.for_each_name(|name, values| {
                let name = resolve(name);
                let count = values.len() as u64;
                num_label_pairs += values.len();
                push(&mut names, name, count);
                let mut bytes = 0;
                for (value, refs) in values {
                    let value = resolve(*value);
                    bytes += value.len() as u64;
                    if name == "__name__" {
                        push(&mut metrics, value, refs.len() as u64);
                    }
                    pairs_push(&mut pairs, name, value, refs.len() as u64);
                }
                push(&mut memory, name, bytes);
            });
        }
        let chunk_count = self
            .shards
            .iter()
            .map(|shard| {
                shard
                    .read()
                    .values()
                    .map(|s| s.samples.lock().chunk_count())
                    .sum::<usize>()
            })
            .sum();
        HeadStats {
            num_series,
            num_label_pairs,
            chunk_count,
            time_range: self.time_range(),
            series_count_by_metric_name: metrics.into_sorted(),
            label_value_count_by_label_name: names.into_sorted(),
            memory_in_bytes_by_label_name: memory.into_sorted(),
            series_count_by_label_value_pair: pairs.into_sorted(),
        }
    }
}

fn push(list: &mut Largest, name: &str, count: u64) {
    list.push(|| name.to_owned(), count);
}

fn pairs_push(list: &mut Largest, name: &str, value: &str, count: u64) {
    list.push(|| format!("{name}={value}"), count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_the_index_as_prometheus_does() {
        let head = Head::with_series(&[
            (&[("__name__", "up"), ("job", "a")], &[(1_000, 1.0)]),
            (&[("__name__", "up"), ("job", "bb")], &[(9_000, 1.0)]),
            (
                &[("__name__", "x"), ("job", "a")],
                &[(5_000, 1.0), (6_000, 2.0)],
            ),
        ]);
        let s = head.stats();
        assert_eq!(s.num_series, 3);
        assert_eq!(s.num_label_pairs, 4, "__name__=up|x, job=a|bb");
        assert_eq!(s.chunk_count, 3);
        assert_eq!(s.time_range, Some((1_000, 9_000)));
        let owned = |v: &[(&str, u64)]| -> Vec<Stat> {
            v.iter().map(|(n, c)| (n.to_string(), *c)).collect()
        };
        assert_eq!(s.series_count_by_metric_name, owned(&[("up", 2), ("x", 1)]));
        assert_eq!(
            s.label_value_count_by_label_name,
            owned(&[("__name__", 2), ("job", 2)])
        );
        assert_eq!(
            s.memory_in_bytes_by_label_name,
            owned(&[("__name__", 3), ("job", 3)])
        );
        assert_eq!(
            s.series_count_by_label_value_pair,
            owned(&[
                ("__name__=up", 2),
                ("job=a", 2),
                ("__name__=x", 1),
                ("job=bb", 1)
            ])
        );
    }

    #[test]
    fn only_the_ten_largest_are_kept() {
        let mut list = Largest::default();
        for i in 0..30u64 {
            list.push(|| format!("n{i:02}"), i % 15);
        }
        let kept = list.into_sorted();
        assert_eq!(kept.len(), TOP);
        assert_eq!(kept[0], ("n14".to_string(), 14));
        assert!(kept.iter().all(|(_, c)| *c >= 9), "{kept:?}");
    }
}
