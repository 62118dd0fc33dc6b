//! `--query.max-samples` against Prometheus 2.42's: for each query, the number of steps (or
//! the window) at which both start refusing it with "would load too many samples" is found
//! by bisection on each and must be the same, which pins the count of samples a query holds at
//! its peak exactly, not just roughly. The queries cover each way Prometheus' engine counts:
//! selectors, operators and aggregations stepping over their inputs, range functions reading
//! windows series by series, scalar arguments, strings, subqueries and top-level matrices.

use std::net::SocketAddr;

use super::compare::{ask, ask_range, Answer};
use super::data::SPAN_MS;
use crate::query_api::time_param;

/// The limit both run with.
pub const LIMIT: u64 = 1_500;

/// The step of the range queries, and the most steps tried.
const STEP_MS: i64 = 5_000;
const MOST_STEPS: i64 = 320;

/// Range queries, each asked over 1 to [`MOST_STEPS`] steps from the data set's start.
const RANGE_QUERIES: &[&str] = &[
    "{__name__=~\"http_requests_total|temperature_celsius\"}",
    "temperature_celsius > bool 20",
    "sum by (code) (rate(http_requests_total[1m]))",
    "rate(request_duration_seconds_bucket[5m])",
    "quantile_over_time(0.9, request_duration_seconds_bucket[3m])",
    "histogram_quantile(0.9, sum by (le, handler) (rate(request_duration_seconds_bucket[2m])))",
    "topk(2, http_requests_total)",
    "count_values(\"v\", temperature_celsius)",
    "label_replace(temperature_celsius, \"r\", \"$1\", \"room\", \"(.*)\")",
    "time() * 2 + request_duration_seconds_bucket",
    "max_over_time(rate(request_duration_seconds_bucket[1m])[5m:30s])",
    "-temperature_celsius * on (room) group_left temperature_celsius",
    "avg_over_time(temperature_celsius[2m]) - scalar(sum(temperature_celsius))",
];

/// Instant queries at the data set's end over the whole data set (`{data}`), each with its
/// window of `{}` seconds.
const INSTANT_QUERIES: &[&str] = &["{data}[{}s]", "last_over_time({data}[1m])[{}s:15s]"];

/// Whether `addr` refused the query for holding too many samples; any other error fails the
/// test.
fn refused(addr: SocketAddr, answer: Result<Answer, String>, what: &str) -> Result<bool, String> {
    match answer? {
        Answer::Error {
            status: 422,
            error_type,
            message,
        } if error_type == "execution"
            && message == "query processing would load too many samples into memory in query execution" =>
        {
            Ok(true)
        }
        Answer::Error { message, .. } => Err(format!("{addr} {what}: {message}")),
        _ => Ok(false),
    }
}

/// The least `n` in `1..=most` that `refuses(n)`, if any; refusals grow with `n`.
fn first_refused(
    most: i64,
    refuses: impl Fn(i64) -> Result<bool, String>,
) -> Result<Option<i64>, String> {
    if !refuses(most)? {
        return Ok(None);
    }
    let (mut answered, mut refused) = (0, most);
    while refused - answered > 1 {
        let mid = (answered + refused) / 2;
        if refuses(mid)? {
            refused = mid;
        } else {
            answered = mid;
        }
    }
    Ok(Some(refused))
}

/// Every query whose threshold differs between the two, or that failed otherwise.
pub fn run(prometheus: SocketAddr, wasmfed: SocketAddr, t0: i64) -> Vec<String> {
    let mut failures = Vec::new();
    let mut thresholds = 0;
    let mut check = |what: String, first: &dyn Fn(SocketAddr) -> Result<Option<i64>, String>| match (
        first(prometheus),
        first(wasmfed),
    ) {
        (Ok(theirs), Ok(ours)) if theirs == ours => {
            eprintln!("max_samples_differential: {what}: first refused at {ours:?}");
            thresholds += usize::from(ours.is_some());
        }
        (theirs, ours) => failures.push(format!(
            "{what}: first refused by prometheus at {theirs:?}, by wasmfed at {ours:?}"
        )),
    };
    for query in RANGE_QUERIES {
        check(format!("{query} (steps of {STEP_MS} ms)"), &|addr| {
            first_refused(MOST_STEPS, |steps| {
                let params = format!(
                    "start={}&end={}&step={}",
                    time_param(t0),
                    time_param(t0 + (steps - 1) * STEP_MS),
                    STEP_MS / 1000
                );
                refused(addr, ask_range(addr, query, &params), query)
            })
        });
    }
    for template in INSTANT_QUERIES {
        let template = template.replace("{data}", &super::whole_data_set());
        check(format!("{template} (15 s samples)"), &|addr| {
            first_refused(SPAN_MS / 15_000, |samples| {
                let query = template.replace("{}", &(samples * 15).to_string());
                refused(addr, ask(addr, &query, t0 + SPAN_MS), &query)
            })
        });
    }
    eprintln!(
        "max_samples_differential: {} queries, {thresholds} with a threshold, {} differ",
        RANGE_QUERIES.len() + INSTANT_QUERIES.len(),
        failures.len()
    );
    failures
}
