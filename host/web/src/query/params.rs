//! The query API's parameters, parsed and refused as Prometheus' `web/api/v1` does: the same
//! formats (Unix seconds or RFC 3339 times, float seconds or `1m30s` durations) and the same
//! error texts, which clients such as Grafana show to their users.

use std::time::{Duration, SystemTime};

use wasmfed_model::clock::unix_millis;

/// Prometheus' limit on the points of one series in a range query.
const MAX_POINTS: i128 = 11_000;

/// A refused parameter: the text of Prometheus' `bad_data` error.
pub type Refusal = String;

/// `name`'s value in a form; the first if repeated, as Go's `FormValue`.
pub fn value<'f>(form: &'f [(String, String)], name: &str) -> Option<&'f str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Prometheus' `parseTime`: Unix seconds (fraction rounded to milliseconds) or RFC 3339.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() {
            let whole = secs.trunc();
            let frac = ((secs - whole) * 1000.0).round();
            return Ok(whole as i64 * 1000 + frac as i64);
        }
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("cannot parse {s:?} to a valid timestamp"))
}

/// Prometheus' `parseDuration`, in nanoseconds: seconds as a float (negative allowed), or a
/// duration like `1m30s`.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        let nanos = secs * 1e9;
        if nanos.is_nan() || nanos >= i64::MAX as f64 || nanos < i64::MIN as f64 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(nanos as i64);
    }
    s.parse::<wasmfed_config::Duration>()
        .map(|d| d.as_std().as_nanos().min(i64::MAX as u128) as i64)
        .map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

/// `invalid parameter "<name>": <reason>`, Prometheus' `invalidParamError`.
pub fn invalid(name: &str, reason: &str) -> Refusal {
    format!("invalid parameter {name:?}: {reason}")
}

/// `name` as Prometheus' `parseTimeParam` reads it: `default` when absent or empty.
pub fn time_param(form: &[(String, String)], name: &str, default: i64) -> Result<i64, Refusal> {
    match value(form, name) {
        None | Some("") => Ok(default),
        Some(t) => parse_time(t)
            .map_err(|e| invalid(name, &format!("Invalid time value for '{name}': {e}"))),
    }
}

/// An instant query's `time`: now when absent or empty.
pub fn instant_time(form: &[(String, String)]) -> Result<i64, Refusal> {
    match value(form, "time").filter(|t| !t.is_empty()) {
        None => Ok(unix_millis(SystemTime::now())),
        Some(t) => parse_time(t).map_err(|e| invalid("time", &e)),
    }
}

/// The request's `timeout`, capped by `max` (`--query.timeout`); a negative one is spent at
/// once, as Go's context with a deadline in the past.
pub fn timeout(form: &[(String, String)], max: Duration) -> Result<Duration, Refusal> {
    match value(form, "timeout").filter(|t| !t.is_empty()) {
        None => Ok(max),
        Some(asked) => {
            let nanos = parse_duration(asked).map_err(|e| invalid("timeout", &e))?;
            Ok(max.min(Duration::from_nanos(nanos.max(0) as u64)))
        }
    }
}

/// A range query's evaluation times, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// `start`, `end` and `step` of `/api/v1/query_range`, checked in Prometheus' order.
pub fn range(form: &[(String, String)]) -> Result<Range, Refusal> {
    let time =
        |name| parse_time(value(form, name).unwrap_or_default()).map_err(|e| invalid(name, &e));
    let start_ms = time("start")?;
    let end_ms = time("end")?;
    if end_ms < start_ms {
        return Err(invalid(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step =
        parse_duration(value(form, "step").unwrap_or_default()).map_err(|e| invalid("step", &e))?;
    if step <= 0 {
        return Err(invalid(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    // Go divides the two durations in nanoseconds.
    if (i128::from(end_ms) - i128::from(start_ms)) * 1_000_000 / i128::from(step) > MAX_POINTS {
        return Err(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing \
                    the query resolution (?step=XX)"
                .into(),
        );
    }
    Ok(Range {
        start_ms,
        end_ms,
        // Prometheus truncates to milliseconds; below one, a single step is all there is.
        step_ms: (step / 1_000_000).max(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn times_parse_as_prometheus_parses_them() {
        let cases = [
            ("1700000000", Ok(1_700_000_000_000)),
            ("1700000000.1234", Ok(1_700_000_000_123)),
            ("2023-11-14T22:13:20Z", Ok(1_700_000_000_000)),
            ("2023-11-14T22:13:20.5+00:00", Ok(1_700_000_000_500)),
            (
                "yesterday",
                Err(r#"cannot parse "yesterday" to a valid timestamp"#.to_string()),
            ),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s), want, "{s}");
        }
    }

    #[test]
    fn durations_parse_as_prometheus_parses_them() {
        let cases = [
            ("30s", Ok(30_000_000_000)),
            ("1.5", Ok(1_500_000_000)),
            ("1m30s", Ok(90_000_000_000)),
            ("-1", Ok(-1_000_000_000)),
            ("0.0005", Ok(500_000)),
            ("abc", Err(r#"cannot parse "abc" to a valid duration"#)),
            (
                "1e300",
                Err(r#"cannot parse "1e300" to a valid duration. It overflows int64"#),
            ),
        ];
        for (s, want) in cases {
            assert_eq!(parse_duration(s), want.map_err(String::from), "{s}");
        }
        let max = Duration::from_secs(120);
        assert_eq!(timeout(&form(&[("timeout", "2m30s")]), max), Ok(max));
        assert_eq!(
            timeout(&form(&[("timeout", "1.5")]), max),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(
            timeout(&form(&[("timeout", "-3")]), max),
            Ok(Duration::ZERO)
        );
        assert_eq!(timeout(&form(&[("timeout", "")]), max), Ok(max));
    }

    #[test]
    fn range_parameters_are_refused_as_prometheus_refuses_them() {
        let ok = |start, end, step| {
            Ok(Range {
                start_ms: start,
                end_ms: end,
                step_ms: step,
            })
        };
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<Range, &'a str>);
        let cases: &[Case] = &[
            (
                &[("start", "10"), ("end", "70"), ("step", "15")],
                ok(10_000, 70_000, 15_000),
            ),
            (
                &[("start", "10"), ("end", "10"), ("step", "1m")],
                ok(10_000, 10_000, 60_000),
            ),
            (
                &[("start", "10"), ("end", "10"), ("step", "0.0001")],
                ok(10_000, 10_000, 1),
            ),
            (
                &[("start", "0"), ("end", "11000"), ("step", "1")],
                ok(0, 11_000_000, 1_000),
            ),
            (
                &[("end", "70"), ("step", "15")],
                Err(r#"invalid parameter "start": cannot parse "" to a valid timestamp"#),
            ),
            (
                &[("start", "10"), ("end", "x"), ("step", "15")],
                Err(r#"invalid parameter "end": cannot parse "x" to a valid timestamp"#),
            ),
            (
                &[("start", "70"), ("end", "10"), ("step", "15")],
                Err(r#"invalid parameter "end": end timestamp must not be before start time"#),
            ),
            (
                &[("start", "10"), ("end", "70")],
                Err(r#"invalid parameter "step": cannot parse "" to a valid duration"#),
            ),
            (
                &[("start", "10"), ("end", "70"), ("step", "-5")],
                Err(
                    "invalid parameter \"step\": zero or negative query resolution step widths \
                     are not accepted. Try a positive integer",
                ),
            ),
            (
                &[("start", "0"), ("end", "11001"), ("step", "1")],
                Err(
                    "exceeded maximum resolution of 11,000 points per timeseries. Try \
                     decreasing the query resolution (?step=XX)",
                ),
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(range(&form(pairs)), want.map_err(String::from), "{pairs:?}");
        }
    }
}
