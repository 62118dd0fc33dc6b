//! Floats spelled as Go spells them, where Prometheus' output or its stored label values
//! depend on it: `/federate` writes values with Go's `strconv.FormatFloat(v, 'g', -1, 64)`, and
//! Prometheus 3 stores a classic histogram's `le` and a summary's `quantile` as
//! `labels.FormatOpenMetricsFloat` spells them.
//!
//! Rust and Go agree on the shortest round-trip digits; they differ in when they switch to an
//! exponent and how they write it, which is what this module reproduces. It appends to a
//! caller's buffer so the federate writer streams without building strings.

/// Appends Go's `%g` with the shortest round-trip digits of a finite `v`: scientific notation
/// when the decimal exponent is below -4 or at least 6 (Go fixes the threshold at 6 for
/// shortest formatting), with an exponent of at least two digits and an explicit sign.
pub fn push_g_shortest(out: &mut Vec<u8>, v: f64) {
    let mut buf = [0u8; 32];
    let (digits, exp) = match integral_digits(v, &mut buf) {
        Some(shortest) => shortest,
        None => shortest_digits(v, &mut buf),
    };
    if v.is_sign_negative() {
        out.push(b'-');
    }
    if !(-4..6).contains(&exp) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        // A f64's decimal exponent has at most three digits.
        let abs = exp.unsigned_abs();
        if abs >= 100 {
            out.push(b'0' + (abs / 100) as u8);
        }
        out.push(b'0' + (abs / 10 % 10) as u8);
        out.push(b'0' + (abs % 10) as u8);
        return;
    }
    // Fixed notation: the decimal point sits after `exp + 1` digits.
    let point = exp + 1;
    if point <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-point) as usize));
        out.extend_from_slice(digits);
    } else {
        let point = point as usize;
        if digits.len() <= point {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', point - digits.len()));
        } else {
            out.extend_from_slice(&digits[..point]);
            out.push(b'.');
            out.extend_from_slice(&digits[point..]);
        }
    }
}

/// Prometheus' `labels.FormatOpenMetricsFloat`: Go's `%g`, with `.0` appended when that has
/// neither a point nor an exponent (`1` → `1.0`, `1e+06` stays), and `+Inf`, `-Inf`, `NaN`.
pub fn format_openmetrics(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        // Go's `f == 0` holds for -0 too.
        return "0.0".into();
    }
    let mut out = Vec::with_capacity(24);
    push_g_shortest(&mut out, v);
    if !out.iter().any(|&b| b == b'.' || b == b'e') {
        out.extend_from_slice(b".0");
    }
    String::from_utf8(out).expect("digits, signs and points are ASCII")
}

/// Below this, every integer is a double and its neighbours are at most 1 away, so an
/// integral value's shortest round-trip digits are its decimal digits less trailing zeros.
const EXACT_INTEGERS: f64 = 1e15;

/// The shortest digits and decimal exponent of a nonzero integral `|v|` below
/// [`EXACT_INTEGERS`] — counters and most gauges — without the general algorithm.
fn integral_digits(v: f64, buf: &mut [u8; 32]) -> Option<(&[u8], i32)> {
    let abs = v.abs();
    if abs >= EXACT_INTEGERS || abs.fract() != 0.0 || abs == 0.0 {
        return None;
    }
    let mut n = abs as u64;
    let mut end = buf.len();
    while n > 0 {
        end -= 1;
        buf[end] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let exp = (buf.len() - end - 1) as i32;
    let digits = &buf[end..];
    let significant = digits.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
    Some((&digits[..significant], exp))
}

/// The shortest round-trip digits and decimal exponent of finite nonzero `|v|`, from Ryū
/// (the same digits as Go's shortest formatting; both round a tie to even), which spells
/// them `d.ddde±x`, `ddd.ddd` or `0.000ddd`.
fn shortest_digits(v: f64, buf: &mut [u8; 32]) -> (&[u8], i32) {
    let mut ryu = ryu::Buffer::new();
    let text = ryu.format_finite(v.abs()).as_bytes();
    let (mantissa, e10) = match text.iter().position(|&b| b == b'e') {
        Some(e) => {
            let exp = std::str::from_utf8(&text[e + 1..])
                .ok()
                .and_then(|x| x.parse::<i32>().ok())
                .expect("Ryū's exponent is an integer");
            (&text[..e], exp)
        }
        None => (text, 0),
    };
    let point = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len());
    let (mut n, mut leading) = (0, 0);
    for &d in mantissa.iter().filter(|&&b| b != b'.') {
        if n == 0 && d == b'0' {
            leading += 1;
        } else {
            buf[n] = d;
            n += 1;
        }
    }
    if n == 0 {
        buf[0] = b'0'; // zero: one digit, exponent 0
        return (&buf[..1], 0);
    }
    while n > 1 && buf[n - 1] == b'0' {
        n -= 1;
    }
    let exp = point as i32 - 1 - leading + e10;
    let digits = &mut buf[..n];
    break_tie_to_even(v.abs(), digits, exp);
    (digits, exp)
}

/// Where two shortest digit strings are equally close to `v` (its exact value is their
/// midpoint), Go's `strconv` takes the one ending in an even digit and Rust's formatter the
/// upper one: `1044502640421207.25` is `1.0445026404212072e+15` in Go, `…073e15` in Rust.
/// Only an odd last digit whose lower neighbour also reads back as `v` can be such a tie, so
/// the exact expansion is consulted only then.
fn break_tie_to_even(v: f64, digits: &mut [u8], exp: i32) {
    let Some(&last) = digits.last() else {
        return;
    };
    if (last - b'0').is_multiple_of(2) {
        return;
    }
    let mut lower = digits.to_vec();
    *lower.last_mut().expect("not empty") -= 1;
    // `d.ddde±x` on the stack: this runs for half of all values, and rarely goes further.
    let mut text = [0u8; 40];
    text[0] = lower[0];
    text[1] = b'.';
    text[2..lower.len() + 1].copy_from_slice(&lower[1..]);
    let mut end = lower.len() + 1;
    text[end] = b'e';
    end += 1;
    let mut exp_text = Vec::with_capacity(4);
    crate::expfmt::push_i64(&mut exp_text, i64::from(exp));
    text[end..end + exp_text.len()].copy_from_slice(&exp_text);
    end += exp_text.len();
    let reads_back = std::str::from_utf8(&text[..end])
        .ok()
        .and_then(|t| t.parse::<f64>().ok());
    if reads_back != Some(v) {
        return;
    }
    // A double's exact decimal expansion has at most 767 significant digits.
    let exact = format!("{v:.800e}");
    let mantissa = exact[..exact.find('e').expect("an exponent")].replace('.', "");
    let (head, tail) = mantissa.split_at(lower.len());
    if head.as_bytes() == lower.as_slice()
        && tail.starts_with('5')
        && tail[1..].bytes().all(|d| d == b'0')
    {
        *digits.last_mut().expect("not empty") -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: f64) -> String {
        let mut out = Vec::new();
        push_g_shortest(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    /// The digits as core's `{:e}` gives them (the implementation before Ryū), tie fixed.
    fn core_digits(v: f64) -> (Vec<u8>, i32) {
        let text = format!("{:e}", v.abs());
        let (mantissa, exp) = text.split_once('e').unwrap();
        let mut digits: Vec<u8> = mantissa.bytes().filter(|&b| b != b'.').collect();
        let exp: i32 = exp.parse().unwrap();
        break_tie_to_even(v.abs(), &mut digits, exp);
        (digits, exp)
    }

    #[test]
    fn ryu_digits_equal_cores_over_random_doubles() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut buf = [0u8; 32];
        for i in 0..400_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Every other one a "human" value: small integers scaled by powers of ten.
            let v = match i % 2 {
                0 => f64::from_bits(x),
                _ => (x % 1_000_000) as f64 / 10f64.powi((x >> 40) as i32 % 12),
            };
            if !v.is_finite() || v == 0.0 {
                continue;
            }
            let (digits, exp) = shortest_digits(v, &mut buf);
            assert_eq!(
                (digits.to_vec(), exp),
                core_digits(v),
                "{v:e} ({:#x})",
                v.to_bits()
            );
        }
    }

    #[test]
    fn shortest_g_is_spelled_like_go() {
        // Expected strings are Go's strconv.FormatFloat(v, 'g', -1, 64).
        for (v, want) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (2.0, "2"),
            (0.5, "0.5"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (100000.0, "100000"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e21, "1e+21"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (-3.25, "-3.25"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.6e9, "1.6e+09"),
            (999999.0, "999999"),
            (-1234567.0, "-1.234567e+06"),
            (-120.0, "-120"),
            (-0.00012, "-0.00012"),
            (1e15, "1e+15"),
            (123456789012345.0, "1.23456789012345e+14"),
            (1e100, "1e+100"),
        ] {
            assert_eq!(g(v), want, "{v:?}");
        }
    }

    #[test]
    // The literals spell the doubles' exact values: that each is a midpoint is the point.
    #[allow(clippy::excessive_precision)]
    fn ties_between_shortest_candidates_go_to_even_as_in_go() {
        // Printed by promtool 2.42 (`tsdb dump`, Go's %g) for these exact doubles.
        for (v, want) in [
            (1044502640421207.25, "1.0445026404212072e+15"),
            (1044502640421207.75, "1.0445026404212078e+15"),
            (1044502640421206.75, "1.0445026404212068e+15"),
            (1044502640421206.25, "1.0445026404212062e+15"),
            (1044502640421209.25, "1.0445026404212092e+15"),
            (1044502640421209.75, "1.0445026404212098e+15"),
            (-1044502640421207.25, "-1.0445026404212072e+15"),
        ] {
            assert_eq!(g(v), want, "{v}");
        }
    }

    #[test]
    fn openmetrics_floats_are_spelled_like_prometheus() {
        // Expected strings are Prometheus' labels.FormatOpenMetricsFloat.
        for (v, want) in [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "0.0"),
            (-1.0, "-1.0"),
            (5.0, "5.0"),
            (-120.0, "-120.0"),
            (0.005, "0.005"),
            (0.25, "0.25"),
            (2.5, "2.5"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_openmetrics(v), want, "{v:?}");
        }
    }

    #[test]
    fn integral_shortcut_agrees_with_shortest_digits() {
        let mut values = vec![
            1.0,
            7.0,
            10.0,
            100.0,
            120.0,
            999_999.0,
            1e6,
            1_234_567.0,
            1e14,
            999_999_999_999_999.0,
            123_456_789_012_345.0,
            4_503_599_627_370_497.0,
        ];
        values.extend((0..2000).map(|i| f64::from(i * i * 37)));
        for v in values {
            let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
            let general = shortest_digits(v, &mut b);
            match integral_digits(v, &mut a) {
                Some(shortcut) => assert_eq!(shortcut, general, "{v}"),
                None => assert!(v >= EXACT_INTEGERS || v == 0.0, "{v}"),
            }
        }
    }
}
