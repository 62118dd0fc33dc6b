//! Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus' semantics.
//!
//! Regexes are fully anchored as `^(?s:…)$`, as Prometheus' `labels.NewFastRegexMatcher` does,
//! and compiled once when the matcher is built. An absent label is matched as the empty string,
//! which is what lets `{a=""}` select series without `a`.
//!
//! Go's RE2 and Rust's `regex` accept nearly the same syntax. One difference users hit is a
//! brace that does not start a repetition (`a{b}`, `x{,1}`): Go takes it literally, Rust rejects
//! it or reads it otherwise, so such braces are escaped before compiling. A remaining
//! difference: `\d`, `\w`, `\s` and `\b` are Unicode-aware in Rust but ASCII-only in Go.

use regex::Regex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One condition on one label.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher, compiling the regex of `=~`/`!~`.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, regex::Error> {
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(compile_anchored(&value)?),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            name: name.into(),
            op,
            value,
            regex,
        })
    }

    /// Whether the matcher accepts `value`; "" stands for an absent label.
    pub fn matches(&self, value: &str) -> bool {
        match (&self.regex, self.op) {
            (_, MatchOp::Equal) => self.value == value,
            (_, MatchOp::NotEqual) => self.value != value,
            (Some(re), MatchOp::Regex) => re.is_match(value),
            (Some(re), MatchOp::NotRegex) => !re.is_match(value),
            (None, _) => unreachable!("regex ops always carry a compiled regex"),
        }
    }

    /// Whether a series lacking the label is selected; such matchers are evaluated by
    /// subtracting the series whose value fails them.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

/// Prints the matcher as PromQL does: `name="value"` with the value quoted and escaped.
impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

fn compile_anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?s:{})$", escape_literal_braces(pattern)))
}

/// Escapes each `{` that Go's parser would take literally: one not followed by `n}`, `n,}` or
/// `n,m}` with decimal `n`, `m`.
fn escape_literal_braces(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                    // `\p{Greek}`, `\P{L}` and `\x{263a}` carry braces of their own.
                    if matches!(next, 'p' | 'P' | 'x')
                        && chars.peek().is_some_and(|&(_, c)| c == '{')
                    {
                        for (_, c) in chars.by_ref() {
                            out.push(c);
                            if c == '}' {
                                break;
                            }
                        }
                    }
                }
            }
            '{' if !starts_repetition(&pattern[i + 1..]) => out.push_str("\\{"),
            _ => out.push(c),
        }
    }
    out
}

fn starts_repetition(rest: &str) -> bool {
    let Some(end) = rest.find('}') else {
        return false;
    };
    let body = &rest[..end];
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match body.split_once(',') {
        None => digits(body),
        Some((min, max)) => digits(min) && (max.is_empty() || digits(max)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MatchOp::*;

    #[test]
    fn semantics() {
        let cases: &[(MatchOp, &str, &[&str], &[&str])] = &[
            (Equal, "a", &["a"], &["", "ab", "A"]),
            (Equal, "", &[""], &["a"]),
            (NotEqual, "a", &["", "b", "ab"], &["a"]),
            (NotEqual, "", &["a"], &[""]),
            (Regex, "a|b", &["a", "b"], &["", "ab", "xa"]),
            (Regex, "a.*", &["a", "abc", "a\nb"], &["", "ba"]),
            (Regex, ".*", &["", "x", "\n"], &[]),
            (Regex, ".+", &["x"], &[""]),
            (Regex, "job:.*", &["job:up", "job:"], &["xjob:up"]),
            (Regex, "", &[""], &["a"]),
            (Regex, "a{2}", &["aa"], &["a", "a{2}"]),
            (Regex, "a{b}", &["a{b}"], &["ab"]),
            (Regex, "x{,1}", &["x{,1}"], &["x"]),
            (Regex, r"\{x}", &["{x}"], &["x"]),
            (Regex, r"\p{Greek}+", &["αβ"], &["ab"]),
            (Regex, r"\x{61}{2}", &["aa"], &["a"]),
            (NotRegex, "a|b", &["", "c", "ab"], &["a", "b"]),
            (NotRegex, ".*", &[], &["", "x"]),
            (NotRegex, ".+", &[""], &["x"]),
        ];
        for &(op, value, yes, no) in cases {
            let m = Matcher::new(op, "l", value).expect("valid");
            for v in yes {
                assert!(m.matches(v), "{m} should match {v:?}");
            }
            for v in no {
                assert!(!m.matches(v), "{m} should not match {v:?}");
            }
            assert_eq!(m.matches_empty(), yes.contains(&""), "{m} on absent label");
        }
    }

    #[test]
    fn invalid_regexes_are_errors() {
        for pattern in ["(", "a[", "*a", "a)"] {
            assert!(Matcher::new(Regex, "l", pattern).is_err(), "{pattern}");
            assert!(Matcher::new(NotRegex, "l", pattern).is_err(), "{pattern}");
        }
        assert!(
            Matcher::new(Equal, "l", "(").is_ok(),
            "equality takes any text"
        );
    }

    #[test]
    fn display_is_promql() {
        let m = Matcher::new(NotRegex, "job", "a\"b").expect("valid");
        assert_eq!(m.to_string(), r#"job!~"a\"b""#);
    }
}
