//! Where the evaluator reads series from.
//!
//! The shape mirrors the `store.select` host import (matchers plus a time range in, whole
//! series with columnar samples out) so that the component glue is a plain conversion, and so
//! that one call per selector fetches everything a query needs: a component call costs far more
//! than a native one.

use promregex::Pattern;

use super::labels::Labels;

pub use promql_text::MatchOp;

/// One PromQL label matcher; a label a series lacks matches as the empty string. A regex is
/// in Go's syntax, as Prometheus reads it (the host's store compiles it with promregex too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

/// One series with its samples in the asked range, oldest first, stale markers included.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Name/value pairs in any order.
    pub labels: Vec<(String, String)>,
    pub timestamps_ms: Vec<i64>,
    pub values: Vec<f64>,
}

/// Read access to stored series.
pub trait Source {
    /// Series matching all `matchers`, with their samples in `[start_ms, end_ms]`.
    fn select(
        &mut self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Series>, String>;
}

/// Matchers compiled for matching label sets held by the plugin itself (the rule layer's
/// results of the current evaluation, test data).
pub struct CompiledMatchers(Vec<(Matcher, Option<Pattern>)>);

impl CompiledMatchers {
    /// Compiles regexes as the store does ([`Pattern`]: Prometheus 3's reading, anchored, `.`
    /// matching newlines); a refusal reads as Go's.
    pub fn new(matchers: &[Matcher]) -> Result<CompiledMatchers, String> {
        let compiled = matchers
            .iter()
            .map(|m| {
                let regex = match m.op {
                    MatchOp::Regex | MatchOp::NotRegex => {
                        Some(Pattern::new(&m.value).map_err(|e| e.to_string())?)
                    }
                    MatchOp::Equal | MatchOp::NotEqual => None,
                };
                Ok((m.clone(), regex))
            })
            .collect::<Result<_, String>>()?;
        Ok(CompiledMatchers(compiled))
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.0.iter().all(|(m, regex)| {
            let value = labels.value(&m.name);
            match (m.op, regex) {
                (MatchOp::Equal, _) => value == m.value,
                (MatchOp::NotEqual, _) => value != m.value,
                (MatchOp::Regex, Some(re)) => re.is_match(value),
                (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
                (_, None) => false,
            }
        })
    }
}

/// A test store's answer: the series among `stored` matching `m`, with their samples in
/// `[start, end]`, as the host's store answers.
#[cfg(test)]
pub(crate) fn select_stored(
    stored: &[(Labels, Vec<(i64, f64)>)],
    m: &[Matcher],
    start: i64,
    end: i64,
) -> Result<Vec<Series>, String> {
    let m = CompiledMatchers::new(m)?;
    Ok(stored
        .iter()
        .filter(|(l, _)| m.matches(l))
        .map(|(l, samples)| {
            let s: Vec<_> = samples
                .iter()
                .filter(|(t, _)| *t >= start && *t <= end)
                .collect();
            Series {
                labels: l.to_pairs(),
                timestamps_ms: s.iter().map(|(t, _)| *t).collect(),
                values: s.iter().map(|(_, v)| *v).collect(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
        Matcher {
            name: name.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn matching_is_anchored_in_go_syntax_and_treats_missing_as_empty() {
        let series = Labels::from_pairs(&[
            ("__name__", "up"),
            ("job", "node\nx"),
            ("nbsp", "\u{a0}"),
            ("digits", "١٢٣"),
            ("dotted", "a.b"),
        ]);
        let cases = [
            (vec![m("__name__", MatchOp::Equal, "up")], true),
            (vec![m("__name__", MatchOp::Regex, "u")], false),
            (vec![m("job", MatchOp::Regex, "node.x")], true),
            // What the engine sends in 2.x mode.
            (vec![m("job", MatchOp::Regex, "(?-s:node.x)")], false),
            (vec![m("nbsp", MatchOp::Regex, r"\s")], false),
            (vec![m("nbsp", MatchOp::Regex, r"\S")], true),
            (vec![m("digits", MatchOp::Regex, r"\d+")], false),
            (vec![m("digits", MatchOp::Regex, r"\pN+")], true),
            (vec![m("dotted", MatchOp::Regex, r"\Qa.b\E")], true),
            (vec![m("dotted", MatchOp::Regex, r"a{b}|a.b")], true),
            (vec![m("missing", MatchOp::Equal, "")], true),
            (vec![m("missing", MatchOp::NotRegex, ".+")], true),
            (vec![m("job", MatchOp::NotEqual, "node\nx")], false),
            (
                vec![
                    m("__name__", MatchOp::Equal, "up"),
                    m("job", MatchOp::Equal, "x"),
                ],
                false,
            ),
        ];
        for (matchers, want) in cases {
            let compiled = CompiledMatchers::new(&matchers).unwrap();
            assert_eq!(compiled.matches(&series), want, "{matchers:?}");
        }
    }

    #[test]
    fn bad_regex_is_refused_as_go_refuses_it() {
        for (regex, want) in [
            ("(", "error parsing regexp: missing closing ): `^(?s:()$`"),
            (
                "a{1001}",
                "error parsing regexp: invalid repeat count: `{1001}`",
            ),
            (
                r"\u00fc",
                r"error parsing regexp: invalid escape sequence: `\u`",
            ),
        ] {
            let err = CompiledMatchers::new(&[m("a", MatchOp::NotRegex, regex)]).err();
            assert_eq!(err.as_deref(), Some(want), "{regex}");
        }
    }
}
