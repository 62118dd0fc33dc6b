//! Byte sizes such as `body_size_limit: 10MB`, read as Prometheus reads them
//! (`units.ParseBase2Bytes` from alecthomas/units).
//!
//! Every unit is a power of 1024, whether written `KB` or `KiB` (`kB` is refused); fractions and
//! sequences are allowed (`1.5MB`, `1MB512KB`); a bare number other than `0` is refused because it
//! has no unit. A negative size parses (Prometheus then treats it as "no limit").

use super::yaml::parse_scalar;
use serde::{Deserialize, Deserializer};

/// Why a size string was rejected; the texts are those of the Go library.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("units: invalid {0}")]
    Invalid(String),
    #[error("units: unknown unit {unit} in {input}")]
    UnknownUnit { unit: String, input: String },
    #[error("units: overflow parsing unit")]
    Overflow,
}

const IEC_UNITS: [(&str, f64); 7] = [
    ("B", 1.0),
    ("KiB", 1024.0),
    ("MiB", 1048576.0),
    ("GiB", 1073741824.0),
    ("TiB", 1099511627776.0),
    ("PiB", 1125899906842624.0),
    ("EiB", 1152921504606846976.0),
];

const OLD_UNITS: [(&str, f64); 7] = [
    ("B", 1.0),
    ("KB", 1024.0),
    ("MB", 1048576.0),
    ("GB", 1073741824.0),
    ("TB", 1099511627776.0),
    ("PB", 1125899906842624.0),
    ("EB", 1152921504606846976.0),
];

/// Parses a size in bytes the way `units.ParseBase2Bytes` does: IEC units first, then the old
/// spelling, reporting the second attempt's error if both fail.
pub fn parse_base2_bytes(s: &str) -> Result<i64, SizeError> {
    parse_unit(s, &IEC_UNITS).or_else(|_| parse_unit(s, &OLD_UNITS))
}

/// A port of `units.ParseUnit`: `[-+]?([0-9]*(\.[0-9]*)?[a-zA-Z]+)+`.
fn parse_unit(orig: &str, units: &[(&str, f64)]) -> Result<i64, SizeError> {
    let invalid = || SizeError::Invalid(orig.to_string());
    let mut s = orig.as_bytes();
    let mut negative = false;
    if let Some(&sign @ (b'-' | b'+')) = s.first() {
        negative = sign == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let (whole, whole_len, rest) = leading_int(s).ok_or_else(invalid)?;
        s = rest;
        let mut value = whole as f64;
        let mut fraction_len = 0;
        if s.first() == Some(&b'.') {
            let (fraction, len, rest) = leading_int(&s[1..]).ok_or_else(invalid)?;
            s = rest;
            value += fraction as f64 / 10f64.powi(len as i32);
            fraction_len = len;
        }
        if whole_len == 0 && fraction_len == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .take_while(|&&c| !(c == b'.' || c.is_ascii_digit()))
            .count();
        // The unit ends at an ASCII byte or at the end, so it is whole UTF-8.
        let unit = String::from_utf8_lossy(&s[..unit_len]);
        s = &s[unit_len..];
        let mult = units
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, mult)| *mult)
            .ok_or_else(|| SizeError::UnknownUnit {
                unit: unit.to_string(),
                input: orig.to_string(),
            })?;
        total += value * mult;
    }
    if negative {
        total = -total;
    }
    if total < -(2f64.powi(63)) || total > 2f64.powi(63) - 1.0 {
        return Err(SizeError::Overflow);
    }
    Ok(total as i64)
}

/// Consumes leading digits: their value, how many there were and the rest; None on overflow.
fn leading_int(s: &[u8]) -> Option<(i64, usize, &[u8])> {
    let mut x: i64 = 0;
    let len = s.iter().take_while(|c| c.is_ascii_digit()).count();
    for &c in &s[..len] {
        if x >= (i64::MAX - 10) / 10 {
            return None;
        }
        x = x * 10 + i64::from(c - b'0');
    }
    Some((x, len, &s[len..]))
}

/// A size in bytes as written in YAML; negative means "no limit" to Prometheus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Size(pub i64);

impl Size {
    /// The limit this size sets, 0 for none.
    pub(super) fn limit(self) -> u64 {
        self.0.max(0) as u64
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_scalar(d, "a size such as 10MB", |s| {
            parse_base2_bytes(s).map(Size).map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (input, bytes) in [
            ("0", 0),
            ("0B", 0),
            ("512B", 512),
            ("1KB", 1024),
            ("1KiB", 1024),
            ("10MB", 10 << 20),
            ("10MiB", 10 << 20),
            ("1GB", 1 << 30),
            ("2TiB", 2 << 40),
            ("1.5MB", 3 << 19),
            ("1MB512KB", (1 << 20) + (512 << 10)),
            (".5KB", 512),
            ("-1MB", -(1 << 20)),
            ("+2KB", 2048),
        ] {
            assert_eq!(parse_base2_bytes(input), Ok(bytes), "{input}");
        }
    }

    #[test]
    fn size_errors() {
        for (input, message) in [
            ("", "units: invalid "),
            ("1024", "units: unknown unit  in 1024"),
            ("1kB", "units: unknown unit kB in 1kB"),
            ("1MiB512KB", "units: unknown unit MiB in 1MiB512KB"),
            ("10 MB", "units: unknown unit  MB in 10 MB"),
            ("MB", "units: invalid MB"),
            (".KB", "units: invalid .KB"),
            ("9EB", "units: overflow parsing unit"),
            (
                "99999999999999999999B",
                "units: invalid 99999999999999999999B",
            ),
        ] {
            let err = parse_base2_bytes(input).expect_err(input).to_string();
            assert_eq!(err, message, "{input}");
        }
    }
}
