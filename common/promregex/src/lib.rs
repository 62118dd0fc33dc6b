//! Prometheus' regex dialect on the regex crate: one reading of Go's RE2 syntax for every
//! place wasmfed takes a regex from a user (relabel rules, label matchers in selectors and
//! PromQL, `label_replace`), in the host and in the guest plugins alike.
//!
//! Prometheus compiles those regexes with Go's `regexp`, always fully anchored and with `.`
//! matching newlines (`^(?s:` + regex + `)$`, since Prometheus 3.0; 2.x wrote `^(?:` + regex +
//! `)$`, so there `.` stops at a newline). [`Pattern`] is such a regex, read as the
//! [`Release`] asked for (2.42 was built with Go 1.19, whose parser also refuses a little
//! that today's Go reads). [`translate`] is the dialect itself, for a caller that anchors (or
//! not) on its own: it rewrites Go's syntax into the regex crate's and refuses what Go
//! refuses, with Go's message ([`Error`]).
//!
//! Regexes that are only literals are matched by string comparison (`literals`), and the
//! default relabel regex, `(.*)`, whose group 1 is always the whole value, needs no search even
//! for its groups: the common "copy a label" rule costs no regex search at all.
//!
//! No WIT, no I/O: the crate is built into the relabel plugin's component and into the host,
//! each from its own workspace and with its own regex features; what a regex means does not
//! depend on those features (see `translate`).

mod error;
mod escape;
mod literals;
mod translate;
mod unicode_names;

use regex::Regex;

use crate::literals::LiteralMatcher;

pub use error::{Error, ErrorCode};
pub use regex::CaptureLocations;
pub use translate::{translate, translate_for};

/// Which Prometheus a regex is read as, where their regexes differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Release {
    /// Prometheus 2.42 as released (built with Go 1.19): anchored as `^(?:…)$`, so `.` stops at
    /// a newline; Go 1.19 knows no `(?<name>…)` (Go 1.22) and looks `\p{…}` names up exactly,
    /// among the category short names, the scripts and `Any` (Go 1.25 added aliases).
    V2,
    /// Prometheus 3 on a current Go: `^(?s:…)$`, `.` matching newlines.
    #[default]
    V3,
}

/// The regex Prometheus uses when a rule gives none.
pub const DEFAULT_REGEX: &str = "(.*)";

/// A regex compiled as Prometheus compiles a relabel or matcher regex: matched against whole
/// values, `.` matching newlines.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// As the user wrote it.
    source: String,
    regex: Regex,
    /// Stands in for the regex when only whether it matches counts.
    literal: Option<LiteralMatcher>,
    /// The pattern is [`DEFAULT_REGEX`], read as Prometheus 3.
    matches_all: bool,
}

/// Checks a label matcher's regex as Prometheus' `labels.NewMatcher` does, refusing it with
/// Go's message, and returns it in the regex crate's syntax, unanchored.
///
/// 3.x parses the value alone (`syntax.Parse(v, Perl|DotNL)`), so a message quotes it without
/// anchors; 2.42 first compiled `^(?:` + value + `)$`, whose errors quote that. Either way the
/// value must be a whole regex: `a)|(b` is refused.
pub fn check_matcher(value: &str, release: Release) -> Result<String, Error> {
    if release == Release::V2 {
        translate_for(&format!("^(?:{value})$"), release)?;
    }
    let translated = translate_for(value, release)?;
    // What only the compiled program can refuse (Go's "expression too large").
    Pattern::for_release(value, release)?;
    Ok(translated)
}

/// The groups of one successful match, by index as in Go's `Regexp.Expand`.
pub enum Groups<'h> {
    /// The default regex matched: groups 0 and 1 are the whole value.
    Whole(&'h str),
    Located(&'h str, &'h CaptureLocations),
}

impl Groups<'_> {
    /// The text of group `index`, or `None` when the group does not exist or did not take part.
    pub fn get(&self, index: usize) -> Option<&str> {
        match *self {
            Groups::Whole(whole) => (index <= 1).then_some(whole),
            Groups::Located(haystack, locs) => locs.get(index).map(|(s, e)| &haystack[s..e]),
        }
    }
}

impl Pattern {
    /// Compiles `source` as Prometheus 3 would; a refusal reads as Go's.
    pub fn new(source: &str) -> Result<Pattern, Error> {
        Pattern::for_release(source, Release::V3)
    }

    /// Compiles `source` as `release` would, anchored as it anchors; a refusal reads as Go's.
    pub fn for_release(source: &str, release: Release) -> Result<Pattern, Error> {
        let anchored = match release {
            Release::V2 => format!("^(?:{source})$"),
            Release::V3 => format!("^(?s:{source})$"),
        };
        let translated = translate_for(&anchored, release)?;
        let regex =
            Regex::new(&translated).map_err(|err| Error::from_regex_crate(&err, &anchored))?;
        Ok(Pattern {
            source: source.to_string(),
            regex,
            literal: LiteralMatcher::new(&translated),
            // In 2.42 `(.*)` stops at a newline.
            matches_all: source == DEFAULT_REGEX && release == Release::V3,
        })
    }

    /// The regex as written, without anchors.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, value: &str) -> bool {
        match &self.literal {
            Some(literal) => literal.is_match(value),
            None => self.regex.is_match(value),
        }
    }

    /// Matches `value`, filling `locs` (which must come from [`Pattern::capture_locations`]).
    pub fn captures<'h>(
        &self,
        value: &'h str,
        locs: &'h mut CaptureLocations,
    ) -> Option<Groups<'h>> {
        if self.matches_all {
            return Some(Groups::Whole(value));
        }
        self.regex.captures_read(locs, value)?;
        Some(Groups::Located(value, locs))
    }

    pub fn capture_locations(&self) -> CaptureLocations {
        self.regex.capture_locations()
    }

    /// How many groups a match has, group 0 (the whole match) included.
    pub fn groups_len(&self) -> usize {
        self.regex.captures_len()
    }

    /// The index of the first group named `name`.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.regex
            .capture_names()
            .position(|group| group == Some(name))
    }
}

/// Patterns are equal when they were written the same.
impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_go() {
        for (regex, value, want) in [
            ("(.*)", "", true),
            ("(.*)", "a\nb", true),
            ("a.b", "a\nb", true),
            ("f", "foo", false),
            ("fo+", "foo", true),
            ("f|o", "foo", false),
            (r"\d+", "123", true),
            (r"\d+", "١٢٣", false),
            (r"\w+", "été", false),
            (r"\s", "\u{a0}", false),
            (r"\s", "\t", true),
            (r"\S", "\u{a0}", true),
            (r"\bfoo\b", "foo", true),
            (r"[[:upper:]]+", "ABC", true),
            (r"\p{Greek}+", "αβ", true),
            (r"\pL+", "été", true),
            ("(?i)abc", "ABC", true),
            ("(?i)k", "\u{212a}", true),
            ("[a&&b]", "&", true),
            ("[[a]", "[", true),
            (r"[\d-z]+", "1-z", true),
            (r"[\w.]+:\d+", "host.example:9100", true),
            ("a|b", "ab", false),
            ("^metrics$", "metrics", true),
            ("", "", true),
            ("", "x", false),
        ] {
            let pattern = Pattern::new(regex).unwrap();
            assert_eq!(pattern.is_match(value), want, "{regex} on {value:?}");
        }
    }

    #[test]
    fn groups() {
        let pattern = Pattern::new("(?P<host>[^:]+)(:(\\d+))?").unwrap();
        assert_eq!(pattern.groups_len(), 4);
        assert_eq!(pattern.group_index("host"), Some(1));
        assert_eq!(pattern.group_index("port"), None);
        let mut locs = pattern.capture_locations();
        let groups = pattern.captures("db", &mut locs).unwrap();
        assert_eq!(
            (0..5).map(|i| groups.get(i)).collect::<Vec<_>>(),
            [Some("db"), Some("db"), None, None, None]
        );
        let groups = pattern.captures("db:5432", &mut locs).unwrap();
        assert_eq!(groups.get(3), Some("5432"));
        assert!(pattern.captures("a:b:c", &mut locs).is_none());

        let all = Pattern::new(DEFAULT_REGEX).unwrap();
        let mut locs = all.capture_locations();
        let groups = all.captures("x\ny", &mut locs).unwrap();
        assert_eq!(
            (0..3).map(|i| groups.get(i)).collect::<Vec<_>>(),
            [Some("x\ny"), Some("x\ny"), None]
        );
    }

    /// Go's messages, with the anchored expression Prometheus compiles where Go quotes it all.
    #[test]
    fn errors_read_like_prometheus() {
        for (regex, want) in [
            ("(a", "error parsing regexp: missing closing ): `^(?s:(a)$`"),
            ("a)", "error parsing regexp: unexpected ): `^(?s:a))$`"),
            (
                r"\p{Alphabetic}",
                r"error parsing regexp: invalid character class range: `\p{Alphabetic}`",
            ),
            (
                "*",
                "error parsing regexp: missing argument to repetition operator: `*`",
            ),
            (
                "(?P<1a>x)",
                "error parsing regexp: invalid capture group character: `^(?s:(?P<1a>x))$`",
            ),
        ] {
            let err = Pattern::new(regex).unwrap_err().to_string();
            assert_eq!(err, want, "{regex}");
        }
    }

    /// 2.42 anchors without `s` and reads with Go 1.19, and its messages quote its anchoring.
    #[test]
    fn each_release_reads_as_its_own() {
        for (regex, value, v2, v3) in [
            ("a.b", "a\nb", Ok(false), Ok(true)),
            (DEFAULT_REGEX, "a\nb", Ok(false), Ok(true)),
            ("(?s:a.b)", "a\nb", Ok(true), Ok(true)),
            (
                "(?<n>x)",
                "x",
                Err("error parsing regexp: invalid or unsupported Perl syntax: `(?<`"),
                Ok(true),
            ),
            ("(?P<n>x)", "x", Ok(true), Ok(true)),
            (
                r"\p{greek}",
                "α",
                Err(r"error parsing regexp: invalid character class range: `\p{greek}`"),
                Ok(true),
            ),
            (r"\p{Greek}", "α", Ok(true), Ok(true)),
            (
                "(a",
                "a",
                Err("error parsing regexp: missing closing ): `^(?:(a)$`"),
                Err("error parsing regexp: missing closing ): `^(?s:(a)$`"),
            ),
        ] {
            for (release, want) in [(Release::V2, v2), (Release::V3, v3)] {
                let got = Pattern::for_release(regex, release)
                    .map(|p| p.is_match(value))
                    .map_err(|e| e.to_string());
                assert_eq!(got, want.map_err(str::to_string), "{regex} ({release:?})");
            }
        }
    }

    #[test]
    fn equal_when_written_the_same() {
        assert_eq!(Pattern::new("a|b").unwrap(), Pattern::new("a|b").unwrap());
        assert_ne!(Pattern::new("a|b").unwrap(), Pattern::new("b|a").unwrap());
        assert_eq!(Pattern::new(r"\d").unwrap().as_str(), r"\d");
    }
}
