//! The store as the rules of one evaluation see it: the host's series plus what earlier rules
//! of the same evaluation recorded.
//!
//! Prometheus commits each rule's results (and stale markers for series the rule stopped
//! producing) before evaluating the next rule, so `job:x:rate5m` recorded first is visible to
//! `job:x:rate5m:sum` below it at the same timestamp. The host writes a plugin's results only
//! after `evaluate` returns, so this overlay merges them into every `select` meanwhile.
//! Results are indexed by metric name: a selector with `__name__="…"` (nearly all) only looks
//! at that metric's results.

use crate::engine::{
    CompiledMatchers, FastMap, Labels, MatchOp, Matcher, Series, Source, METRIC_NAME,
    STALE_NAN_BITS,
};

struct Written {
    labels: Labels,
    t: i64,
    v: f64,
}

pub(crate) struct Overlay<'s> {
    inner: &'s mut dyn Source,
    by_name: FastMap<String, Vec<Written>>,
}

impl<'s> Overlay<'s> {
    pub fn new(inner: &'s mut dyn Source) -> Overlay<'s> {
        Overlay {
            inner,
            by_name: FastMap::default(),
        }
    }

    pub fn write(&mut self, labels: &Labels, t: i64, v: f64) {
        self.by_name
            .entry(labels.value(METRIC_NAME).to_string())
            .or_default()
            .push(Written {
                labels: labels.clone(),
                t,
                v,
            });
    }

    pub fn write_stale(&mut self, labels: &Labels, t: i64) {
        self.write(labels, t, f64::from_bits(STALE_NAN_BITS));
    }

    fn matching(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<&Written>, String> {
        let name = matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal)
            .map(|m| m.value.as_str());
        let candidates: Vec<&Written> = match name {
            Some(n) => self
                .by_name
                .get(n)
                .map(|w| w.iter().collect())
                .unwrap_or_default(),
            None => self.by_name.values().flatten().collect(),
        };
        if candidates.is_empty() {
            return Ok(candidates);
        }
        let compiled = CompiledMatchers::new(matchers)?;
        Ok(candidates
            .into_iter()
            .filter(|w| w.t >= start && w.t <= end && compiled.matches(&w.labels))
            .collect())
    }
}

impl Source for Overlay<'_> {
    fn select(
        &mut self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Series>, String> {
        let mut series = self.inner.select(matchers, start_ms, end_ms)?;
        let extra = self.matching(matchers, start_ms, end_ms)?;
        if extra.is_empty() {
            return Ok(series);
        }
        let mut index: FastMap<Labels, usize> = series
            .iter()
            .enumerate()
            .map(|(i, s)| (Labels::from_pairs(&s.labels), i))
            .collect();
        for w in extra {
            let i = *index.entry(w.labels.clone()).or_insert_with(|| {
                series.push(Series {
                    labels: w.labels.to_pairs(),
                    ..Series::default()
                });
                series.len() - 1
            });
            let s = &mut series[i];
            let at = s.timestamps_ms.partition_point(|&t| t < w.t);
            if s.timestamps_ms.get(at) == Some(&w.t) {
                s.values[at] = w.v;
            } else {
                s.timestamps_ms.insert(at, w.t);
                s.values.insert(at, w.v);
            }
        }
        Ok(series)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<Series>);

    impl Source for Fixed {
        fn select(&mut self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<Series>, String> {
            Ok(self.0.clone())
        }
    }

    fn name_is(n: &str) -> Vec<Matcher> {
        vec![Matcher {
            name: METRIC_NAME.into(),
            op: MatchOp::Equal,
            value: n.into(),
        }]
    }

    #[test]
    fn recorded_samples_join_or_extend_host_series() {
        let mut host = Fixed(vec![Series {
            labels: vec![("job".into(), "a".into()), ("__name__".into(), "r".into())],
            timestamps_ms: vec![0, 60_000],
            values: vec![1.0, 2.0],
        }]);
        let mut overlay = Overlay::new(&mut host);
        let a = Labels::from_pairs(&[("__name__", "r"), ("job", "a")]);
        let b = Labels::from_pairs(&[("__name__", "r"), ("job", "b")]);
        overlay.write(&a, 120_000, 3.0);
        overlay.write_stale(&b, 120_000);
        overlay.write(&Labels::from_pairs(&[("__name__", "other")]), 120_000, 9.0);
        let got = overlay.select(&name_is("r"), 0, 120_000).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].timestamps_ms, [0, 60_000, 120_000]);
        assert_eq!(got[0].values, [1.0, 2.0, 3.0]);
        assert_eq!(got[1].values[0].to_bits(), STALE_NAN_BITS);
        // Outside the asked range, nothing is added.
        assert_eq!(
            overlay.select(&name_is("r"), 0, 60_000).unwrap()[0].values,
            [1.0, 2.0]
        );
    }
}
