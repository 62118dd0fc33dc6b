//! Calendar arithmetic in UTC for PromQL's date functions (`day_of_month()`, `hour()`, …) and
//! for timestamps in messages. The plugin has no clock and no time zone database; everything
//! is UTC, as in Prometheus.

/// A UTC calendar time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday, as Go's `time.Weekday`.
    pub weekday: u32,
    /// 1-based day of the year.
    pub yearday: u32,
}

/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Civil {
    /// The calendar time of `secs` seconds after the Unix epoch.
    pub fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let yearday = (1..month).map(|m| days_in_month(year, m)).sum::<u32>() + day;
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            weekday: (days + 4).rem_euclid(7) as u32,
            yearday,
        }
    }
}

/// `time.Unix(ms/1000, 0).UTC().Format(time.RFC3339)`.
pub(crate) fn rfc3339(ms: i64) -> String {
    let c = Civil::from_unix(ms / 1000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Prometheus' `model.ParseDuration`: units `y`, `w`, `d`, `h`, `m`, `s`, `ms` in that order,
/// each at most once (`1h30m`, `10s`, `0`), in milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let invalid = || format!("not a valid duration string: {text:?}");
    if text == "0" {
        return Ok(0);
    }
    let mut rest = text;
    let mut total: i64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let i = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(invalid)?
            + next_unit;
        next_unit = i + 1;
        total = n
            .checked_mul(UNITS[i].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(invalid)?;
    }
    if text.is_empty() {
        return Err(invalid());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        let cases = [
            (0, "1970-01-01T00:00:00Z", 4, 1),
            (951_782_400, "2000-02-29T00:00:00Z", 2, 60),
            (1_700_000_000, "2023-11-14T22:13:20Z", 2, 318),
            (-1, "1969-12-31T23:59:59Z", 3, 365),
        ];
        for (secs, text, weekday, yearday) in cases {
            assert_eq!(rfc3339(secs * 1000), text);
            let c = Civil::from_unix(secs);
            assert_eq!((c.weekday, c.yearday), (weekday, yearday), "{text}");
        }
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
    }

    #[test]
    fn durations() {
        let cases = [
            ("0", Ok(0)),
            ("0s", Ok(0)),
            ("1h30m", Ok(5_400_000)),
            ("100ms", Ok(100)),
            ("1d", Ok(86_400_000)),
            ("5m", Ok(300_000)),
            ("", Err(())),
            ("1", Err(())),
            ("30m1h", Err(())),
            ("1x", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration_ms(text).map_err(|_| ()), want, "{text:?}");
        }
    }
}
