//! The values of regex matchers (`=~`, `!~`) in Prometheus' regex dialect, Go's RE2 syntax,
//! read with the shared `promregex` crate.
//!
//! promql-parser compiles every regex matcher with the regex crate's syntax while it parses,
//! so a regex Go reads but the regex crate refuses (`\Q...\E`, `a{b}`, octal escapes) would
//! fail the query, and one Go refuses (`a{1001}`, `(?x)`, `\u00fc`) would pass. So before
//! parsing, each matcher's value is checked as Prometheus checks it, with its message, and
//! promql-parser is handed the value translated into the regex crate's syntax: a regex with
//! the same meaning, because the parser uses it, to refuse selectors whose every matcher
//! matches the empty string. After parsing, the value as written goes back into the tree:
//! the host's store and the engine compile matchers from Go's text with promregex, and the
//! tree prints as the user wrote it.
//!
//! A placeholder in place of the regex would serve the restoring as well, but not that
//! empty-string check; and checking after parsing alone comes too late, the parser having
//! already refused or misread the value.

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::Expr;
use promregex::{check_matcher, Release};

use crate::engine::Compat;

/// One regex matcher's value: as written, and as handed to promql-parser.
#[derive(Debug)]
pub(super) struct RegexValue {
    pub written: String,
    pub translated: String,
}

impl RegexValue {
    /// Checks `written` as Prometheus' `labels.NewMatcher` does, refusing it with Go's message
    /// (`promregex::check_matcher`, which the host's selectors use too).
    pub fn new(written: &str, compat: Compat) -> Result<RegexValue, String> {
        let release = match compat {
            Compat::V2 => Release::V2,
            Compat::V3 => Release::V3,
        };
        let translated = check_matcher(written, release).map_err(|e| e.to_string())?;
        Ok(RegexValue {
            written: written.to_string(),
            translated,
        })
    }
}

/// Puts the values as written back into `expr`'s regex matchers, which hold `values`'
/// translations in the order of the query text.
pub(super) fn restore(expr: &mut Expr, values: &[RegexValue]) -> Result<(), String> {
    let mut next = values.iter();
    restore_in(expr, &mut next)?;
    match next.next() {
        None => Ok(()),
        Some(v) => Err(out_of_step(&v.translated)),
    }
}

fn out_of_step(value: &str) -> String {
    format!("internal error: regex matcher {value:?} not found where the query text has it")
}

fn restore_in<'a>(
    expr: &mut Expr,
    next: &mut impl Iterator<Item = &'a RegexValue>,
) -> Result<(), String> {
    match expr {
        Expr::VectorSelector(vs) => restore_matchers(&mut vs.matchers, next),
        Expr::MatrixSelector(ms) => restore_matchers(&mut ms.vs.matchers, next),
        Expr::Aggregate(a) => {
            // A parameter comes first in the text: `topk(3, x)`, `count_values("v", x)`.
            if let Some(param) = &mut a.param {
                restore_in(param, next)?;
            }
            restore_in(&mut a.expr, next)
        }
        Expr::Binary(b) => {
            restore_in(&mut b.lhs, next)?;
            restore_in(&mut b.rhs, next)
        }
        Expr::Unary(u) => restore_in(&mut u.expr, next),
        Expr::Paren(p) => restore_in(&mut p.expr, next),
        Expr::Subquery(s) => restore_in(&mut s.expr, next),
        Expr::Call(c) => c.args.args.iter_mut().try_for_each(|a| restore_in(a, next)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => Ok(()),
    }
}

/// Matchers in text order: promql-parser moves those before the first `or` into
/// `or_matchers`, and appends every later one there, so one of the two lists is empty.
fn restore_matchers<'a>(
    matchers: &mut promql_parser::label::Matchers,
    next: &mut impl Iterator<Item = &'a RegexValue>,
) -> Result<(), String> {
    let all = matchers
        .matchers
        .iter_mut()
        .chain(matchers.or_matchers.iter_mut().flatten());
    for m in all.filter(|m| is_regex(m)) {
        match next.next() {
            Some(v) if v.translated == m.value => m.value.clone_from(&v.written),
            _ => return Err(out_of_step(&m.value)),
        }
    }
    Ok(())
}

fn is_regex(m: &Matcher) -> bool {
    matches!(m.op, MatchOp::Re(_) | MatchOp::NotRe(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prometheus' messages (`promql/parser/parse.go` `newLabelMatcher`, which reports
    /// `labels.NewMatcher`'s error, Go's `regexp/syntax.Error`), without the `1:3: parse
    /// error: ` position promql-parser's errors have none of.
    #[test]
    fn refuses_what_prometheus_refuses() {
        let cases: &[(&str, Compat, Result<&str, &str>)] = &[
            (r"\Qa.b\E", Compat::V3, Ok(r"a\.b")),
            (r"\d+", Compat::V3, Ok("[0-9]+")),
            ("a{b}", Compat::V3, Ok(r"a\{b\}")),
            ("foo|bar", Compat::V2, Ok("foo|bar")),
            (
                "a{1001}",
                Compat::V3,
                Err("error parsing regexp: invalid repeat count: `{1001}`"),
            ),
            (
                "(?x)a",
                Compat::V3,
                Err("error parsing regexp: invalid or unsupported Perl syntax: `(?x`"),
            ),
            (
                r"\u00fc",
                Compat::V3,
                Err(r"error parsing regexp: invalid escape sequence: `\u`"),
            ),
            (
                "(",
                Compat::V3,
                Err("error parsing regexp: missing closing ): `(`"),
            ),
            (
                "(",
                Compat::V2,
                Err("error parsing regexp: missing closing ): `^(?:()$`"),
            ),
            (
                "a)|(b",
                Compat::V3,
                Err("error parsing regexp: unexpected ): `a)|(b`"),
            ),
            (
                "a)|(b",
                Compat::V2,
                Err("error parsing regexp: unexpected ): `a)|(b`"),
            ),
            (
                "a**",
                Compat::V2,
                Err("error parsing regexp: invalid nested repetition operator: `**`"),
            ),
        ];
        for (written, compat, want) in cases {
            let got = RegexValue::new(written, *compat).map(|v| v.translated);
            assert_eq!(
                got.as_deref(),
                want.map_err(str::to_string).as_deref(),
                "{written} ({compat:?})"
            );
        }
    }
}
