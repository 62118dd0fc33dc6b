//! Go's `time.Time` as templates meet it (`humanizeTimestamp`, `toTime`): always UTC, printed
//! by `String` and by `Format` with Go's reference-time layouts (`2006-01-02 15:04:05`).

use std::fmt::Write as _;

/// A UTC instant broken down into calendar fields.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    /// 0 is Sunday.
    weekday: u32,
    /// 1-based day of the year.
    yday: u32,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn civil(nanos: i64) -> Civil {
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's days_from_civil, inverted.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let before = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334][month as usize - 1];
    let yday = before + day + u32::from(leap && month > 2);
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
        nanos: sub,
        weekday: (days + 4).rem_euclid(7) as u32,
        yday,
    }
}

/// `Time.String()` of a UTC time: `2015-06-23 13:19:44.128 +0000 UTC`.
pub(super) fn time_string(nanos: i64) -> String {
    format(nanos, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// `Time.Format(layout)` of a UTC time.
pub(super) fn format(nanos: i64, layout: &str) -> String {
    let t = civil(nanos);
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        let (consumed, text) = element(&t, rest);
        if consumed == 0 {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        } else {
            out.push_str(&text);
            rest = &rest[consumed..];
        }
    }
    out
}

/// The layout element at the start of `s`: bytes consumed (0 for none) and its text.
fn element(t: &Civil, s: &str) -> (usize, String) {
    let hour12 = match t.hour % 12 {
        0 => 12,
        h => h,
    };
    let pm = t.hour >= 12;
    let table: [(&str, String); 31] = [
        ("January", MONTHS[t.month as usize - 1].to_string()),
        ("Jan", MONTHS[t.month as usize - 1][..3].to_string()),
        ("Monday", DAYS[t.weekday as usize].to_string()),
        ("Mon", DAYS[t.weekday as usize][..3].to_string()),
        ("MST", "UTC".to_string()),
        ("2006", format!("{:04}", t.year)),
        ("Z07:00", "Z".to_string()),
        ("Z0700", "Z".to_string()),
        ("Z07", "Z".to_string()),
        ("-07:00:00", "+00:00:00".to_string()),
        ("-070000", "+000000".to_string()),
        ("-07:00", "+00:00".to_string()),
        ("-0700", "+0000".to_string()),
        ("-07", "+00".to_string()),
        ("002", format!("{:03}", t.yday)),
        ("__2", format!("{:>3}", t.yday)),
        ("01", format!("{:02}", t.month)),
        ("02", format!("{:02}", t.day)),
        ("03", format!("{hour12:02}")),
        ("04", format!("{:02}", t.minute)),
        ("05", format!("{:02}", t.second)),
        ("06", format!("{:02}", t.year.rem_euclid(100))),
        ("15", format!("{:02}", t.hour)),
        ("_2", format!("{:>2}", t.day)),
        ("PM", if pm { "PM" } else { "AM" }.to_string()),
        ("pm", if pm { "pm" } else { "am" }.to_string()),
        ("1", t.month.to_string()),
        ("2", t.day.to_string()),
        ("3", hour12.to_string()),
        ("4", t.minute.to_string()),
        ("5", t.second.to_string()),
    ];
    // Fractional seconds: `.000` or `,000` keep zeros, `.999` drops trailing ones; only after
    // a digit-free position, as Go reads them.
    if let Some(sep @ ('.' | ',')) = s.chars().next() {
        let run: usize = s[1..]
            .bytes()
            .take_while(|&b| b == s.as_bytes()[1] && (b == b'0' || b == b'9'))
            .count();
        let next = s[1 + run..].bytes().next();
        if run > 0 && !next.is_some_and(|b| b.is_ascii_digit()) {
            let digits = format!("{:09}", t.nanos);
            let mut frac = digits[..run.min(9)].to_string();
            if s.as_bytes()[1] == b'9' {
                while frac.ends_with('0') {
                    frac.pop();
                }
                if frac.is_empty() {
                    return (run + 1, String::new());
                }
            }
            let mut out = String::new();
            out.push(sep);
            let _ = write!(out, "{frac}");
            return (run + 1, out);
        }
    }
    for (name, text) in table {
        if let Some(after) = s.strip_prefix(name) {
            // Go reads `Jan` and `Mon` only when no lower-case letter follows (`Month` is
            // text); `January` and `Monday` come first in the table.
            if matches!(name, "Jan" | "Mon") && after.starts_with(|c: char| c.is_ascii_lowercase())
            {
                continue;
            }
            return (name.len(), text);
        }
    }
    (0, String::new())
}
