//! Where PromQL takes a duration or a timestamp, the numbers each release refuses and
//! promql-parser (which follows Prometheus 3) lets through: 2.42 reads no plain number as a
//! duration (`x[5]`, `x[5m:1]`, `x offset 3`; 3.x reads them as seconds), and neither release
//! takes an `@` time whose milliseconds do not fit in an int64.

use crate::engine::Compat;
use promql_text::{Kind, Token};

/// A number PromQL's lexer would read (decimal, hexadecimal, `Inf`, `NaN`), as a float.
fn number(word: &str) -> Option<f64> {
    match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|n| n as f64),
        None if word.eq_ignore_ascii_case("inf") => Some(f64::INFINITY),
        None if word.eq_ignore_ascii_case("nan") => Some(f64::NAN),
        None if word.starts_with(|c: char| c.is_ascii_digit() || c == '.') => word.parse().ok(),
        None => None,
    }
}

/// Go's `%f`.
fn go_f(f: f64) -> String {
    match f {
        f if f.is_nan() => "NaN".into(),
        f64::INFINITY => "+Inf".into(),
        f64::NEG_INFINITY => "-Inf".into(),
        f => format!("{f:.6}"),
    }
}

const TWO_63: f64 = 9_223_372_036_854_775_808.0;

pub(super) fn check(tokens: &[Token], compat: Compat) -> Result<(), String> {
    let significant: Vec<&Token> = tokens.iter().filter(|t| t.significant()).collect();
    // The word after `i`, past a sign, and whether that sign was a minus.
    let operand = |i: usize| -> Option<(&str, bool)> {
        let mut j = i + 1;
        let mut negative = false;
        if let Some(t) = significant.get(j).filter(|t| matches!(t.text, "-" | "+")) {
            negative = t.text == "-";
            j += 1;
        }
        let t = significant.get(j)?;
        (t.kind == Kind::Word).then_some((t.text, negative))
    };
    for (i, t) in significant.iter().enumerate() {
        match (t.kind, t.text) {
            (Kind::Punct, "@") => {
                let Some(ts) = operand(i).and_then(|(w, neg)| Some(number(w)? * sign(neg))) else {
                    continue;
                };
                if ts.is_nan() || !(-TWO_63 < ts && ts < TWO_63) {
                    return Err(format!(
                        "timestamp out of bounds for @ modifier: {}",
                        go_f(ts)
                    ));
                }
            }
            _ if compat == Compat::V3 => {}
            (Kind::Word, word) if word.eq_ignore_ascii_case("offset") => {
                if let Some((w, _)) = operand(i).filter(|(w, _)| number(w).is_some()) {
                    return Err(format!(
                        "unexpected number {w:?} in offset, expected duration"
                    ));
                }
            }
            (Kind::Punct, "[") => {
                // The lexer keeps `5m:1m` together as one word.
                let Some(word) = significant.get(i + 1).filter(|w| w.kind == Kind::Word) else {
                    continue;
                };
                let (range, step) = word.text.split_once(':').unwrap_or((word.text, ""));
                if number(range).is_some() {
                    return Err("missing unit character in duration".into());
                }
                if number(step).is_some() {
                    return Err(format!(
                        "unexpected number {step:?} in subquery selector, expected duration or \"]\""
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn sign(negative: bool) -> f64 {
    if negative {
        -1.0
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_text::tokens;

    #[test]
    fn numbers_where_durations_and_times_go() {
        // (query, 2.x, 3.x), the errors as Prometheus 2.42 words them.
        type Case<'a> = (&'a str, Result<(), &'a str>, Result<(), &'a str>);
        let cases: &[Case] = &[
            (
                "x offset 3",
                Err(r#"unexpected number "3" in offset, expected duration"#),
                Ok(()),
            ),
            (
                "x OFFSET -1.5",
                Err(r#"unexpected number "1.5" in offset, expected duration"#),
                Ok(()),
            ),
            ("x offset 3m", Ok(()), Ok(())),
            ("x[5]", Err("missing unit character in duration"), Ok(())),
            ("x[5:1m]", Err("missing unit character in duration"), Ok(())),
            (
                "x[5m:1]",
                Err(r#"unexpected number "1" in subquery selector, expected duration or "]""#),
                Ok(()),
            ),
            ("x[5m:] offset 1m", Ok(()), Ok(())),
            ("x[1h:30s] @ 1700000000.5", Ok(()), Ok(())),
            (
                "x @ 1e20",
                Err("timestamp out of bounds for @ modifier: 100000000000000000000.000000"),
                Err("timestamp out of bounds for @ modifier: 100000000000000000000.000000"),
            ),
            (
                "x @ -Inf",
                Err("timestamp out of bounds for @ modifier: -Inf"),
                Err("timestamp out of bounds for @ modifier: -Inf"),
            ),
            ("x @ 9.2e15", Ok(()), Ok(())),
            ("sum by (offset) (x)", Ok(()), Ok(())),
        ];
        for (query, v2, v3) in cases {
            for (compat, want) in [(Compat::V2, v2), (Compat::V3, v3)] {
                let got = check(&tokens(query), compat);
                assert_eq!(got, want.map_err(String::from), "{query} ({compat:?})");
            }
        }
    }
}
