//! Writing the Prometheus text format 0.0.4 byte for byte as Prometheus' Go `expfmt` does.
//!
//! `/federate` consumers diff, hash and re-ingest what we write, so "equivalent" is not enough:
//! floats use Go's `strconv.FormatFloat(v, 'g', -1, 64)` spelling (`1e+06`, `1.5e-07`, `+Inf`),
//! label values use the format's three escapes. Everything appends to a caller's buffer so the
//! federate writer streams without building intermediate strings.

/// Appends `v` as Go's expfmt writes a sample value (`writeFloat` in prometheus/common's
/// `text_create.go`): its shortcut `case f == 0` is taken by -0 too, so -0 is written `0`.
pub fn push_float(out: &mut Vec<u8>, v: f64) {
    if v == 1.0 {
        out.push(b'1');
    } else if v == 0.0 {
        out.push(b'0');
    } else if v == -1.0 {
        out.extend_from_slice(b"-1");
    } else if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else {
        push_go_g_shortest(out, v);
    }
}

/// Go's `%g` with the shortest round-trip digits: scientific notation when the decimal
/// exponent is below -4 or at least 6 (Go fixes the threshold at 6 for shortest formatting),
/// with an exponent of at least two digits and an explicit sign.
fn push_go_g_shortest(out: &mut Vec<u8>, v: f64) {
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
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push(b'0');
        }
        push_i64(out, i64::from(abs));
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

/// The shortest round-trip digits and decimal exponent of finite nonzero `|v|`: Rust's `{:e}`
/// yields the same digits as Go's shortest formatting, as `d.ddde±x`.
fn shortest_digits(v: f64, buf: &mut [u8; 32]) -> (&[u8], i32) {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(cursor, "{:e}", v.abs()).expect("a shortest f64 fits in 32 bytes");
    let len = cursor.position() as usize;
    let e = buf[..len]
        .iter()
        .position(|&b| b == b'e')
        .expect("{:e} always has an exponent");
    let exp = std::str::from_utf8(&buf[e + 1..len])
        .ok()
        .and_then(|x| x.parse().ok())
        .expect("{:e} exponent is an integer");
    // Drop the point after the first digit by moving that digit right by one.
    if e > 1 {
        buf[1] = buf[0];
        (&buf[1..e], exp)
    } else {
        (&buf[..1], exp)
    }
}

/// Appends a label value with the text format's escapes: `\\`, `\"` and `\n`.
pub fn push_label_value(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            b'\n' => b"\\n",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends a decimal integer (timestamps) without going through `fmt`.
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut out = Vec::new();
        push_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_are_spelled_like_go() {
        // Expected strings are expfmt's writeFloat: its shortcuts, then Go's
        // strconv.FormatFloat(v, 'g', -1, 64) (which alone would write -0 as "-0").
        for (v, want) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
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
            (12.5, "12.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1.6e9, "1.6e+09"),
            (999999.0, "999999"),
            (-1234567.0, "-1.234567e+06"),
            (-120.0, "-120"),
            (1200000.0, "1.2e+06"),
            (-0.00012, "-0.00012"),
            (1e15, "1e+15"),
            (123456789012345.0, "1.23456789012345e+14"),
        ] {
            assert_eq!(float(v), want, "{v:?}");
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
        ];
        values.extend([
            999_999_999_999_999.0,
            123_456_789_012_345.0,
            4_503_599_627_370_497.0,
        ]);
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

    #[test]
    fn label_values_are_escaped() {
        for (v, want) in [
            ("plain", "plain"),
            ("a\"b", "a\\\"b"),
            ("back\\slash", "back\\\\slash"),
            ("two\nlines", "two\\nlines"),
            ("tab\tstays", "tab\tstays"),
            ("", ""),
        ] {
            let mut out = Vec::new();
            push_label_value(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn integers() {
        for v in [0i64, 7, -7, 1_700_000_000_123, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            push_i64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }
}
