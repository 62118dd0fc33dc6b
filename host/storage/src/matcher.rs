//! Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus' semantics.
//!
//! Regexes are in Prometheus' dialect, Go's RE2 (`promregex`): `\d`, `\s`, `\w` are ASCII,
//! `\Q…\E` and a brace that starts no repetition (`a{b}`) are read as Go reads them, and what
//! Go refuses (`a{1001}`, `(?x)`, `\u00fc`) is refused with Go's message. They are fully
//! anchored and compiled once when the matcher is built, as the [`Release`] asked for does
//! (3.x: `^(?s:…)$`; 2.42: `^(?:…)$`, where `.` stops at a newline). An absent label is matched
//! as the empty string, which is what lets `{a=""}` select series without `a`.

use promregex::{Pattern, Release};

pub use promql_text::MatchOp;

/// One condition on one label.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Pattern>,
}

impl Matcher {
    /// Builds a matcher, compiling the regex of `=~`/`!~` as Prometheus 3 does (the store's
    /// callers, the rule plugin among them, write 2.42's `.` as `(?-s:…)` themselves).
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, promregex::Error> {
        Matcher::for_release(op, name, value, Release::V3)
    }

    /// Builds a matcher, compiling the regex of `=~`/`!~` as `release` does.
    pub fn for_release(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
        release: Release,
    ) -> Result<Matcher, promregex::Error> {
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(Pattern::for_release(&value, release)?),
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
            // Go's meanings, not the regex crate's.
            (Regex, r"\s", &[" ", "\t"], &["\u{a0}"]),
            (Regex, r"\d+", &["123"], &["١٢٣"]),
            (Regex, r"\w+", &["a_1"], &["é"]),
            (Regex, r"\Qa.b\E", &["a.b"], &["axb"]),
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
    fn each_release_anchors_as_its_own() {
        for (release, want) in [(Release::V2, false), (Release::V3, true)] {
            let m = Matcher::for_release(Regex, "l", "a.b", release).unwrap();
            assert_eq!(m.matches("a\nb"), want, "{release:?}");
        }
    }

    #[test]
    fn invalid_regexes_are_errors() {
        for pattern in ["(", "a[", "*a", "a)", "a{1001}", "(?x)a", r"\u00fc"] {
            assert!(Matcher::new(Regex, "l", pattern).is_err(), "{pattern}");
            assert!(Matcher::new(NotRegex, "l", pattern).is_err(), "{pattern}");
        }
        assert_eq!(
            Matcher::new(Regex, "l", "a{1001}").unwrap_err().to_string(),
            "error parsing regexp: invalid repeat count: `{1001}`"
        );
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
