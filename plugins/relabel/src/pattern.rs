//! A relabel rule's regex, compiled once at `init` the way Prometheus compiles it: fully
//! anchored, `.` matching newlines too (`^(?s:` + regex + `)$`, as since Prometheus 3.0 and in
//! wasmfed's config module; 2.x wrote `^(?:` + regex + `)$`, so there `.` stops at a newline).
//!
//! Prometheus uses Go's RE2 dialect and this plugin the `regex` crate. The two agree on nearly
//! all syntax, but Go's Perl classes (`\d`, `\w`, `\s`, `\b` and their negations) are ASCII-only
//! where the regex crate's are Unicode-wide, and inside a bracket class Go reads `[`, `&&` and
//! `~~` as plain characters where the regex crate reads nesting and set operations. The pattern
//! is rewritten for those before it is compiled, so `\d+` means `[0-9]+` as in Prometheus (and
//! the crate's large Unicode Perl tables stay out of the plugin). Syntax only the regex crate
//! knows (e.g. `(?x)`, `\<`, class difference `--`) is accepted where Go would refuse it.
//!
//! Regexes that are only literals are matched by string comparison ([`LiteralMatcher`]), and
//! the default regex, `(.*)`, whose group 1 is always the whole value, needs no search even for
//! its groups: the common "copy a label" rule costs no regex search at all.

use regex::{CaptureLocations, Regex};

use crate::literals::LiteralMatcher;

/// The regex Prometheus uses when a rule gives none.
pub const DEFAULT_REGEX: &str = "(.*)";

/// Go's `\w`, `\d` and `\s`, as the items of a bracket class.
const WORD: &str = "0-9A-Za-z_";
const DIGIT: &str = "0-9";
const SPACE: &str = r"\t\n\x0C\r ";

/// A compiled, anchored relabel regex.
#[derive(Clone, Debug)]
pub struct Pattern {
    regex: Regex,
    /// Stands in for the regex when only whether it matches counts.
    literal: Option<LiteralMatcher>,
    /// The pattern is [`DEFAULT_REGEX`].
    matches_all: bool,
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
    /// Compiles `source` as Prometheus would; the error reads like Prometheus' (`error parsing
    /// regexp ...`) with the regex crate's reason.
    pub fn new(source: &str) -> Result<Pattern, String> {
        let translated = go_to_rust_syntax(source);
        match Regex::new(&format!("^(?s:{translated})$")) {
            Ok(regex) => Ok(Pattern {
                regex,
                literal: LiteralMatcher::new(&translated),
                matches_all: source == DEFAULT_REGEX,
            }),
            Err(err) => {
                let text = err.to_string();
                let reason = text.lines().last().unwrap_or_default();
                let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                Err(format!("error parsing regexp {source:?}: {reason}"))
            }
        }
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

/// Rewrites the parts of Go's regex syntax whose meaning differs in the regex crate (see the
/// module documentation). Errors are left for the regex crate to find and report.
fn go_to_rust_syntax(go: &str) -> String {
    let mut out = String::with_capacity(go.len() + 16);
    let mut chars = go.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(escaped) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let class_item = |items: &str| format!("[{items}]");
                let rewritten = match (escaped, in_class) {
                    ('d', false) => class_item(DIGIT),
                    ('w', false) => class_item(WORD),
                    ('s', false) => class_item(SPACE),
                    ('d', true) => DIGIT.to_string(),
                    ('w', true) => WORD.to_string(),
                    ('s', true) => SPACE.to_string(),
                    // Negations stay a nested class inside a bracket class: the regex crate
                    // unions nested classes, which is what Go's `[a\D]` means.
                    ('D', _) => format!("[^{DIGIT}]"),
                    ('W', _) => format!("[^{WORD}]"),
                    ('S', _) => format!("[^{SPACE}]"),
                    ('b', false) => r"(?-u:\b)".to_string(),
                    ('B', false) => r"(?-u:\B)".to_string(),
                    _ => {
                        out.push('\\');
                        out.push(escaped);
                        continue;
                    }
                };
                out.push_str(&rewritten);
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.next_if_eq(&'^').is_some() {
                    out.push('^');
                }
                // A `]` right after the opening bracket is a literal in both dialects.
                if chars.next_if_eq(&']').is_some() {
                    out.push(']');
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '[' if in_class => {
                if chars.peek() == Some(&':') {
                    copy_posix_class(&mut chars, &mut out);
                } else {
                    out.push_str(r"\[");
                }
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Copies a POSIX class such as `[:alpha:]` (the opening `[` already consumed) when it is
/// closed by `:]`; otherwise Go reads the `[` as a plain character.
fn copy_posix_class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    let rest: String = chars.clone().collect();
    match rest.find(":]") {
        Some(end) if end > 0 => {
            out.push('[');
            out.push_str(&rest[..end + 2]);
            for _ in rest[..end + 2].chars() {
                chars.next();
            }
        }
        _ => out.push_str(r"\["),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_go_only_meanings() {
        for (go, rust) in [
            (r"\d+", "[0-9]+"),
            (r"\w", "[0-9A-Za-z_]"),
            (r"\s", r"[\t\n\x0C\r ]"),
            (r"[\d.]", "[0-9.]"),
            (r"[^\w-]", "[^0-9A-Za-z_-]"),
            (r"[a\D]", "[a[^0-9]]"),
            (r"\W\S", r"[^0-9A-Za-z_][^\t\n\x0C\r ]"),
            (r"\bx\B", r"(?-u:\b)x(?-u:\B)"),
            (r"\\d", r"\\d"),
            (r"\.\pL\p{Greek}", r"\.\pL\p{Greek}"),
            ("[[:alpha:]_]", "[[:alpha:]_]"),
            ("[[a]", r"[\[a]"),
            ("[a&&b~~c]", r"[a\&\&b\~\~c]"),
            ("[]a]", "[]a]"),
            ("[^]a]", "[^]a]"),
            ("a&&b", "a&&b"),
            ("[[:x]", r"[\[:x]"),
            (r"\", r"\"),
        ] {
            assert_eq!(go_to_rust_syntax(go), rust, "{go}");
        }
    }

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

    #[test]
    fn errors_read_like_prometheus() {
        for (regex, want) in [
            ("(a", r#"error parsing regexp "(a": unclosed group"#),
            ("a)", r#"error parsing regexp "a)": unopened group"#),
            (
                r"\p{Alphabetic}",
                r#"error parsing regexp "\\p{Alphabetic}""#,
            ),
            ("*", r#"error parsing regexp "*""#),
        ] {
            let err = Pattern::new(regex).unwrap_err();
            assert!(err.starts_with(want), "{regex}: {err}");
        }
    }
}
