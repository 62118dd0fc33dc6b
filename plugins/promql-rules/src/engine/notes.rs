//! Collects a query's warnings and infos the way Prometheus' `annotations` package does: one
//! entry per distinct message, and the forced-monotonicity info of `histogram_quantile`
//! summarised over every step and series it was raised for.

use std::collections::HashMap;

use promql_parser::parser::Expr;

use super::format::{go_format_g, go_format_g_prec, go_quote};
use super::time::rfc3339;
use super::value::{Annotation, Severity};

#[derive(Default)]
pub(crate) struct Notes {
    list: Vec<Annotation>,
    by_message: HashMap<String, usize>,
    monotonicity: Vec<Monotonicity>,
}

/// `histogramQuantileForcedMonotonicityErr`, merged across occurrences.
struct Monotonicity {
    base: String,
    about: String,
    min_ts: i64,
    max_ts: i64,
    min_bucket: f64,
    max_bucket: f64,
    max_diff: f64,
    count: usize,
}

impl Notes {
    pub fn warn(&mut self, message: String, about: &Expr) {
        self.add(Severity::Warning, message, about);
    }

    pub fn info(&mut self, message: String, about: &Expr) {
        self.add(Severity::Info, message, about);
    }

    fn add(&mut self, severity: Severity, message: String, about: &Expr) {
        let annotation = Annotation {
            severity,
            message: message.clone(),
            about: about.to_string(),
        };
        match self.by_message.get(&message) {
            Some(&i) => self.list[i] = annotation,
            None => {
                self.by_message.insert(message, self.list.len());
                self.list.push(annotation);
            }
        }
    }

    /// `NewHistogramQuantileForcedMonotonicityInfo`, merged with earlier ones for the same
    /// metric.
    pub fn forced_monotonicity(
        &mut self,
        metric_name: &str,
        about: &Expr,
        ts: i64,
        (min_bucket, max_bucket, max_diff): (f64, f64, f64),
    ) {
        let mut base = "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
        if !metric_name.is_empty() {
            base.push_str(&format!(" for metric name {}", go_quote(metric_name)));
        }
        if let Some(m) = self.monotonicity.iter_mut().find(|m| m.base == base) {
            m.min_ts = m.min_ts.min(ts);
            m.max_ts = m.max_ts.max(ts);
            m.min_bucket = m.min_bucket.min(min_bucket);
            m.max_bucket = m.max_bucket.max(max_bucket);
            m.max_diff = m.max_diff.max(max_diff);
            m.count += 1;
            return;
        }
        self.monotonicity.push(Monotonicity {
            base,
            about: about.to_string(),
            min_ts: ts,
            max_ts: ts,
            min_bucket,
            max_bucket,
            max_diff,
            count: 1,
        });
    }

    pub fn finish(self) -> Vec<Annotation> {
        let mut list = self.list;
        list.extend(self.monotonicity.into_iter().map(|m| Annotation {
            severity: Severity::Info,
            message: format!(
                "{}, from buckets {} to {}, with a max diff of {}, over {} samples from {} to {}",
                m.base,
                go_format_g(m.min_bucket),
                go_format_g(m.max_bucket),
                go_format_g_prec(m.max_diff, 2),
                m.count,
                rfc3339(m.min_ts),
                rfc3339(m.max_ts)
            ),
            about: m.about,
        }));
        list
    }
}
