//! The differential tests' fixed synthetic data set, written with explicit timestamps so that
//! wasmfed and Prometheus (`honor_timestamps` is true by default) store exactly the same
//! points whenever and however often each scrapes.
//!
//! The whole history is one exposition: every series' samples in time order, one line each.
//! Both scrapers store all of it at their first scrape and refuse the repeats of later scrapes
//! as out of order (counted, not fatal), so nothing depends on scrape timing. Explicit
//! timestamps also mean neither writes stale markers: a series that stops simply ages out of
//! the 5-minute lookback, the same in both.

/// Spacing of the regular series' samples.
pub const STEP_MS: i64 = 15_000;
/// The data set covers `[t0, t0 + SPAN_MS]`.
pub const SPAN_MS: i64 = 20 * 60_000;

/// One series: its labels (name first) and its samples as (offset from t0, value).
pub struct Series {
    pub name: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub points: Vec<(i64, f64)>,
}

/// Every metric name of the data set; the generator's selectors use only these, so the
/// scrapers' own series (`up`, `scrape_*`, which differ between the two) never take part.
pub const NAMES: &[&str] = &[
    "http_requests_total",
    "temperature_celsius",
    "request_duration_seconds_bucket",
    "request_duration_seconds_sum",
    "request_duration_seconds_count",
    "rpc_latency_seconds",
    "rpc_latency_seconds_sum",
    "rpc_latency_seconds_count",
    "special_values",
    "batch_progress",
    "odd_labels",
    "sparse_gauge",
];

fn regular(from_step: i64, to_step: i64, value: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
    (from_step..=to_step)
        .map(|i| (i * STEP_MS, value(i)))
        .collect()
}

/// A counter: the running sum of `inc(i)`, going back to `after_reset(i)` wherever
/// `reset(i)` holds.
fn counter(inc: impl Fn(i64) -> f64, reset: impl Fn(i64) -> bool) -> impl Fn(i64) -> f64 {
    move |i| {
        let mut total = 0.0;
        for j in 0..=i {
            total = if reset(j) {
                inc(j) / 2.0
            } else {
                total + inc(j)
            };
        }
        total
    }
}

const LAST: i64 = SPAN_MS / STEP_MS;

/// A series' value at step i.
type Step = fn(i64) -> f64;

/// A counter's code and method labels, its increment at step i and whether it resets there.
type Counter = (&'static str, &'static str, Step, fn(i64) -> bool);

/// The data set. Values have few significant digits, so Go's and Rust's float parsing agree.
pub fn series() -> Vec<Series> {
    let mut out = Vec::new();
    let mut add = |name, labels: &[(&'static str, &str)], points| {
        out.push(Series {
            name,
            labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            points,
        })
    };
    let counters: [Counter; 4] = [
        ("200", "get", |i| (3 * (i % 7 + 1)) as f64, |_| false),
        ("200", "post", |i| 0.25 * (i % 5) as f64, |_| false),
        ("500", "get", |i| (i % 3) as f64, |i| i > 0 && i % 25 == 0),
        (
            "404",
            "get",
            |i| 2.0 + (i % 2) as f64,
            |i| i == 40 || i == 41,
        ),
    ];
    for (code, method, inc, reset) in counters {
        add(
            "http_requests_total",
            &[("code", code), ("method", method)],
            regular(0, LAST, counter(inc, reset)),
        );
    }
    for (room, base) in [("kitchen", 21.5), ("cellar", -3.25), ("attic", 30.0)] {
        add(
            "temperature_celsius",
            &[("room", room)],
            regular(0, LAST, move |i| base + ((i * 7) % 11) as f64 * 0.5 - 2.5),
        );
    }
    for (handler, reset_at) in [("/api", None), ("/static", Some(50))] {
        let le_factor = [("0.1", 1.0), ("0.5", 3.0), ("1", 4.0), ("+Inf", 5.0)];
        for (le, factor) in le_factor {
            let c = counter(
                move |i| factor * (1 + i % 4) as f64,
                move |i| Some(i) == reset_at,
            );
            add(
                "request_duration_seconds_bucket",
                &[("handler", handler), ("le", le)],
                regular(0, LAST, c),
            );
        }
        let count = counter(
            move |i| 5.0 * (1 + i % 4) as f64,
            move |i| Some(i) == reset_at,
        );
        let sum = counter(
            move |i| 1.75 * (1 + i % 4) as f64,
            move |i| Some(i) == reset_at,
        );
        add(
            "request_duration_seconds_count",
            &[("handler", handler)],
            regular(0, LAST, count),
        );
        add(
            "request_duration_seconds_sum",
            &[("handler", handler)],
            regular(0, LAST, sum),
        );
    }
    for (quantile, base) in [("0.5", 0.125), ("0.9", 0.5), ("0.99", 2.0)] {
        add(
            "rpc_latency_seconds",
            &[("quantile", quantile), ("service", "auth")],
            regular(0, LAST, move |i| base * (1 + i % 3) as f64),
        );
    }
    add(
        "rpc_latency_seconds_sum",
        &[("service", "auth")],
        regular(0, LAST, counter(|i| 0.5 * (i % 4) as f64, |_| false)),
    );
    add(
        "rpc_latency_seconds_count",
        &[("service", "auth")],
        regular(0, LAST, |i| (2 * i) as f64),
    );
    let specials: [(&str, Step); 4] = [
        ("nan", |_| f64::NAN),
        ("inf", |_| f64::INFINITY),
        ("ninf", |_| f64::NEG_INFINITY),
        ("mixed", |i| {
            [1.0, f64::NAN, 3.0, f64::INFINITY, -2.0, f64::NEG_INFINITY][(i % 6) as usize]
        }),
    ];
    for (kind, value) in specials {
        add("special_values", &[("kind", kind)], regular(0, LAST, value));
    }
    // Series that stop (and one that starts late): they leave results as the lookback passes.
    for (id, from, to) in [("1", 0, 32), ("2", 20, 56), ("3", 0, LAST)] {
        add(
            "batch_progress",
            &[("job_id", id)],
            regular(from, to, |i| (i % 9) as f64 * 1.5),
        );
    }
    add(
        "odd_labels",
        &[
            ("path", "/a b/\"q\"\\c"),
            ("note", "line1\nline2"),
            ("utf", "grüße→✓"),
        ],
        regular(0, LAST, |i| i as f64),
    );
    add(
        "odd_labels",
        &[("path", ""), ("note", "{}=,"), ("utf", "日本")],
        regular(0, LAST, |i| -(i as f64) / 4.0),
    );
    // Irregular timestamps off the 15 s grid, some a millisecond off a whole second.
    add(
        "sparse_gauge",
        &[("shape", "irregular")],
        (0..30)
            .map(|i| {
                (
                    i * 37_000 + [0, 1, 999][i as usize % 3],
                    ((i * 13) % 10) as f64 - 4.5,
                )
            })
            .collect(),
    );
    out
}

/// Text-format label value escaping: backslash, double quote, newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn value_text(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        f64::INFINITY => "+Inf".into(),
        f64::NEG_INFINITY => "-Inf".into(),
        v => format!("{v}"),
    }
}

/// The exposition of the whole data set with `t0` as its first timestamp.
pub fn exposition(t0: i64) -> String {
    let mut text = String::new();
    for s in series() {
        let labels: Vec<String> = s
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        for (offset, v) in &s.points {
            text.push_str(&format!(
                "{}{{{}}} {} {}\n",
                s.name,
                labels.join(","),
                value_text(*v),
                t0 + offset
            ));
        }
    }
    text
}

/// How many samples the data set holds.
pub fn sample_count() -> usize {
    series().iter().map(|s| s.points.len()).sum()
}
