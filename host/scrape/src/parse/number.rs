//! Sample values and timestamps, read as Prometheus reads them.
//!
//! Values go through Go's `strconv.ParseFloat` in Prometheus, minus hex floats and digit
//! separators (its `parseFloat` refuses `p`, `P` and `_`). Rust's float parser accepts the same
//! decimal and `inf`/`infinity`/`nan` syntax with two exceptions, handled here: Go refuses a sign
//! before `NaN`, and Go reports overflow (`1e400`) as an error where Rust returns infinity.
//! The common short decimals (`3`, `-12.375`, `4.9351e-05`) skip the general parser: their
//! value is one exact division or multiplication away (see [`short_decimal`]).

/// Prometheus' NaN (`value.NormalNaN`, the same bits as Go's `math.NaN()`): every NaN it parses
/// is stored as this one, so ours are too.
pub(super) const NORMAL_NAN: f64 = f64::from_bits(0x7ff8_0000_0000_0001);

/// Why a number was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub(super) enum NumberError {
    #[error("unsupported character in float")]
    Unsupported,
    #[error("invalid syntax")]
    Syntax,
    #[error("value out of range")]
    Range,
    #[error("not a finite number")]
    NotFinite,
}

/// A sample value.
pub(super) fn float(s: &str) -> Result<f64, NumberError> {
    let bytes = s.as_bytes();
    if let Some(v) = short_decimal(bytes) {
        return Ok(v);
    }
    if bytes.iter().any(|b| matches!(b, b'p' | b'P' | b'_')) {
        return Err(NumberError::Unsupported);
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.len() != s.len() && unsigned.eq_ignore_ascii_case("nan") {
        return Err(NumberError::Syntax);
    }
    let v: f64 = s.parse().map_err(|_| NumberError::Syntax)?;
    if v.is_nan() {
        return Ok(NORMAL_NAN);
    }
    if v.is_infinite() && !unsigned.starts_with(['i', 'I']) {
        return Err(NumberError::Range);
    }
    Ok(v)
}

/// Powers of ten a f64 holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Most significant digits for which the digits read as an integer fit a f64's 53-bit
/// mantissa exactly.
const EXACT_DIGITS: usize = 15;

/// `[+-]digits[.digits][e[+-]digits]` with at most [`EXACT_DIGITS`] digits and a power of ten
/// within 10^±22, or None for anything else (the general parser decides those).
///
/// Such a number is an exact integer times or divided by an exact power of ten, so one
/// floating-point operation gives the correctly rounded value, as a full parser would
/// (Clinger's fast path). Parsing it here costs about a third of the general route.
fn short_decimal(b: &[u8]) -> Option<f64> {
    let (negative, b) = split_sign(b);
    let mut mantissa = 0u64;
    let mut digits = 0;
    let mut scale = 0i32;
    let mut i = 0;
    let mut in_fraction = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                if digits == EXACT_DIGITS {
                    return None;
                }
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
                scale -= i32::from(in_fraction);
            }
            b'.' if !in_fraction => in_fraction = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if let Some(exponent) = b.get(i..).filter(|rest| !rest.is_empty()) {
        scale += short_exponent(exponent)?;
    }
    let m = mantissa as f64;
    let v = match scale {
        0 => m,
        1..=22 => m * EXACT_POWERS_OF_TEN[scale as usize],
        -22..=-1 => m / EXACT_POWERS_OF_TEN[-scale as usize],
        _ => return None,
    };
    Some(if negative { -v } else { v })
}

/// `e[+-]digits` with one to three digits.
fn short_exponent(b: &[u8]) -> Option<i32> {
    let (e, rest) = b.split_first()?;
    if *e != b'e' && *e != b'E' {
        return None;
    }
    let (negative, digits) = split_sign(rest);
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0i32, |n, d| n * 10 + i32::from(d - b'0'));
    Some(if negative { -n } else { n })
}

/// Whether `b` starts with a minus, and `b` without its sign.
fn split_sign(b: &[u8]) -> (bool, &[u8]) {
    match b {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, b),
    }
}

/// A text-format timestamp: milliseconds as decimal digits (the lexer's `{D}+`; the caller
/// has checked the digits).
pub(super) fn millis(digits: &str) -> Result<i64, NumberError> {
    digits.parse().map_err(|_| NumberError::Range)
}

/// An OpenMetrics timestamp: float seconds, converted to milliseconds as Prometheus does
/// (`int64(ts * 1000)`, truncating toward zero).
pub(super) fn seconds_as_millis(s: &str) -> Result<i64, NumberError> {
    let seconds = float(s)?;
    if !seconds.is_finite() {
        return Err(NumberError::NotFinite);
    }
    Ok((seconds * 1000.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_parses_them() {
        use NumberError::*;
        for (s, want) in [
            ("0", Ok(0.0)),
            ("007", Ok(7.0)),
            ("123456789012345", Ok(123456789012345.0)),
            ("1234567890123456789", Ok(1234567890123456789.0)),
            ("99999999999999999999", Ok(1e20)),
            ("-0", Ok(-0.0)),
            ("+1.5", Ok(1.5)),
            ("1.", Ok(1.0)),
            (".5e-3", Ok(0.0005)),
            ("1E5", Ok(100000.0)),
            ("4.9351e-05", Ok(4.9351e-05)),
            ("7.424100000000001e-05", Ok(7.424100000000001e-05)),
            ("1e-400", Ok(0.0)),
            ("+Inf", Ok(f64::INFINITY)),
            ("-Inf", Ok(f64::NEG_INFINITY)),
            ("inf", Ok(f64::INFINITY)),
            ("-infinity", Ok(f64::NEG_INFINITY)),
            ("1e400", Err(Range)),
            ("-1e400", Err(Range)),
            ("+NaN", Err(Syntax)),
            ("-nan", Err(Syntax)),
            ("infin", Err(Syntax)),
            ("", Err(Syntax)),
            (".", Err(Syntax)),
            ("1e", Err(Syntax)),
            ("true", Err(Syntax)),
            ("0x10", Err(Syntax)),
            ("1,5", Err(Syntax)),
            ("0x1p-3", Err(Unsupported)),
            ("0x1P-3", Err(Unsupported)),
            ("1_2", Err(Unsupported)),
        ] {
            let got = float(s);
            assert_eq!(got, want, "{s:?}");
            if let (Ok(got), Ok(want)) = (got, want) {
                assert_eq!(got.to_bits(), want.to_bits(), "{s:?}: sign of zero");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn short_decimals_read_as_the_general_parser_reads_them(
            digits in "[0-9]{1,17}",
            point in 0usize..18,
            exponent in proptest::option::of(-30i32..30),
            negative in proptest::bool::ANY,
        ) {
            let point = point.min(digits.len());
            let mut s = format!("{}{}.{}", if negative { "-" } else { "" }, &digits[..point], &digits[point..]);
            if let Some(e) = exponent {
                s.push_str(&format!("e{e}"));
            }
            let want: f64 = s.parse().expect("a decimal");
            proptest::prop_assert_eq!(float(&s).map(f64::to_bits), Ok(want.to_bits()), "{}", s);
        }

        #[test]
        fn formatted_floats_read_back_exactly(v in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            for s in [format!("{v}"), format!("{v:e}"), format!("{v:.3}")] {
                let want: f64 = s.parse().expect("a float");
                proptest::prop_assert_eq!(float(&s).map(f64::to_bits), Ok(want.to_bits()), "{}", s);
            }
        }
    }

    #[test]
    fn every_nan_is_prometheus_nan() {
        for s in ["NaN", "nan", "NAN"] {
            assert_eq!(float(s).unwrap().to_bits(), NORMAL_NAN.to_bits(), "{s}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(millis("1395066363000"), Ok(1395066363000));
        assert_eq!(millis("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(millis("9223372036854775808"), Err(NumberError::Range));
        for (s, want) in [
            ("1520879607.789", Ok(1520879607789)),
            ("123.123", Ok(123123)),
            ("-1.5", Ok(-1500)),
            ("0.0009", Ok(0)),
            ("1e3", Ok(1_000_000)),
            ("NaN", Err(NumberError::NotFinite)),
            ("+Inf", Err(NumberError::NotFinite)),
            ("1_0", Err(NumberError::Unsupported)),
        ] {
            assert_eq!(seconds_as_millis(s), want, "{s:?}");
        }
    }
}
