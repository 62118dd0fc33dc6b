//! The range half of the differential test: random queries asked through `/api/v1/query_range`
//! of both, over windows on and off the data set, at steps that divide its sample interval,
//! do not, or span several of its samples; then the parameters Prometheus refuses, each asked
//! of both. Every answer must match, as the instant answers must.

use std::net::SocketAddr;

use super::compare::{ask_range, compare, Verdict};
use super::data::SPAN_MS;
use super::gen::{Generator, Rng};
use super::known;
use crate::query_api::time_param;

/// Where windows start, as offsets from the data set's start.
const START_OFFSETS_MS: &[i64] = &[-60_000, 0, 5 * 60_000, 7 * 60_000 + 7_500, SPAN_MS - 60_000];
/// How long windows are: one step, a few, the whole data set and past its end.
const SPANS_MS: &[i64] = &[0, 60_000, 5 * 60_000 + 1, 12 * 60_000 + 7_500, 25 * 60_000];
/// Steps as a client spells them: seconds, fractions, Go durations.
const STEPS: &[&str] = &["15s", "15", "37s", "60", "1m", "7.5", "5m", "2"];

/// Parameters Prometheus refuses (and one it takes from a Go duration and RFC 3339 times),
/// each asked with a valid query.
fn parameter_cases(t0: i64) -> Vec<String> {
    let t = |ms| time_param(ms);
    vec![
        format!("start={}&end={}&step=0", t(t0), t(t0 + 60_000)),
        format!("start={}&end={}&step=-15", t(t0), t(t0 + 60_000)),
        format!("start={}&end={}&step=15s", t(t0 + 60_000), t(t0)),
        format!("start=yesterday&end={}&step=15s", t(t0)),
        format!("start={}&end=&step=15s", t(t0)),
        format!("start={}&end={}&step=fast", t(t0), t(t0 + 60_000)),
        format!("start={}&end={}&step=0.1", t(t0), t(t0 + 1_200_001)),
        format!(
            "start={}&end={}&step=15s&timeout=later",
            t(t0),
            t(t0 + 60_000)
        ),
        format!("start={}&end={}&step=1m30s", t(t0), t(t0 + SPAN_MS)),
        "start=1970-01-01T00:00:00Z&end=1970-01-01T00:10:00.5Z&step=1m".to_string(),
    ]
}

/// Asks both `cases` random range queries and the parameter cases; returns how many answers
/// were compared, how many errors were worded otherwise, and the differences not known.
pub fn run(
    prometheus: SocketAddr,
    wasmfed: SocketAddr,
    t0: i64,
    seed: u64,
    cases: u64,
) -> (usize, usize, Vec<String>) {
    let mut generator = Generator::new(seed ^ 0x4a11, t0);
    let mut pick = Rng::new(seed ^ 0x5a7e);
    let mut asked: Vec<(String, String)> = (0..cases)
        .map(|_| {
            let case = generator.case();
            let start = t0 + *pick.pick(START_OFFSETS_MS);
            let end = start + *pick.pick(SPANS_MS);
            let step = pick.pick(STEPS);
            let params = format!(
                "start={}&end={}&step={step}",
                time_param(start),
                time_param(end)
            );
            (case.expr, params)
        })
        .collect();
    for params in parameter_cases(t0) {
        asked.push((
            "sum by (job) (rate(http_requests_total[2m]))".into(),
            params,
        ));
    }
    let (mut compared, mut messages, mut failures) = (0, 0, Vec::new());
    for (index, (expr, params)) in asked.iter().enumerate() {
        let theirs = ask_range(prometheus, expr, params).unwrap();
        let ours = ask_range(wasmfed, expr, params).unwrap();
        compared += 1;
        match compare(&theirs, &ours, false) {
            Verdict::Same => {}
            Verdict::SameErrorOtherMessage => messages += 1,
            Verdict::Different(why) => {
                if known::recognise_range(expr, &theirs, &ours).is_none() {
                    failures.push(format!(
                        "range case {index} (seed {seed}) {params}: {expr}\n  {why}\n  prometheus: {theirs:?}\n  wasmfed:    {ours:?}"
                    ));
                }
            }
        }
    }
    (compared, messages, failures)
}
