//! The `store` import of rule and query plugins: read access to stored series, behind a trait
//! so the plugin runtime does not depend on how (or whose) series are stored.
//!
//! The node gives each rule or query plugin a [`SeriesStore`] when it loads it; a tenant's
//! plugin gets a view of that tenant's series only, so the filtering happens before anything
//! crosses into the guest. Matchers arrive from `bindings` and are compiled here; a selector
//! that would match every series (no matcher rejecting the empty string) is refused as
//! Prometheus refuses it. An answer that could not fit in the plugin's memory is refused with
//! its size before it is built, instead of trapping the guest halfway through copying it in.

use std::sync::Arc;

use wasmfed_model::Labels;
use wasmfed_storage::{MatchOp, Matcher};

use super::sandbox::HostState;

/// One series and its samples in the asked range, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectedSeries {
    pub labels: Labels,
    pub timestamps_ms: Vec<i64>,
    pub values: Vec<f64>,
}

impl SelectedSeries {
    /// What the series takes in the guest's memory once copied in, roughly.
    fn guest_bytes(&self) -> usize {
        labels_bytes(&self.labels) + self.timestamps_ms.len() * 16
    }
}

fn labels_bytes(labels: &Labels) -> usize {
    labels
        .iter()
        .map(|l| l.name.len() + l.value.len() + 16)
        .sum()
}

/// Series a plugin may read.
pub trait SeriesStore: Send + Sync {
    /// Series matching all `matchers`, with their samples in `[start_ms, end_ms]`; series
    /// without samples there are left out. Stops with an error once the answer would exceed
    /// `max_bytes` (see [`SelectedSeries`]'s size estimate).
    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        max_bytes: usize,
    ) -> Result<Vec<SelectedSeries>, String>;

    /// Label sets of the series matching all `matchers` with a sample in `[start_ms, end_ms]`.
    fn series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        max_bytes: usize,
    ) -> Result<Vec<Labels>, String>;
}

/// Running total of an answer's size, failing once it passes the plugin's memory.
pub struct AnswerBudget {
    left: usize,
    max: usize,
}

impl AnswerBudget {
    pub fn new(max_bytes: usize) -> Self {
        AnswerBudget {
            left: max_bytes,
            max: max_bytes,
        }
    }

    /// Counts one more series of `bytes`.
    pub fn take(&mut self, bytes: usize) -> Result<(), String> {
        self.left = self.left.checked_sub(bytes).ok_or_else(|| {
            format!(
                "the answer would take more than the plugin's {} MiB of memory; select fewer series or a shorter range",
                self.max >> 20
            )
        })?;
        Ok(())
    }

    pub fn take_series(&mut self, series: &SelectedSeries) -> Result<(), String> {
        self.take(series.guest_bytes())
    }

    pub fn take_labels(&mut self, labels: &Labels) -> Result<(), String> {
        self.take(labels_bytes(labels))
    }
}

/// The store and budget a plugin instance reads through.
#[derive(Clone)]
pub(crate) struct StoreAccess {
    pub(crate) store: Arc<dyn SeriesStore>,
    pub(crate) max_bytes: usize,
}

/// Compiles a plugin's matchers, refusing a selector that matches everything.
pub(crate) fn compile(
    matchers: impl IntoIterator<Item = (MatchOp, String, String)>,
) -> Result<Vec<Matcher>, String> {
    let matchers = matchers
        .into_iter()
        .map(|(op, name, value)| {
            Matcher::new(op, name, value).map_err(|e| format!("invalid regular expression: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if matchers.iter().all(Matcher::matches_empty) {
        return Err("vector selector must contain at least one non-empty matcher".into());
    }
    Ok(matchers)
}

impl HostState {
    pub(crate) fn store_access(&self) -> Result<&StoreAccess, String> {
        self.store
            .as_ref()
            .ok_or_else(|| "this plugin was given no store".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matcher as `bindings` hands it over.
    type Part = (MatchOp, String, String);

    fn matcher(name: &str, op: MatchOp, value: &str) -> Part {
        (op, name.into(), value.into())
    }

    #[test]
    fn selectors_matching_everything_or_with_bad_regexes_are_refused() {
        use MatchOp::*;
        let cases: [(Vec<Part>, Option<&str>); 5] = [
            (vec![matcher("__name__", Equal, "up")], None),
            (vec![matcher("job", Regex, ".+")], None),
            (vec![], Some("at least one non-empty matcher")),
            (
                vec![matcher("job", Regex, ".*"), matcher("x", Equal, "")],
                Some("at least one non-empty matcher"),
            ),
            (
                vec![matcher("job", Regex, "(")],
                Some("invalid regular expression"),
            ),
        ];
        for (matchers, want) in cases {
            let shown = format!("{matchers:?}");
            match (compile(matchers), want) {
                (Ok(_), None) => {}
                (Err(e), Some(want)) => assert!(e.contains(want), "{shown}: {e}"),
                (got, want) => panic!("{shown}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_budget_fails_once_passed() {
        let mut budget = AnswerBudget::new(99);
        let small = SelectedSeries {
            labels: Labels::from_pairs([("a", "b")]),
            timestamps_ms: vec![1, 2],
            values: vec![1.0, 2.0],
        };
        assert_eq!(small.guest_bytes(), 18 + 32);
        budget.take_series(&small).unwrap();
        budget.take_series(&small).unwrap_err();
    }
}
