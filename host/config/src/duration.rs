//! Durations written the Prometheus way: `15s`, `1m30s`, `5d`, `2w`, `1y`, `100ms`, `0`.
//!
//! A port of `model.ParseDuration` and `model.Duration.String()` from prometheus/common, because
//! operators copy durations out of their prometheus.yml and expect the same ones to be accepted,
//! rejected (`1.5h`, `1d1m1d`, `-5m`, `15` without a unit) and printed back (`90d`, not `12w6d`).
//! Units must go from largest to smallest, a day is 24h, a week 7d and a year 365d; the precision
//! is a millisecond when printed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::yaml::parse_scalar;

const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000 * MS;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
const YEAR: u64 = 365 * DAY;

/// Units by rank (largest first) and length in nanoseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", YEAR),
    ("w", WEEK),
    ("d", DAY),
    ("h", HOUR),
    ("m", MINUTE),
    ("s", SECOND),
    ("ms", MS),
];

/// A non-negative duration read from or written to a Prometheus-style configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    pub const ZERO: Duration = Duration(std::time::Duration::ZERO);

    pub const fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    pub const fn from_millis(millis: u64) -> Self {
        Duration(std::time::Duration::from_millis(millis))
    }

    pub const fn as_std(self) -> std::time::Duration {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

/// Why a duration string was rejected; the texts are Prometheus' own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration string")]
    Empty,
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit { unit: String, input: String },
    #[error("duration out of range")]
    OutOfRange,
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, DurationError> {
        match s {
            "0" => return Ok(Duration::ZERO),
            "" => return Err(DurationError::Empty),
            _ => {}
        }
        let invalid = || DurationError::Invalid(s.to_string());
        let mut rest = s.as_bytes();
        let mut total: u64 = 0;
        // Rank of the last unit seen; units must strictly decrease in size.
        let mut last_rank: Option<usize> = None;
        while !rest.is_empty() {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return Err(invalid());
            }
            let value: u64 = std::str::from_utf8(&rest[..digits])
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or_else(invalid)?;
            rest = &rest[digits..];
            let unit_len = rest.iter().take_while(|b| !b.is_ascii_digit()).count();
            if unit_len == 0 {
                return Err(invalid());
            }
            // The unit ends at an ASCII digit or at the end, so it is whole UTF-8.
            let unit = String::from_utf8_lossy(&rest[..unit_len]);
            rest = &rest[unit_len..];
            let (rank, mult) = UNITS
                .iter()
                .enumerate()
                .find(|(_, (name, _))| *name == unit)
                .map(|(rank, (_, mult))| (rank, *mult))
                .ok_or_else(|| DurationError::UnknownUnit {
                    unit: unit.to_string(),
                    input: s.to_string(),
                })?;
            if last_rank.is_some_and(|last| rank <= last) {
                return Err(invalid());
            }
            last_rank = Some(rank);
            // Go's time.Duration is an int64 of nanoseconds: keep within it.
            if value > (1u64 << 63) / mult {
                return Err(DurationError::OutOfRange);
            }
            total += value * mult;
            if total > i64::MAX as u64 {
                return Err(DurationError::OutOfRange);
            }
        }
        Ok(Duration(std::time::Duration::from_nanos(total)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (i, (unit, nanos)) in UNITS.iter().enumerate() {
            let mult = u128::from(nanos / MS);
            // Years and weeks only when exact: `90d` reads better than `12w6d`.
            let exact_only = i < 2;
            if exact_only && !ms.is_multiple_of(mult) {
                continue;
            }
            let v = ms / mult;
            if v > 0 {
                write!(f, "{v}{unit}")?;
                ms -= v * mult;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_scalar(d, "a duration such as 15s or 1m30s", |s| {
            s.parse().map_err(|e: DurationError| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        // input, milliseconds, how Prometheus prints it back
        for (input, ms, shown) in [
            ("0", 0, "0s"),
            ("0s", 0, "0s"),
            ("100ms", 100, "100ms"),
            ("15s", 15_000, "15s"),
            ("1m30s", 90_000, "1m30s"),
            ("90s", 90_000, "1m30s"),
            ("1h", 3_600_000, "1h"),
            ("5d", 5 * 86_400_000, "5d"),
            ("2w", 14 * 86_400_000, "2w"),
            ("1y", 365 * 86_400_000, "1y"),
            ("90d", 90 * 86_400_000, "90d"),
            ("1d1h1m1s1ms", 90_061_001, "1d1h1m1s1ms"),
            ("1w2d", 9 * 86_400_000, "9d"),
            ("52w1d", 365 * 86_400_000, "1y"),
            ("1y1d", 366 * 86_400_000, "366d"),
            ("1500ms", 1_500, "1s500ms"),
        ] {
            let d: Duration = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(d, Duration::from_millis(ms), "{input}");
            assert_eq!(d.to_string(), shown, "{input}");
            assert_eq!(shown.parse::<Duration>(), Ok(d), "round trip of {shown}");
        }
    }

    #[test]
    fn parse_errors() {
        for (input, message) in [
            ("", "empty duration string"),
            ("15", r#"not a valid duration string: "15""#),
            ("1.5h", r#"unknown unit "." in duration "1.5h""#),
            ("-5m", r#"not a valid duration string: "-5m""#),
            ("m", r#"not a valid duration string: "m""#),
            ("1m1h", r#"not a valid duration string: "1m1h""#),
            ("1d1d", r#"not a valid duration string: "1d1d""#),
            ("5 m", r#"unknown unit " m" in duration "5 m""#),
            ("3x", r#"unknown unit "x" in duration "3x""#),
            ("1M", r#"unknown unit "M" in duration "1M""#),
            ("300y", "duration out of range"),
            ("106751d23h47m16s855ms", "duration out of range"),
            (
                "99999999999999999999s",
                r#"not a valid duration string: "99999999999999999999s""#,
            ),
        ] {
            let err = input.parse::<Duration>().expect_err(input).to_string();
            assert!(err.contains(message), "{input}: {err}");
        }
        // The largest whole millisecond Go's int64 nanoseconds can hold still parses.
        assert!("106751d23h47m16s854ms".parse::<Duration>().is_ok());
    }
}
