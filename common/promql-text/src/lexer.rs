//! A scanner that splits query text into the few token kinds the pre-parse passes need:
//! strings (with their quote), comments, words (identifiers, keywords, numbers, durations),
//! operators and other punctuation, and whitespace.
//!
//! It is not PromQL's lexer: it only has to know where strings and comments begin and end
//! (so that nothing inside them is mistaken for code) and which characters are brackets and
//! operators. Whatever it lets through, promql-parser still judges; the tokens together are
//! exactly the input, so a pass can rewrite a token and keep the rest as written.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string literal, its quote (`"`, `'` or `` ` ``) included; `terminated` is false for
    /// one that runs to the end of the input.
    Str {
        quote: char,
        terminated: bool,
    },
    /// `#` to the end of the line.
    Comment,
    /// A run of letters, digits, `_`, `.` and `:`, with the sign of a number's exponent.
    Word,
    /// `==`, `!=`, `<=`, `>=`, `=~`, `!~` or any other single character.
    Punct,
    Space,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
}

impl Token<'_> {
    /// Neither whitespace nor a comment.
    pub fn significant(&self) -> bool {
        !matches!(self.kind, Kind::Space | Kind::Comment)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | ':')
}

pub fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let (kind, len) = match c {
            '"' | '\'' | '`' => string(rest, c),
            '#' => (Kind::Comment, rest.find('\n').unwrap_or(rest.len())),
            c if c.is_whitespace() => (
                Kind::Space,
                rest.find(|c: char| !c.is_whitespace())
                    .unwrap_or(rest.len()),
            ),
            c if is_word_char(c) => (Kind::Word, word_len(rest)),
            _ => {
                let two = rest.get(..2).unwrap_or_default();
                let len = if matches!(two, "==" | "!=" | "<=" | ">=" | "=~" | "!~") {
                    2
                } else {
                    c.len_utf8()
                };
                (Kind::Punct, len)
            }
        };
        out.push(Token {
            kind,
            text: &rest[..len],
        });
        rest = &rest[len..];
    }
    out
}

/// A quoted string: backslash escapes the next character except in backticks, which PromQL
/// (like Go) reads raw.
fn string(text: &str, quote: char) -> (Kind, usize) {
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return (
                Kind::Str {
                    quote,
                    terminated: true,
                },
                i + 1,
            );
        }
        if c == '\\' && quote != '`' {
            chars.next();
        }
    }
    (
        Kind::Str {
            quote,
            terminated: false,
        },
        text.len(),
    )
}

/// A word's length; a number's exponent sign (`1e-5`) stays in it.
fn word_len(text: &str) -> usize {
    let mut len = text.find(|c| !is_word_char(c)).unwrap_or(text.len());
    let word = &text[..len];
    let numeric = word.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if numeric && word.ends_with(['e', 'E']) && !word.starts_with("0x") {
        let after = &text[len..];
        if after.starts_with(['+', '-']) && after[1..].starts_with(|c: char| c.is_ascii_digit()) {
            len += 1 + word_len(&after[1..]);
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> Vec<String> {
        tokens(text)
            .iter()
            .filter(|t| t.significant())
            .map(|t| match t.kind {
                Kind::Str { terminated, .. } => {
                    format!("S{}{}", if terminated { "" } else { "!" }, t.text)
                }
                Kind::Word => format!("W{}", t.text),
                _ => t.text.to_string(),
            })
            .collect()
    }

    #[test]
    fn strings_comments_words_and_operators() {
        let cases: &[(&str, &[&str])] = &[
            (
                r#"a{b="c\"}#`"}"#,
                &["Wa", "{", "Wb", "=", r#"S"c\"}#`""#, "}"],
            ),
            ("`a\\`+1", &["S`a\\`", "+", "W1"]),
            ("'it\\'s' # `x\n`y`", &["S'it\\'s'", "S`y`"]),
            ("1e-5 - 2E+3-x", &["W1e-5", "-", "W2E+3", "-", "Wx"]),
            ("0x1e-1", &["W0x1e", "-", "W1"]),
            ("job:up:sum!=~x", &["Wjob:up:sum", "!=", "~", "Wx"]),
            (
                "a=~b!~c<=d>=e==f",
                &[
                    "Wa", "=~", "Wb", "!~", "Wc", "<=", "Wd", ">=", "We", "==", "Wf",
                ],
            ),
            ("x[5m:1m]", &["Wx", "[", "W5m:1m", "]"]),
            ("\"open", &["S!\"open"]),
            ("`open", &["S!`open"]),
        ];
        for (text, want) in cases {
            assert_eq!(show(text), *want, "{text}");
            let joined: String = tokens(text).iter().map(|t| t.text).collect();
            assert_eq!(joined, *text);
        }
    }
}
