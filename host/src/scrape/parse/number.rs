//! Sample values and timestamps, read as Prometheus reads them.
//!
//! Values go through Go's `strconv.ParseFloat` in Prometheus, minus hex floats and digit
//! separators (its `parseFloat` refuses `p`, `P` and `_`). Rust's float parser accepts the same
//! decimal and `inf`/`infinity`/`nan` syntax with two exceptions, handled here: Go refuses a sign
//! before `NaN`, and Go reports overflow (`1e400`) as an error where Rust returns infinity.
//! Plain integers, the most common values, skip the general parser.

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
    // Up to 15 digits fit a f64's 53-bit mantissa exactly, so this is the correctly rounded value.
    if !bytes.is_empty() && bytes.len() <= 15 && bytes.iter().all(u8::is_ascii_digit) {
        let n = bytes.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        return Ok(n as f64);
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
