//! Parsing of PromQL series selectors such as `/federate`'s `match[]` values.
//!
//! Mirrors Prometheus' `parser.ParseMetricSelector`: the input must be a plain vector selector
//! (`name`, `name{…}` or `{…}`), so functions, range selectors, `offset`, `@`, parentheses and
//! arithmetic are errors. Parsing itself is delegated to `promql-parser`; this module only
//! checks the shape of the result and converts its matchers into ours, which compile regexes
//! with Prometheus' anchoring. A selector whose matchers all match the empty string would select
//! every series, so it is refused as Prometheus' query API refuses it. The `or` form inside
//! braces, which Prometheus 2.x does not have, is refused too.

use promql_parser::label::{MatchOp as ParsedOp, Matcher as ParsedMatcher};
use promql_parser::parser::{self, Expr};

use super::matcher::{MatchOp, Matcher};
use wasmfed_model::labels::METRIC_NAME;

#[derive(Debug, thiserror::Error)]
pub enum SelectorError {
    /// The PromQL parser's own message, which carries position information when it has some.
    #[error("parse error: {0}")]
    Parse(String),
    #[error("expected a series selector, got {0}")]
    NotASelector(&'static str),
    #[error("{0} is not allowed in a series selector")]
    Modifier(&'static str),
    #[error("'or' between label matchers is not supported")]
    OrMatchers,
    #[error("invalid regular expression in {matcher}: {source}")]
    Regex {
        matcher: String,
        source: regex::Error,
    },
}

/// A matcher injected so that `promql-parser` accepts selectors whose matchers all match the
/// empty string; it never reaches the caller.
const PLACEHOLDER: &str = "__wasmfed_selector_placeholder__";

/// Parses a series selector into the matchers it ANDs together.
///
/// Like Prometheus' `ParseMetricSelector` (which skips the expression type checks), a selector
/// whose matchers all match the empty string is accepted: `{}` selects nothing and `{a=""}`
/// selects every series without `a`, exactly what Prometheus' `/federate` answers to them.
/// `promql-parser` applies the query-time check, so such selectors are parsed with a
/// placeholder matcher added, which is removed again.
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, SelectorError> {
    match parse_checked(input) {
        Err(SelectorError::Parse(_)) if input.trim_start().starts_with('{') => {
            let brace = input.find('{').expect("starts with a brace");
            let padded = format!(
                "{}{{{PLACEHOLDER}=\"x\",{}",
                &input[..brace],
                &input[brace + 1..]
            );
            match parse_checked(&padded) {
                Ok(mut matchers) => {
                    matchers.retain(|m| m.name != PLACEHOLDER);
                    Ok(matchers)
                }
                // The placeholder did not help: report the original problem.
                Err(_) => parse_checked(input),
            }
        }
        other => other,
    }
}

fn parse_checked(input: &str) -> Result<Vec<Matcher>, SelectorError> {
    let selector = match parser::parse(input).map_err(SelectorError::Parse)? {
        Expr::VectorSelector(vs) => vs,
        other => return Err(SelectorError::NotASelector(kind(&other))),
    };
    if selector.offset.is_some() {
        return Err(SelectorError::Modifier("offset"));
    }
    if selector.at.is_some() {
        return Err(SelectorError::Modifier("@"));
    }
    if !selector.matchers.or_matchers.is_empty() {
        return Err(SelectorError::OrMatchers);
    }
    let mut matchers = selector
        .matchers
        .matchers
        .iter()
        .map(convert)
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(name) = selector.name {
        // Prometheus appends the metric-name matcher after the braces' matchers.
        matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name).expect("no regex"));
    }
    Ok(matchers)
}

fn convert(m: &ParsedMatcher) -> Result<Matcher, SelectorError> {
    let op = match m.op {
        ParsedOp::Equal => MatchOp::Equal,
        ParsedOp::NotEqual => MatchOp::NotEqual,
        ParsedOp::Re(_) => MatchOp::Regex,
        ParsedOp::NotRe(_) => MatchOp::NotRegex,
    };
    Matcher::new(op, m.name.as_str(), m.value.as_str()).map_err(|source| SelectorError::Regex {
        matcher: m.to_string(),
        source,
    })
}

fn kind(expr: &Expr) -> &'static str {
    match expr {
        Expr::Aggregate(_) => "an aggregation",
        Expr::Unary(_) => "a unary expression",
        Expr::Binary(_) => "a binary expression",
        Expr::Paren(_) => "a parenthesized expression",
        Expr::Subquery(_) => "a subquery",
        Expr::NumberLiteral(_) => "a number",
        Expr::StringLiteral(_) => "a string",
        Expr::VectorSelector(_) => "a vector selector",
        Expr::MatrixSelector(_) => "a range selector",
        Expr::Call(_) => "a function call",
        Expr::Extension(_) => "an extension expression",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(ms: &[Matcher]) -> String {
        ms.iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn valid_selectors() {
        for (input, want) in [
            ("up", r#"__name__="up""#),
            ("  up  ", r#"__name__="up""#),
            (r#"{__name__=~"job:.*"}"#, r#"__name__=~"job:.*""#),
            (r#"foo{a="b",c!~"x|y"}"#, r#"a="b",c!~"x|y",__name__="foo""#),
            (r#"foo{a="b",}"#, r#"a="b",__name__="foo""#),
            (r#"{a!="",b=""}"#, r#"a!="",b="""#),
            (r#"{a=~".+"}"#, r#"a=~".+""#),
            (r#"foo{a="\"q\"\n"}"#, r#"a="\"q\"\n",__name__="foo""#),
            (r#"{a='single'}"#, r#"a="single""#),
            ("job:up:sum", r#"__name__="job:up:sum""#),
            (
                r#"{__name__="up", job=~"a{b}"}"#,
                r#"__name__="up",job=~"a{b}""#,
            ),
            (r#"foo{a=""}"#, r#"a="",__name__="foo""#),
            // Accepted as by Prometheus' ParseMetricSelector (see parse_selector).
            ("{}", ""),
            (" { } ", ""),
            (r#"{a=""}"#, r#"a="""#),
            (r#"{a=~".*"}"#, r#"a=~".*""#),
            (r#"{a!~".+",}"#, r#"a!~".+""#),
        ] {
            let got = parse_selector(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(show(&got), want, "{input}");
        }
    }

    #[test]
    fn regexes_are_compiled_with_prometheus_anchoring() {
        let ms = parse_selector(r#"{__name__=~"job:.*|x"}"#).expect("valid");
        assert!(ms[0].matches("job:a"));
        assert!(!ms[0].matches("a_job:a"), "anchored at the start");
        assert!(
            !ms[0].matches("xx"),
            "anchored at the end, around the alternation"
        );
    }

    #[test]
    fn invalid_selectors() {
        for (input, reason) in [
            ("", "parse error"),
            ("rate(x[5m])", "function call"),
            ("x[5m]", "range selector"),
            ("1+1", "binary expression"),
            ("x + y", "binary expression"),
            ("sum(x)", "aggregation"),
            ("(x)", "parenthesized"),
            ("-x", "unary"),
            ("1", "number"),
            (r#""x""#, "string"),
            ("x offset 5m", "offset"),
            ("x @ 100", "@"),
            ("{", "parse error"),
            (r#"{a=""} offset 5m"#, "parse error"),
            (r#"{a="b" or c="d"}"#, "'or'"),
            (r#"{a=~"("}"#, "parse error"),
            (
                r#"foo{__name__="bar"}"#,
                "metric name must not be set twice",
            ),
            ("foo{", "parse error"),
            (r#"foo{a="b""#, "parse error"),
            (r#"foo{a~"b"}"#, "parse error"),
            ("foo bar", "parse error"),
            ("foo}", "parse error"),
        ] {
            match parse_selector(input) {
                Ok(ms) => panic!("{input:?} parsed as {}", show(&ms)),
                Err(e) => assert!(
                    e.to_string().contains(reason),
                    "{input:?}: {e} (want {reason:?})"
                ),
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Whatever a `match[]` holds, it parses or is refused; it never panics.
        #[test]
        fn any_selector_text_parses_or_is_refused(
            text in "[a-z_:{}\\[\\]()=~!\"'`,.*+?|^$\\\\ 0-9@-]{0,60}"
        ) {
            let _ = parse_selector(&text);
        }
    }
}
