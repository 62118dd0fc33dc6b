//! Query text to expression tree, in the dialect the engine's [`Options`] ask for. The one
//! entry point for rule expressions and ad-hoc queries alike.
//!
//! promql-parser (a crates.io dependency we cannot patch) does the parsing; around it, a
//! scan of the text (`promql_text::lexer`, shared with the host's selectors) lets the [`dialect`] checks refuse what the chosen Prometheus
//! release would refuse and rename what it spells differently, before the tree is built.
//!
//! The scan also mends what promql-parser gets wrong: backtick (raw) strings, which PromQL
//! reads without escapes (``{instance=~`127\.0\.0\.1:9100`}``) but promql-parser unescapes,
//! failing on `\.`, are handed to it as the equivalent double-quoted strings. It reads
//! regex matchers in Prometheus' regex dialect, Go's, not the regex crate's
//! ([`regex_matchers`]). And it refuses text nested too deeply to parse and evaluate within
//! WebAssembly's stack ([`depth`]), and numbers where the release wants a duration or an
//! `@` time it can hold ([`numbers`]).

mod depth;
mod dialect;
mod numbers;
mod regex_matchers;

use promql_parser::parser::Expr;
use promql_parser::util::unquote_string;

use crate::engine::Options;
use promql_text::{double_quoted, follows_regex_operator, lexer, Kind};
use regex_matchers::RegexValue;

/// Parses `text` as the release `opts.compat` names would, with its error messages where the
/// difference is ours to check.
pub fn parse(text: &str, opts: &Options) -> Result<Expr, String> {
    let tokens = lexer::tokens(text);
    depth::check(&tokens)?;
    dialect::check_tokens(&tokens, opts.compat)?;
    numbers::check(&tokens, opts.compat)?;
    let mut rewritten = String::with_capacity(text.len());
    let mut regexes = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let Kind::Str { quote, terminated } = t.kind else {
            rewritten.push_str(dialect::renamed(&tokens, i, opts.compat).unwrap_or(t.text));
            continue;
        };
        let value = match quote {
            '`' if !terminated => return Err("unterminated raw string".into()),
            '`' => t.text[1..t.text.len() - 1].to_string(),
            // promql-parser reports a malformed string itself.
            _ => match unquote_string(t.text) {
                Ok(value) => value,
                Err(_) => {
                    rewritten.push_str(t.text);
                    continue;
                }
            },
        };
        if follows_regex_operator(&tokens[..i]) {
            let regex = RegexValue::new(&value, opts.compat)?;
            double_quoted(&regex.translated, &mut rewritten);
            regexes.push(regex);
        } else if quote == '`' {
            double_quoted(&value, &mut rewritten);
        } else {
            rewritten.push_str(t.text);
        }
    }
    let mut expr = promql_parser::parser::parse(&rewritten)?;
    regex_matchers::restore(&mut expr, &regexes)?;
    dialect::check_expr(&expr, opts)?;
    Ok(expr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Compat;

    fn opts(compat: Compat, experimental_functions: bool) -> Options {
        Options {
            compat,
            experimental_functions,
            ..Options::default()
        }
    }

    /// `Ok(tree as printed)` or `Err(message)`.
    fn outcome(text: &str, o: &Options) -> Result<String, String> {
        parse(text, o).map(|e| e.to_string())
    }

    #[test]
    fn each_release_knows_its_own_functions_and_syntax() {
        let v2 = opts(Compat::V2, false);
        let v3 = opts(Compat::V3, false);
        let v3x = opts(Compat::V3, true);
        let des = "double_exponential_smoothing(x[5m], 0.5, 0.5)";
        let cases: &[(&str, &Options, Result<&str, &str>)] = &[
            ("holt_winters(x[5m], 0.5, 0.5)", &v2, Ok(des)),
            ("holt_winters (x[5m], 0.5, 0.5)", &v2, Ok(des)),
            ("holt_winters", &v2, Ok("holt_winters")),
            (
                "holt_winters{a=\"holt_winters(\"}",
                &v2,
                Ok("holt_winters{a=\"holt_winters(\"}"),
            ),
            (
                des,
                &v2,
                Err("unknown function with name \"double_exponential_smoothing\""),
            ),
            (
                "holt_winters(x[5m], 0.5, 0.5)",
                &v3x,
                Err("unknown function with name"),
            ),
            (
                des,
                &v3,
                Err("function \"double_exponential_smoothing\" is not enabled"),
            ),
            (des, &v3x, Ok(des)),
            (
                "sort_by_label(x, \"a\")",
                &v2,
                Err("unknown function with name \"sort_by_label\""),
            ),
            ("sort_by_label(x, \"a\")", &v3, Err("is not enabled")),
            ("mad_over_time(x[5m])", &v3x, Ok("mad_over_time(x[5m])")),
            (
                "limitk(2, x)",
                &v2,
                Err("unknown function with name \"limitk\""),
            ),
            (
                "limitk(2, x)",
                &v3,
                Err("limitk() is experimental and must be enabled"),
            ),
            ("limit_ratio(0.5, x)", &v3x, Ok("limit_ratio(0.5, x)")),
            (
                "rate(x[5m]) + histogram_quantile(0.9, y)",
                &v2,
                Ok("rate(x[5m]) + histogram_quantile(0.9, y)"),
            ),
            ("{\"up\"}", &v3, Ok("{__name__=\"up\"}")),
            (
                "{\"up\"}",
                &v2,
                Err("unexpected string \"\\\"up\\\"\" in label matching"),
            ),
            ("x{a=\"b\", \"c.d\"=\"e\"}", &v2, Err("in label matching")),
            (
                "x{a=\"b\", c=\"{\\\"d\"}",
                &v2,
                Ok("x{a=\"b\",c=\"{\\\"d\"}"),
            ),
            (
                "sum by (\"a.b\") (x)",
                &v2,
                Err("in grouping opts, expected label"),
            ),
            ("sum by (\"a.b\") (x)", &v3, Ok("sum by (\"a.b\") (x)")),
            (
                "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")",
                &v2,
                Ok("label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")"),
            ),
        ];
        for (text, o, want) in cases {
            match (outcome(text, o), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{text} ({:?})", o.compat),
                (Err(got), Err(want)) => {
                    assert!(got.contains(want), "{text} ({:?}): {got}", o.compat)
                }
                (got, want) => panic!("{text} ({:?}): got {got:?}, want {want:?}", o.compat),
            }
        }
    }

    /// Prometheus' lexer and parser cases for raw strings (`lex_test.go`, `parse_test.go`),
    /// and raw strings among the other kinds of quotes and comments.
    #[test]
    fn raw_strings_have_no_escapes() {
        let o = Options::default();
        let string_value = |text: &str| match parse(text, &o)? {
            Expr::StringLiteral(s) => Ok(s.val),
            Expr::VectorSelector(vs) => Ok(vs.matchers.matchers[0].value.clone()),
            Expr::Call(c) => match &c.args.args[2].as_ref() {
                Expr::StringLiteral(s) => Ok(s.val.clone()),
                other => Err(format!("{other}")),
            },
            other => Err(format!("{other}")),
        };
        let all_escapes = r#"\a\b\f\n\r\t\v\\\"\' - \xFF\377\u1234\U00010111\U0001011111☺"#;
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("`test\\.expression`", Ok("test\\.expression")),
            ("\"test\\.expression\"", Err("unknown escape sequence")),
            ("\"test\\\\.expression\"", Ok("test\\.expression")),
            (&format!("`{all_escapes}`"), Ok(all_escapes)),
            ("`\\``", Err("unterminated raw string")),
            ("`open", Err("unterminated raw string")),
            (
                "{instance=~`127\\.0\\.0\\.1:9100`}",
                Ok("127\\.0\\.0\\.1:9100"),
            ),
            ("up{a=\"`\\.\"}", Err("unknown escape sequence")),
            ("up{a='`'} # `\\.", Ok("`")),
            (
                "up{a=\"x\"} # `\n + up{b=`\\.`}",
                Err("up{a=\"x\"} + up{b=\"\\\\.\"}"),
            ),
            ("`two\nlines`", Ok("two\nlines")),
            ("`\"quoted\"`", Ok("\"quoted\"")),
            ("label_replace(up, `a`, `$1\\d`, `b`, `(.*)`)", Ok("$1\\d")),
        ];
        for (text, want) in cases {
            let got = string_value(text);
            match (&got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                _ => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    /// Regex matchers are checked as Prometheus checks them and keep their text as written;
    /// promql-parser's own checks see a regex of the same meaning.
    #[test]
    fn regex_matchers_are_go_regexes() {
        let v2 = opts(Compat::V2, false);
        let v3 = opts(Compat::V3, false);
        let empty = "vector selector must contain at least one non-empty matcher";
        let cases: &[(&str, &Options, Result<&str, &str>)] = &[
            (r#"{a=~"\\Qa.b\\E"}"#, &v3, Ok(r#"{a=~"\\Qa.b\\E"}"#)),
            (
                r#"x{a=~'\\d', b!~"[\\w-]"}"#,
                &v2,
                Ok(r#"x{a=~"\\d",b!~"[\\w-]"}"#),
            ),
            (r"x{a=~`\Q.\E`}", &v3, Ok(r#"x{a=~"\\Q.\\E"}"#)),
            (
                "x{a=~ # why\n \"a{b}\"} + y{b!~\"\\\\\\\\\"}",
                &v3,
                Ok(r#"x{a=~"a{b}"} + y{b!~"\\\\"}"#),
            ),
            (
                r#"x{a=~"\\d" or b!~"\\Q|\\E", c=~"\""}"#,
                &v3,
                Ok(r#"x{a=~"\\d" or b!~"\\Q|\\E", c=~"\""}"#),
            ),
            (r#"{a=~"\\Qx\\E?"}"#, &v3, Err(empty)),
            (r#"{a=~"\\Qx\\E"}"#, &v3, Ok(r#"{a=~"\\Qx\\E"}"#)),
            (r#"{a=~"x|"}"#, &v3, Err(empty)),
            (r#"{a=~"(?i)\\Qk\\E"}"#, &v3, Ok(r#"{a=~"(?i)\\Qk\\E"}"#)),
            (
                r#"{a=~"a{1001}"}"#,
                &v3,
                Err("error parsing regexp: invalid repeat count: `{1001}`"),
            ),
            (
                r#"sum(x{a!~"(?x) a"})"#,
                &v3,
                Err("error parsing regexp: invalid or unsupported Perl syntax: `(?x`"),
            ),
            (
                r#"{a=~"\\u00fc"}"#,
                &v2,
                Err(r"error parsing regexp: invalid escape sequence: `\u`"),
            ),
            (
                r#"{a=~"(b"}"#,
                &v2,
                Err("error parsing regexp: missing closing ): `^(?:(b)$`"),
            ),
            (
                r#"{a=~"(b"}"#,
                &v3,
                Err("error parsing regexp: missing closing ): `(b`"),
            ),
            (r#"{a="(b"}"#, &v3, Ok(r#"{a="(b"}"#)),
            (
                r#"label_replace(x, "a", "$1", "b", "\\Q(\\E")"#,
                &v3,
                Ok(r#"label_replace(x, "a", "$1", "b", "\\Q(\\E")"#),
            ),
        ];
        for (text, o, want) in cases {
            match (outcome(text, o), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{text} ({:?})", o.compat),
                (Err(got), Err(want)) => assert_eq!(got, *want, "{text} ({:?})", o.compat),
                (got, want) => panic!("{text} ({:?}): got {got:?}, want {want:?}", o.compat),
            }
        }
    }
}
