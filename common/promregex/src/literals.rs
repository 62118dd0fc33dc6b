//! String comparisons standing in for the many relabel regexes that are only literals:
//! `hosted-grafana`, `Succeeded|Failed`, `go_.*|process_.*`, `.*-metrics`, `^0$`.
//!
//! Relabel regexes always match whole values, so such a regex matches a value exactly when the
//! value equals one literal, or starts or ends with one, or contains one. Comparing strings
//! costs a few nanoseconds where even a lazy DFA search costs tens, and `keep`/`drop`/
//! `labeldrop` rules run on every series. The regex's syntax tree decides: anything beyond
//! literals, alternations, groups, `.*` at either end (with `.` matching newlines, as
//! Prometheus 3's regexes do; 2.42's `.*` stops at one, so it stays with the regex) and `^`/`$`
//! at the ends is left to the regex.

use regex_syntax::hir::{Class, Hir, HirKind, Look};
use regex_syntax::ParserBuilder;

/// Sets of literals grow as products of alternations; past this the regex does the work.
const MAX_LITERALS: usize = 32;
/// A bracket class counts as an alternation of its characters up to this size.
const MAX_CLASS_CHARS: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
}

/// A whole-value matcher by string comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiteralMatcher {
    shapes: Vec<Shape>,
}

impl LiteralMatcher {
    /// The matcher for `pattern` (regex crate syntax, matched whole; `.` matches newlines only
    /// under `(?s)`), when it is one.
    pub fn new(pattern: &str) -> Option<LiteralMatcher> {
        let hir = ParserBuilder::new().build().parse(pattern).ok()?;
        let shapes = shapes(&hir)?;
        (shapes.len() <= MAX_LITERALS).then_some(LiteralMatcher { shapes })
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.shapes.iter().any(|shape| match shape {
            Shape::Exact(s) => value == s,
            Shape::Prefix(s) => value.starts_with(s.as_str()),
            Shape::Suffix(s) => value.ends_with(s.as_str()),
            Shape::Contains(s) => value.contains(s.as_str()),
        })
    }
}

/// The shapes whose union is the language of `hir`, matched against whole values.
fn shapes(hir: &Hir) -> Option<Vec<Shape>> {
    match hir.kind() {
        HirKind::Capture(capture) => shapes(&capture.sub),
        HirKind::Alternation(alternatives) => {
            let mut all = Vec::new();
            for alternative in alternatives {
                all.extend(shapes(alternative)?);
            }
            Some(all)
        }
        HirKind::Concat(parts) => concat_shapes(parts),
        _ if is_any_star(hir) => Some(vec![Shape::Prefix(String::new())]),
        _ => Some(exact(hir)?.into_iter().map(Shape::Exact).collect()),
    }
}

/// `^`? `.*`? exact `.*`? `$`? — the anchors are redundant at the ends of a whole-value match.
fn concat_shapes(mut parts: &[Hir]) -> Option<Vec<Shape>> {
    while let [first, rest @ ..] = parts {
        if !matches!(first.kind(), HirKind::Look(Look::Start)) {
            break;
        }
        parts = rest;
    }
    while let [rest @ .., last] = parts {
        if !matches!(last.kind(), HirKind::Look(Look::End)) {
            break;
        }
        parts = rest;
    }
    // A group anchored at both ends (as `Pattern` compiles every regex) is the group's shapes.
    if let [single] = parts {
        return shapes(single);
    }
    let star_front = parts.first().is_some_and(is_any_star);
    if star_front {
        parts = &parts[1..];
    }
    let star_back = parts.last().is_some_and(is_any_star);
    if star_back {
        parts = &parts[..parts.len() - 1];
    }
    let literals = exact_concat(parts)?;
    let shape = match (star_front, star_back) {
        (false, false) => Shape::Exact,
        (false, true) => Shape::Prefix,
        (true, false) => Shape::Suffix,
        (true, true) => Shape::Contains,
    };
    Some(literals.into_iter().map(shape).collect())
}

/// The finite set of strings `hir` matches, when it is one and small.
fn exact(hir: &Hir) -> Option<Vec<String>> {
    let set = match hir.kind() {
        HirKind::Empty => vec![String::new()],
        HirKind::Literal(literal) => vec![String::from_utf8(literal.0.to_vec()).ok()?],
        HirKind::Class(Class::Unicode(class)) => {
            let mut chars = Vec::new();
            for range in class.ranges() {
                for c in range.start()..=range.end() {
                    if chars.len() == MAX_CLASS_CHARS {
                        return None;
                    }
                    chars.push(c.to_string());
                }
            }
            chars
        }
        HirKind::Capture(capture) => exact(&capture.sub)?,
        HirKind::Concat(parts) => exact_concat(parts)?,
        HirKind::Alternation(alternatives) => {
            let mut all = Vec::new();
            for alternative in alternatives {
                all.extend(exact(alternative)?);
                if all.len() > MAX_LITERALS {
                    return None;
                }
            }
            all
        }
        _ => return None,
    };
    Some(set)
}

fn exact_concat(parts: &[Hir]) -> Option<Vec<String>> {
    let mut set = vec![String::new()];
    for part in parts {
        let next = exact(part)?;
        if set.len() * next.len() > MAX_LITERALS {
            return None;
        }
        set = set
            .iter()
            .flat_map(|head| next.iter().map(move |tail| format!("{head}{tail}")))
            .collect();
    }
    Some(set)
}

/// `.*` with `.` matching every character (greedy or not, in a group or not: it matches the
/// same values).
fn is_any_star(hir: &Hir) -> bool {
    let rep = match hir.kind() {
        HirKind::Capture(capture) => return is_any_star(&capture.sub),
        HirKind::Repetition(rep) => rep,
        _ => return false,
    };
    let HirKind::Class(Class::Unicode(class)) = rep.sub.kind() else {
        return false;
    };
    rep.min == 0
        && rep.max.is_none()
        && matches!(class.ranges(), [r] if r.start() == '\0' && r.end() == char::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As Prometheus 3 reads `pattern`: `.` matching newlines.
    fn shapes_of(pattern: &str) -> Option<Vec<Shape>> {
        LiteralMatcher::new(&format!("(?s:{pattern})")).map(|m| m.shapes)
    }

    fn s(text: &str) -> String {
        text.to_string()
    }

    #[test]
    fn recognized_shapes() {
        use Shape::*;
        for (pattern, want) in [
            ("hosted-grafana", Some(vec![Exact(s("hosted-grafana"))])),
            (
                "Succeeded|Failed",
                Some(vec![Exact(s("Succeeded")), Exact(s("Failed"))]),
            ),
            ("^0$", Some(vec![Exact(s("0"))])),
            ("", Some(vec![Exact(s(""))])),
            ("(.*)", Some(vec![Prefix(s(""))])),
            // 2.42's `.` stops at a newline: no string comparison says that.
            ("(?-s:.*-metrics)", None),
            (
                "go_.*|process_.*",
                Some(vec![Prefix(s("go_")), Prefix(s("process_"))]),
            ),
            (".*-metrics", Some(vec![Suffix(s("-metrics"))])),
            (".*?err.*", Some(vec![Contains(s("err"))])),
            ("^(?:a|b)_x$", Some(vec![Exact(s("a_x")), Exact(s("b_x"))])),
            ("[ab]c", Some(vec![Exact(s("ac")), Exact(s("bc"))])),
            // Not literal: left to the regex.
            ("a+", None),
            (
                "(?i)ab",
                Some(vec![
                    Exact(s("AB")),
                    Exact(s("Ab")),
                    Exact(s("aB")),
                    Exact(s("ab")),
                ]),
            ),
            ("(?i)abcdefgh", None),
            ("[0-9]{2}", None),
            ("[^a]", None),
            ("(?-s:.*)x", None),
            ("(?m)^a$", None),
            ("a^b", None),
            (r"(?-u:\b)a", None),
            ("(a", None),
            ("[a-z]", None),
        ] {
            assert_eq!(shapes_of(pattern), want, "{pattern}");
        }
    }

    /// Wherever a matcher is made, it agrees with the regex it stands for.
    #[test]
    fn agrees_with_the_regex() {
        let values = [
            "",
            "0",
            "00",
            "a",
            "ac",
            "bc",
            "a_x",
            "b_x",
            "go_",
            "go_x",
            "xgo_",
            "process_x",
            "Failed",
            "failed",
            "x-metrics",
            "-metrics",
            "metrics",
            "err",
            "an err here",
            "hosted-grafana",
            "hosted-grafana\n",
            "a\nb",
            "A_X",
            "k",
            "K",
            "\u{212a}",
        ];
        for pattern in [
            "hosted-grafana",
            "Succeeded|Failed",
            "^0$",
            "",
            "(.*)",
            "go_.*|process_.*",
            ".*-metrics",
            ".*?err.*",
            "^(?:a|b)_x$",
            "[ab]c",
            "^^0$$",
            "(a)|(b)c|",
            ".*",
            "(?:go_)(.*)",
            "a.*|.*c",
            "(?i)a_x",
            "(?i)k",
            "((.*))",
        ] {
            let matcher = LiteralMatcher::new(&format!("(?s:{pattern})")).expect(pattern);
            let regex = regex::Regex::new(&format!("^(?s:{pattern})$")).unwrap();
            for value in values {
                assert_eq!(
                    matcher.is_match(value),
                    regex.is_match(value),
                    "{pattern} on {value:?}"
                );
            }
        }
    }
}
