//! Go's text forms of floats and strings, where PromQL exposes them: label values made from
//! numbers (`count_values`), error and annotation messages (`%g`, `%q`).
//!
//! Rust and Go agree on the shortest round-trip digits of a float; they differ in when they
//! switch to exponent notation, in how they spell infinities and in string escaping, so those
//! rules are reproduced here.

use std::fmt::Write as _;

/// `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, never an exponent.
pub fn go_format_f(f: f64) -> String {
    match special(f) {
        Some(s) => s.to_string(),
        None => format!("{f}"),
    }
}

/// Go's `%g` (`strconv.FormatFloat(f, 'g', -1, 64)`): shortest digits, exponent notation when
/// the decimal exponent is below -4 or at least 6.
pub fn go_format_g(f: f64) -> String {
    if let Some(s) = special(f) {
        return s.to_string();
    }
    let d = Digits::shortest(f);
    let exp = d.dp - 1;
    if !(-4..6).contains(&exp) {
        d.exponent_form(d.digits.len())
    } else {
        format!("{f}")
    }
}

/// Go's `%.<prec>g` for `prec >= 1`.
pub fn go_format_g_prec(f: f64, prec: usize) -> String {
    if let Some(s) = special(f) {
        return s.to_string();
    }
    let d = Digits::rounded(f, prec);
    let nd = d.digits.len() as i32;
    let mut eprec = prec as i32;
    if eprec > nd && nd >= d.dp {
        eprec = nd;
    }
    let exp = d.dp - 1;
    if exp < -4 || exp >= eprec {
        return d.exponent_form(prec.min(d.digits.len()));
    }
    let frac = if prec as i32 > d.dp {
        (nd - d.dp).max(0)
    } else {
        0
    };
    format!("{:.*}", frac as usize, f)
}

fn special(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f == f64::INFINITY {
        Some("+Inf")
    } else if f == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// A float as decimal digits `0.d1d2d3… × 10^dp`, trailing zeros removed.
struct Digits {
    negative: bool,
    digits: Vec<u8>,
    dp: i32,
}

impl Digits {
    fn shortest(f: f64) -> Digits {
        Digits::parse(&format!("{:e}", f))
    }

    fn rounded(f: f64, significant: usize) -> Digits {
        Digits::parse(&format!("{:.*e}", significant.max(1) - 1, f))
    }

    /// Parses Rust's `{:e}` output, e.g. `-1.25e-7`.
    fn parse(text: &str) -> Digits {
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
        while digits.len() > 1 && digits.last() == Some(&b'0') {
            digits.pop();
        }
        let dp = if digits == [b'0'] { 1 } else { exponent + 1 };
        Digits {
            negative,
            digits,
            dp,
        }
    }

    /// `d.ddde±XX` with `count` significant digits (Go pads the exponent to two digits).
    fn exponent_form(&self, count: usize) -> String {
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        out.push(self.digits[0] as char);
        if count > 1 {
            out.push('.');
            for i in 1..count {
                out.push(*self.digits.get(i).unwrap_or(&b'0') as char);
            }
        }
        let exp = self.dp - 1;
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exp.abs());
        out
    }
}

/// Go's `strconv.Quote`: double quotes, Go escapes for quotes, backslashes and characters Go
/// does not print.
pub fn go_quote(s: &str) -> String {
    crate::goquote::quote(s, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_prints_them() {
        let cases: &[(f64, &str, &str)] = &[
            // value, 'f' -1, %g
            (1.0, "1", "1"),
            (1.1, "1.1", "1.1"),
            (-1.1, "-1.1", "-1.1"),
            (0.0001, "0.0001", "0.0001"),
            (0.00001, "0.00001", "1e-05"),
            (123456.0, "123456", "123456"),
            (1234567.0, "1234567", "1.234567e+06"),
            (1e21, "1000000000000000000000", "1e+21"),
            (f64::NAN, "NaN", "NaN"),
            (f64::INFINITY, "+Inf", "+Inf"),
            (f64::NEG_INFINITY, "-Inf", "-Inf"),
            (0.0, "0", "0"),
        ];
        for &(f, want_f, want_g) in cases {
            assert_eq!(go_format_f(f), want_f, "{f} as 'f'");
            assert_eq!(go_format_g(f), want_g, "{f} as %g");
        }
    }

    #[test]
    fn precision_g() {
        let cases: &[(f64, usize, &str)] = &[
            (1.0, 2, "1"),
            (10.0, 2, "10"),
            (100.0, 2, "1e+02"),
            (0.5, 2, "0.5"),
            (0.123, 2, "0.12"),
            (12.5, 2, "12"),
            (0.00001234, 2, "1.2e-05"),
        ];
        for &(f, p, want) in cases {
            assert_eq!(go_format_g_prec(f, p), want, "{f} %.{p}g");
        }
    }

    #[test]
    fn quoting() {
        let cases = [
            ("plain", r#""plain""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("tab\tnl\n", r#""tab\tnl\n""#),
            ("\u{1}", r#""\x01""#),
            ("ünï", "\"ünï\""),
        ];
        for (s, want) in cases {
            assert_eq!(go_quote(s), want);
        }
    }
}
