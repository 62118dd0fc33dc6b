//! Durations written the Go way (`time.ParseDuration`: `1.5s`, `300ms`, `1h2m`, `-2us`), for
//! the keys of files Go programs read into a `time.Duration` rather than Prometheus'
//! `model.Duration`: exporter-toolkit's `rate_limit.interval`. Same grammar, same units (`ns`,
//! `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`; no days), same messages.

/// Nanoseconds per unit.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// `s` in nanoseconds, signed, within Go's `int64` range.
pub(super) fn parse_go_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = |t: &str| t.bytes().take_while(u8::is_ascii_digit).count();
        let whole_len = digits(rest);
        let whole = &rest[..whole_len];
        rest = &rest[whole_len..];
        let mut fraction = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let len = digits(after_dot);
            fraction = &after_dot[..len];
            rest = &after_dot[len..];
            if whole.is_empty() && fraction.is_empty() {
                return Err(invalid());
            }
        } else if whole.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {s:?}"));
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(&(_, nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(format!("time: unknown unit {unit:?} in duration {s:?}"));
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        // Go keeps the fraction's first digits that fit; 20 are more than nanoseconds need.
        let fraction = &fraction[..fraction.len().min(20)];
        let scale = 10u128.pow(fraction.len() as u32);
        let fraction: u128 = fraction.parse().unwrap_or(0);
        total = whole
            .checked_mul(nanos)
            .and_then(|w| w.checked_add(fraction * nanos / scale))
            .and_then(|v| total.checked_add(v))
            .filter(|t| *t <= i64::MAX as u128 + u128::from(negative))
            .ok_or_else(invalid)?;
    }
    let total = total as i128;
    Ok((if negative { -total } else { total }) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_go_does() {
        for (text, nanos) in [
            ("0", 0),
            ("-0", 0),
            ("1s", 1_000_000_000),
            ("+1.5s", 1_500_000_000),
            ("300ms", 300_000_000),
            ("1h2m3s", 3_723_000_000_000),
            ("-2us", -2_000),
            ("1µs", 1_000),
            (".5m", 30_000_000_000),
            ("2.s", 2_000_000_000),
            ("1.0000000001s", 1_000_000_000),
        ] {
            assert_eq!(parse_go_duration(text), Ok(nanos), "{text}");
        }
        for (text, error) in [
            ("", r#"time: invalid duration """#),
            ("1", r#"time: missing unit in duration "1""#),
            ("1d", r#"time: unknown unit "d" in duration "1d""#),
            (".s", r#"time: invalid duration ".s""#),
            ("s", r#"time: invalid duration "s""#),
            ("3000000h", r#"time: invalid duration "3000000h""#),
        ] {
            assert_eq!(parse_go_duration(text), Err(error.into()), "{text}");
        }
    }
}
