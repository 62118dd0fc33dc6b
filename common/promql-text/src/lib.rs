//! PromQL text as wasmfed reads it before promql-parser does, on both sides of the plugin
//! boundary: the host's `/federate` selectors (`wasmfed-storage`) and the rule plugin's queries
//! (`promql-rules`) pass through the same scan, so a string, a comment or a regex value is found
//! alike in both, and a raw (backtick) string or a translated regex is handed on alike.
//!
//! promql-parser (a crates.io dependency we cannot patch) does the parsing; what it reads
//! differently from Prometheus is mended by rewriting tokens ([`lexer`]) into text it reads
//! as Prometheus would ([`double_quoted`]).

pub mod lexer;

pub use lexer::{tokens, Kind, Token};

/// A label matcher's operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    /// Fully anchored regular expression.
    Regex,
    NotRegex,
}

impl MatchOp {
    /// As PromQL writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// Appends `raw` as a double-quoted PromQL string literal with the same value: how a raw
/// (backtick) string or a translated regex is handed to promql-parser.
pub fn double_quoted(raw: &str, out: &mut String) {
    out.push('"');
    for c in raw.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether the last significant token of `before` is `=~` or `!~`: the string after it is a
/// regex matcher's value (PromQL has no other use for those operators).
pub fn follows_regex_operator(before: &[Token<'_>]) -> bool {
    before
        .iter()
        .rev()
        .find(|t| t.significant())
        .is_some_and(|t| t.kind == Kind::Punct && matches!(t.text, "=~" | "!~"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requoting_keeps_the_value() {
        let mut out = String::new();
        double_quoted("a\\.b\"c\nd\re", &mut out);
        assert_eq!(out, r#""a\\.b\"c\nd\re""#);
    }

    #[test]
    fn regex_values_are_found_after_their_operator() {
        let t = tokens(r#"x{a=~ "1", b="2"}"#);
        let at = |text: &str| t.iter().position(|t| t.text == text).unwrap();
        assert!(follows_regex_operator(&t[..at("\"1\"")]));
        assert!(!follows_regex_operator(&t[..at("\"2\"")]));
    }
}
