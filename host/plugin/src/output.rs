//! Turning a plugin's raw answer into label sets the rest of the host can trust.
//!
//! The WIT contract lets a plugin return labels in any order and with empty values; the host
//! sorts them, drops the empty ones and refuses what cannot be a label set (an empty name, a
//! name twice). Any other UTF-8 name is a name, as in Prometheus 3; where a job keeps legacy
//! names (`--query.compat=2`, `metric_name_validation_scheme: legacy`), storing a series with
//! another fails its scrape, as the same name from an exposition would. Checks that depend only on counts run before anything is copied or sorted, so
//! an oversized answer costs as little as possible.

use wasmfed_model::{Label, Labels};

use super::error::{FailureKind, PluginError};

/// Checks one call's answer against its input count and label cap, and normalises each set.
pub(crate) fn accept(
    answer: Vec<Option<Vec<Label>>>,
    inputs: usize,
    max_labels: usize,
) -> Result<Vec<Option<Labels>>, PluginError> {
    if answer.len() != inputs {
        return Err(PluginError::call(
            FailureKind::BadOutput,
            format!("returned {} entries for {inputs} inputs", answer.len()),
        ));
    }
    let total: usize = answer.iter().flatten().map(Vec::len).sum();
    if total > max_labels {
        return Err(PluginError::call(
            FailureKind::OutputTooLarge,
            format!("returned {total} labels, more than the limit of {max_labels}"),
        ));
    }
    answer
        .into_iter()
        .enumerate()
        .map(|(i, set)| set.map(|labels| normalise(labels, i)).transpose())
        .collect()
}

/// Sorts one returned set, drops empty values, refuses invalid or repeated names.
pub(crate) fn normalise(mut labels: Vec<Label>, index: usize) -> Result<Labels, PluginError> {
    let bad =
        |why: String| PluginError::call(FailureKind::BadOutput, format!("entry {index}: {why}"));
    if let Some(l) = labels.iter().find(|l| l.name.is_empty()) {
        return Err(bad(format!("invalid label name {:?}", l.name)));
    }
    labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = labels.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(bad(format!("label {:?} appears twice", w[0].name)));
    }
    labels.retain(|l| !l.value.is_empty());
    Ok(Labels::from_sorted(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Vec<Label> {
        pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()
    }

    /// A returned set, and the expected set or the failure message's tail.
    type Case = (
        &'static [(&'static str, &'static str)],
        Result<&'static str, &'static str>,
    );

    #[test]
    fn normalisation_table() {
        let cases: [Case; 6] = [
            (&[("b", "2"), ("a", "1")], Ok(r#"{a="1", b="2"}"#)),
            (&[("a", ""), ("b", "x")], Ok(r#"{b="x"}"#)),
            (&[("a", "")], Ok("{}")),
            (&[("a.b", "x")], Ok(r#"{a.b="x"}"#)),
            (&[("", "x")], Err(r#"invalid label name """#)),
            (
                &[("a", "1"), ("b", ""), ("a", "")],
                Err(r#"label "a" appears twice"#),
            ),
        ];
        for (returned, want) in cases {
            let got = accept(vec![Some(set(returned))], 1, 100);
            match (got, want) {
                (Ok(sets), Ok(text)) => {
                    assert_eq!(sets[0].as_ref().unwrap().to_string(), text, "{returned:?}")
                }
                (Err(e), Err(tail)) => {
                    assert_eq!(e.kind(), Some(FailureKind::BadOutput));
                    assert!(e.to_string().ends_with(tail), "{e} for {returned:?}");
                }
                (got, want) => panic!("{returned:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn counts_are_checked_first() {
        let answer = || vec![Some(set(&[("a", "1"), ("b", "2")])), None];
        for (inputs, max, want) in [
            (2, 2, None),
            (3, 2, Some(FailureKind::BadOutput)),
            (1, 2, Some(FailureKind::BadOutput)),
            (2, 1, Some(FailureKind::OutputTooLarge)),
        ] {
            let got = accept(answer(), inputs, max);
            assert_eq!(
                got.as_ref().err().and_then(PluginError::kind),
                want,
                "{inputs} {max}"
            );
            if let Ok(sets) = got {
                assert!(sets[1].is_none());
            }
        }
    }
}
