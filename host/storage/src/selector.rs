//! Parsing of PromQL series selectors such as `/federate`'s `match[]` values.
//!
//! Mirrors Prometheus' `parser.ParseMetricSelector`: the input must be a plain vector selector
//! (`name`, `name{…}` or `{…}`), so functions, range selectors, `offset`, `@`, parentheses and
//! arithmetic are errors. Parsing itself is delegated to `promql-parser`; this module only
//! checks the shape of the result and converts its matchers into ours, which compile regexes
//! in Prometheus' dialect and anchoring (see `matcher`). The `or` form inside braces, which
//! Prometheus 2.x does not have, is refused; quoted names (`{"up"}`) are read only as
//! Prometheus 3 (`--query.compat=3`), 2.42 refuses them.
//!
//! promql-parser compiles regex matchers with the regex crate's syntax while it parses, so a
//! regex Go reads but the regex crate does not (`\Q…\E`) would fail and one Go refuses
//! (`a{1001}`) would pass. So a scan of the text ([`regex_values`]) finds each regex value
//! first: it is checked as Prometheus checks it and handed to the parser translated; the
//! matchers then compile the value as written.

use promql_parser::label::{MatchOp as ParsedOp, Matcher as ParsedMatcher};
use promql_parser::parser::{self, Expr};
use promql_parser::util::unquote_string;
use promql_text::{double_quoted, follows_regex_operator, Kind};
use promregex::Release;

use super::matcher::{MatchOp, Matcher};
use wasmfed_model::compat::Compat;
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
    /// A refusal of ours with the position Prometheus gives it: a regex (Go's message, at the
    /// matcher's label) or a quoted name 2.42 does not read.
    #[error("{line}:{column}: parse error: {reason}")]
    At {
        line: usize,
        column: usize,
        reason: String,
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
pub fn parse_selector(input: &str, compat: Compat) -> Result<Vec<Matcher>, SelectorError> {
    let release = compat.regex_release();
    let (input, regexes) = &regex_values(input, release)?;
    let parse_checked = |input: &str| parse_checked(input, regexes, release);
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

/// The text with each regex value replaced by its translation into the regex crate's syntax
/// and each raw (backtick) string by the double-quoted string of the same value (promql-parser
/// would unescape it), and the regex values as written, in text order. Refuses a quoted name
/// unless `release` reads them. The scan is the rule plugin's ([`promql_text::lexer`]).
fn regex_values(input: &str, release: Release) -> Result<(String, Vec<String>), SelectorError> {
    let tokens = promql_text::tokens(input);
    let mut out = String::with_capacity(input.len());
    let mut written = Vec::new();
    // Where the current token starts, the label before the last `=~`/`!~`, brace depth.
    let mut at = 0;
    let mut label_start = 0;
    let mut braces = 0usize;
    let mut prev: Option<(usize, &str)> = None;
    for (i, token) in tokens.iter().enumerate() {
        let start = at;
        at += token.text.len();
        if !token.significant() {
            out.push_str(token.text);
            continue;
        }
        let prev_text = prev.map_or("", |(_, text)| text);
        match (token.kind, token.text) {
            (_, "{") => braces += 1,
            (_, "}") => braces = braces.saturating_sub(1),
            (_, "=~" | "!~") => label_start = prev.map_or(0, |(start, _)| start),
            (Kind::Str { .. }, text)
                if braces > 0 && matches!(prev_text, "{" | ",") && release == Release::V2 =>
            {
                let reason = format!(
                    "unexpected string {text:?} in label matching, expected identifier or \"}}\""
                );
                return Err(refused_at(input, start, reason));
            }
            (Kind::Str { quote, .. }, text) => {
                let raw = quote == '`';
                let regex = follows_regex_operator(&tokens[..i]);
                if raw || regex {
                    let value = match raw {
                        true => text.trim_matches('`').to_string(),
                        false => {
                            unquote_string(text).map_err(|e| SelectorError::Parse(e.to_string()))?
                        }
                    };
                    if regex {
                        let translated = promregex::check_matcher(&value, release)
                            .map_err(|e| refused_at(input, label_start, e.to_string()))?;
                        double_quoted(&translated, &mut out);
                        written.push(value);
                    } else {
                        double_quoted(&value, &mut out);
                    }
                    prev = Some((start, text));
                    continue;
                }
            }
            _ => {}
        }
        out.push_str(token.text);
        prev = Some((start, token.text));
    }
    Ok((out, written))
}

/// A refusal at byte `at`, with its line and byte column as Prometheus counts them.
fn refused_at(input: &str, at: usize, reason: String) -> SelectorError {
    let before = &input[..at];
    SelectorError::At {
        line: before.matches('\n').count() + 1,
        column: at - before.rfind('\n').map_or(0, |i| i + 1) + 1,
        reason,
    }
}

fn parse_checked(
    input: &str,
    regexes: &[String],
    release: Release,
) -> Result<Vec<Matcher>, SelectorError> {
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
    let mut written = regexes.iter();
    let mut matchers = selector
        .matchers
        .matchers
        .iter()
        .map(|m| convert(m, &mut written, release))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(name) = selector.name {
        // Prometheus appends the metric-name matcher after the braces' matchers.
        matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name).expect("no regex"));
    }
    Ok(matchers)
}

/// Our matcher for `m`; a regex takes the next value as written (the parser saw it translated).
fn convert<'a>(
    m: &ParsedMatcher,
    written: &mut impl Iterator<Item = &'a String>,
    release: Release,
) -> Result<Matcher, SelectorError> {
    let (op, value) = match m.op {
        ParsedOp::Equal => (MatchOp::Equal, m.value.as_str()),
        ParsedOp::NotEqual => (MatchOp::NotEqual, m.value.as_str()),
        ParsedOp::Re(_) => (MatchOp::Regex, regex_as_written(written)?),
        ParsedOp::NotRe(_) => (MatchOp::NotRegex, regex_as_written(written)?),
    };
    Matcher::for_release(op, m.name.as_str(), value, release)
        .map_err(|e| SelectorError::Parse(e.to_string()))
}

fn regex_as_written<'a>(
    written: &mut impl Iterator<Item = &'a String>,
) -> Result<&'a str, SelectorError> {
    written.next().map(String::as_str).ok_or_else(|| {
        SelectorError::Parse("internal error: a regex matcher not found in the text".into())
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
            // Backtick strings are raw in PromQL: `\.` is two characters, not an escape.
            (
                r#"{instance=`127\.0\.0\.1:9100`}"#,
                r#"instance="127\\.0\\.0\\.1:9100""#,
            ),
            (
                r#"{instance=~`127\.0\.0\.1:\d+`}"#,
                r#"instance=~"127\\.0\\.0\\.1:\\d+""#,
            ),
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
            let got = parse_selector(input, Compat::V3).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(show(&got), want, "{input}");
        }
    }

    #[test]
    fn regexes_are_compiled_with_prometheus_anchoring() {
        let ms = parse_selector(r#"{__name__=~"job:.*|x"}"#, Compat::V3).expect("valid");
        assert!(ms[0].matches("job:a"));
        assert!(!ms[0].matches("a_job:a"), "anchored at the start");
        assert!(
            !ms[0].matches("xx"),
            "anchored at the end, around the alternation"
        );
    }

    /// Go's regex dialect and each generation's reading, with Prometheus' messages.
    #[test]
    fn regexes_and_names_as_each_generation_reads_them() {
        use Compat::{V2, V3};
        let cases: &[(&str, Compat, &str, Result<bool, &str>)] = &[
            (r#"{v=~"\\s"}"#, V3, "\u{a0}", Ok(false)),
            (r#"{v=~"\\d"}"#, V3, "٣", Ok(false)),
            (r#"{v=~"\\Qa.b\\E"}"#, V3, "a.b", Ok(true)),
            (r#"{v=~`\Qa.b\E`}"#, V3, "axb", Ok(false)),
            (r#"{v=~"a.b"}"#, V3, "a\nb", Ok(true)),
            (r#"{v=~"a.b"}"#, V2, "a\nb", Ok(false)),
            (r#"{v=~"(?<n>x)"}"#, V3, "x", Ok(true)),
            (
                r#"{v=~"(?<n>x)"}"#,
                V2,
                "x",
                Err("1:2: parse error: error parsing regexp: invalid or unsupported Perl syntax: `(?<`"),
            ),
            (
                r#"{v=~"a{1001}"}"#,
                V3,
                "",
                Err("1:2: parse error: error parsing regexp: invalid repeat count: `{1001}`"),
            ),
            (
                "up{job=\"x\",\n  v=~\"(?x)a\"}",
                V3,
                "",
                Err("2:3: parse error: error parsing regexp: invalid or unsupported Perl syntax: `(?x`"),
            ),
            (
                r#"{v!~"\\u00fc"}"#,
                V3,
                "",
                Err(r"1:2: parse error: error parsing regexp: invalid escape sequence: `\u`"),
            ),
            (
                r#"{v=~"("}"#,
                V2,
                "",
                Err("1:2: parse error: error parsing regexp: missing closing ): `^(?:()$`"),
            ),
            (r#"{"v", v=~"x"}"#, V3, "x", Ok(true)),
            (
                r#"{"v", v=~"x"}"#,
                V2,
                "x",
                Err(r#"1:2: parse error: unexpected string "\"v\"" in label matching, expected identifier or "}""#),
            ),
        ];
        for &(input, compat, value, ref want) in cases {
            let got = parse_selector(input, compat)
                .map(|ms| {
                    ms.iter()
                        .filter(|m| m.name == "v")
                        .all(|m| m.matches(value))
                })
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{input} ({compat:?})");
        }
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
            match parse_selector(input, Compat::V3) {
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
            // Regexes compile within the regex crate's size limits: bounded whatever the text.
            let (_, peak) = wasmfed_alloc_meter::peak_during(|| {
                let _ = parse_selector(&text, Compat::V2);
                let _ = parse_selector(&text, Compat::V3);
            });
            proptest::prop_assert!(peak <= 4 << 20, "{peak} bytes held for {text:?}");
        }
    }
}
