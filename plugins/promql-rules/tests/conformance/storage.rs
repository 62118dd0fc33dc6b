//! The test scripts' storage: loaded series in memory, selectable like the host's store.

use promql_rules::engine::{CompiledMatchers, Labels, Matcher, Series, Source};

#[derive(Default)]
pub struct Storage {
    series: Vec<(Labels, Vec<(i64, f64)>)>,
    /// Series holding native histograms, which this engine does not read.
    pub native: Vec<Labels>,
}

impl Storage {
    /// Appends samples; a series loaded again continues where it ended.
    pub fn load(&mut self, labels: Labels, samples: Vec<(i64, f64)>) -> Result<(), String> {
        match self.series.iter_mut().find(|(l, _)| *l == labels) {
            Some((_, existing)) => {
                for (t, v) in samples {
                    match existing.last() {
                        Some(&(last, _)) if t < last => {
                            return Err(format!("out of order sample for {labels}"))
                        }
                        Some(&(last, prev)) if t == last => {
                            if prev.to_bits() != v.to_bits() {
                                return Err(format!("duplicate sample for {labels}"));
                            }
                        }
                        _ => existing.push((t, v)),
                    }
                }
            }
            None => self.series.push((labels, samples)),
        }
        Ok(())
    }

    /// Whether any series matching `matchers` holds native histograms.
    pub fn selects_native(&self, matchers: &[Matcher]) -> bool {
        CompiledMatchers::new(matchers).is_ok_and(|m| self.native.iter().any(|l| m.matches(l)))
    }
}

impl Source for Storage {
    fn select(
        &mut self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<Series>, String> {
        let compiled = CompiledMatchers::new(matchers)?;
        Ok(self
            .series
            .iter()
            .filter(|(labels, _)| compiled.matches(labels))
            .filter_map(|(labels, samples)| {
                let in_range: Vec<&(i64, f64)> = samples
                    .iter()
                    .filter(|(t, _)| *t >= start && *t <= end)
                    .collect();
                (!in_range.is_empty()).then(|| Series {
                    labels: labels.to_pairs(),
                    timestamps_ms: in_range.iter().map(|(t, _)| *t).collect(),
                    values: in_range.iter().map(|(_, v)| *v).collect(),
                })
            })
            .collect())
    }
}
