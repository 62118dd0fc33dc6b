//! The benches' data source: series sampled on one regular grid (`t = i × step`, `i` in
//! `0..samples`), answering `select` as the host's index does: the selector's metric found by
//! name, its series matched and copied out in label order, only the window's samples. The
//! time spent answering is kept apart (`spent`), as it stands for the host's side of `select`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use promql_rules::engine::{CompiledMatchers, Labels, MatchOp, Matcher, Series, Source};

/// A stored series: its labels (for matching), the same as sorted pairs (for answers), and
/// one value per grid point.
struct Stored {
    labels: Labels,
    pairs: Vec<(String, String)>,
    values: Vec<f64>,
}

/// A series to store: its labels (name included, any order) and one value per grid point.
pub type GridSeries = (Vec<(String, String)>, Vec<f64>);

pub struct GridStore {
    step_ms: i64,
    samples: i64,
    /// Series by metric name, each list in label order.
    by_name: HashMap<String, Vec<Stored>>,
    /// Time spent in `select` since it was last reset.
    pub spent: Duration,
}

impl GridStore {
    pub fn new(step_ms: i64, samples: usize, series: Vec<GridSeries>) -> Self {
        let mut stored: Vec<Stored> = series
            .into_iter()
            .map(|(mut pairs, values)| {
                assert_eq!(values.len(), samples, "one value per grid point");
                pairs.sort();
                let refs: Vec<(&str, String)> =
                    pairs.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
                Stored {
                    labels: Labels::from_pairs(&refs),
                    pairs,
                    values,
                }
            })
            .collect();
        stored.sort_by(|a, b| a.labels.cmp(&b.labels));
        let mut by_name: HashMap<String, Vec<Stored>> = HashMap::new();
        for s in stored {
            by_name
                .entry(s.labels.value("__name__").to_string())
                .or_default()
                .push(s);
        }
        GridStore {
            step_ms,
            samples: samples as i64,
            by_name,
            spent: Duration::ZERO,
        }
    }

    pub fn series(&self) -> usize {
        self.by_name.values().map(Vec::len).sum()
    }
}

impl Source for GridStore {
    fn select(
        &mut self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<Series>, String> {
        let began = Instant::now();
        let m = CompiledMatchers::new(matchers)?;
        let name = matchers
            .iter()
            .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
            .map(|m| m.value.as_str())
            .ok_or("the bench store needs a metric name")?;
        let step = self.step_ms;
        let first = ((start + step - 1) / step).clamp(0, self.samples) as usize;
        let last = (end / step + 1).clamp(0, self.samples) as usize;
        let out = self
            .by_name
            .get(name)
            .into_iter()
            .flatten()
            .filter(|s| m.matches(&s.labels))
            .map(|s| Series {
                labels: s.pairs.clone(),
                timestamps_ms: (first..last).map(|i| i as i64 * step).collect(),
                values: s.values[first..last].to_vec(),
            })
            .collect();
        self.spent += began.elapsed();
        Ok(out)
    }
}
