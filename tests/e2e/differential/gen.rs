//! A seeded generator of PromQL for the differential tests: random, depth-bounded
//! expressions over the data set of `data.rs` (typed, so most are valid), plus deliberately
//! invalid ones. The same seed gives the same expressions, so a failure printed with its seed
//! can be replayed.
//!
//! It covers what Prometheus 2.42 parses: aggregations with `by`/`without` and parameters,
//! every range function (`holt_winters` under its 2.42 name), the instant functions,
//! `label_replace`/`label_join`, `histogram_quantile`, arithmetic, comparison (with `bool`)
//! and set operators with `on`/`ignoring`/`group_left`/`group_right`, `offset`, `@`,
//! subqueries with and without a step, and scalar, string and number literals.

use super::data::{NAMES, SPAN_MS};

/// SplitMix64: small, fast and good enough to pick grammar productions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index into `weights`, each chosen in proportion to its weight.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut roll = self.below(total as usize) as u32;
        for (i, w) in weights.iter().enumerate() {
            if roll < *w {
                return i;
            }
            roll -= w;
        }
        unreachable!("roll below the total")
    }
}

/// One generated query: its text, whether Prometheus defines the order of its result (a
/// top-level `sort`, `sort_desc`, `topk` or `bottomk`), and whether it was made to be invalid.
pub struct Case {
    pub expr: String,
    pub ordered: bool,
    pub meant_invalid: bool,
}

/// Labels the data set's series carry (scrape labels included), with values they take.
const LABELS: &[(&str, &[&str])] = &[
    ("code", &["200", "500", "404"]),
    ("method", &["get", "post"]),
    ("room", &["kitchen", "cellar", "attic"]),
    ("handler", &["/api", "/static"]),
    ("le", &["0.1", "0.5", "1", "+Inf"]),
    ("quantile", &["0.5", "0.9", "0.99"]),
    ("kind", &["nan", "inf", "ninf", "mixed"]),
    ("job_id", &["1", "2", "3"]),
    ("path", &["", "/a b/\\\"q\\\"\\\\c"]),
    ("job", &["diff"]),
];

const REGEXES: &[&str] = &["2..", ".+", ".*", "g.*|p.*", "[0-9]+", "(a|k).*", "x"];
const RANGES: &[&str] = &["15s", "30s", "1m", "90s", "2m", "5m", "10m", "1h", "1m30s"];
const STEPS: &[&str] = &["15s", "30s", "1m", "7s", "20s"];
const OFFSETS: &[&str] = &["1m", "5m", "30s", "-1m", "17s", "1h"];
const AGGREGATIONS: &[&str] = &[
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "group",
];
const RANGE_FUNCTIONS: &[&str] = &[
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "changes",
    "resets",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "absent_over_time",
];
const MATH_FUNCTIONS: &[&str] = &[
    "abs",
    "ceil",
    "floor",
    "exp",
    "ln",
    "log2",
    "log10",
    "sqrt",
    "sgn",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "deg",
    "rad",
    "timestamp",
    "absent",
    "sort",
    "sort_desc",
    "histogram_count",
    "histogram_sum",
];
const TIME_FUNCTIONS: &[&str] = &[
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
    "month",
    "year",
];
const ARITHMETIC: &[&str] = &["+", "-", "*", "/", "%", "^", "atan2"];
const COMPARISON: &[&str] = &["==", "!=", ">", "<", ">=", "<="];
const SET: &[&str] = &["and", "or", "unless"];
const NUMBERS: &[&str] = &[
    "1", "2", "0", "-1", "0.5", "3.25", "1e3", "0x1F", "Inf", "-Inf", "NaN", ".5", "100",
];
const PHIS: &[&str] = &["0", "0.5", "0.9", "0.99", "1", "-0.5", "1.5", "NaN"];

/// Expressions that are always invalid, in different ways: parse errors, type errors, bad
/// arguments and failures only evaluation finds.
const INVALID: &[&str] = &[
    "sum(",
    "rate(http_requests_total)",
    "sum(http_requests_total[5m])",
    "no_such_function(http_requests_total)",
    "http_requests_total[5m:1m:1m]",
    "topk(http_requests_total, temperature_celsius)",
    r#"label_replace(temperature_celsius, "bad-label", "", "room", "")"#,
    r#"label_replace(temperature_celsius, "a", "$1", "room", "(")"#,
    "holt_winters(temperature_celsius[5m], 1.5, 0.5)",
    "holt_winters(temperature_celsius[5m], 0.5, 0)",
    "temperature_celsius and 1",
    "1 or 2",
    "temperature_celsius offset",
    "temperature_celsius @ foo()",
    "{}",
    r#"{room=~".*"}"#,
    "temperature_celsius[1m] + 1",
    "count_values(1, temperature_celsius)",
    "quantile_over_time(temperature_celsius[5m])",
    r#"temperature_celsius{room="a"}{room="b"}"#,
    "temperature_celsius + bool 1",
    "temperature_celsius * group_left temperature_celsius",
    "sum by (room) (temperature_celsius) without (room)",
    "temperature_celsius[5x]",
    "round(temperature_celsius, 1, 2)",
    "http_requests_total / ignoring(code) http_requests_total",
    r#"abs({__name__=~"temperature_celsius|rpc_latency_seconds"})"#,
    "vector(temperature_celsius)",
    "scalar(temperature_celsius[1m])",
    r#"count_values("bad-label", temperature_celsius)"#,
    "temperature_celsius @ 1e20",
    r#"label_join(temperature_celsius, "x", ",", "bad-label")"#,
    "1 +",
    "sum without() by() (temperature_celsius)",
    "predict_linear(temperature_celsius[5m])",
    "histogram_quantile(temperature_celsius, 0.5)",
    r#""a" + 1"#,
    "-\"s\"",
    "temperature_celsius[0s]",
    "rate(temperature_celsius[5m] offset 1m @ start())[1m]",
];

fn valid(expr: String, ordered: bool) -> Case {
    Case {
        expr,
        ordered,
        meant_invalid: false,
    }
}

pub struct Generator {
    rng: Rng,
    t0_ms: i64,
}

impl Generator {
    pub fn new(seed: u64, t0_ms: i64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            t0_ms,
        }
    }

    /// The next query.
    pub fn case(&mut self) -> Case {
        let depth = 1 + self.rng.below(3);
        match self.rng.weighted(&[70, 8, 8, 7, 2, 5, 10]) {
            0 => valid(self.vector(depth), false),
            1 => {
                let f = self.rng.pick(&["sort", "sort_desc"]);
                let inner = self.vector(depth);
                valid(format!("{f}({inner})"), true)
            }
            2 => {
                // Without `by`/`without`: the order of groups follows the input's, which
                // Prometheus leaves unspecified; within one group it is defined.
                let inner = self.vector(depth);
                let agg = self.topk(&inner, false);
                valid(agg, true)
            }
            3 => valid(self.scalar(depth), false),
            4 => valid(self.string(), false),
            5 => valid(self.matrix(depth), false),
            _ => self.invalid(depth),
        }
    }

    fn invalid(&mut self, depth: usize) -> Case {
        let expr = if self.rng.chance(50) {
            self.rng.pick(INVALID).to_string()
        } else {
            // A valid expression cut short or with a character taken out: mostly parse
            // errors, sometimes another valid expression.
            let text: Vec<char> = self.vector(depth).chars().collect();
            let at = self.rng.below(text.len());
            if self.rng.chance(50) {
                text[..at].iter().collect()
            } else {
                text.iter()
                    .enumerate()
                    .filter(|(i, _)| *i != at)
                    .map(|(_, c)| c)
                    .collect()
            }
        };
        Case {
            expr,
            ordered: false,
            meant_invalid: true,
        }
    }

    fn string(&mut self) -> String {
        self.rng
            .pick(&[
                r#""hello""#,
                "'it''s'",
                r#""tab\tnew\nline""#,
                "`raw\\n`",
                r#""""#,
            ])
            .to_string()
    }

    /// An absolute `@` time within (or just around) the data set, as Unix seconds.
    fn at_time(&mut self) -> String {
        let offset = self.rng.below(SPAN_MS as usize / 1000 + 120) as i64 * 1000 - 60_000;
        let ms = self.t0_ms + offset + *self.rng.pick(&[0, 0, 500, 1]);
        format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
    }

    fn modifiers(&mut self) -> String {
        let mut out = String::new();
        if self.rng.chance(15) {
            out.push_str(&format!(" offset {}", self.rng.pick(OFFSETS)));
        }
        if self.rng.chance(12) {
            let at = match self.rng.below(3) {
                0 => "start()".to_string(),
                1 => "end()".to_string(),
                _ => self.at_time(),
            };
            out.push_str(&format!(" @ {at}"));
        }
        out
    }

    fn matcher(&mut self) -> String {
        let (label, values) = self.rng.pick(LABELS);
        match self.rng.weighted(&[5, 2, 2, 1]) {
            0 => format!("{label}=\"{}\"", self.rng.pick(values)),
            1 => format!("{label}!=\"{}\"", self.rng.pick(values)),
            2 => format!("{label}=~\"{}\"", self.rng.pick(REGEXES)),
            _ => format!("{label}!~\"{}\"", self.rng.pick(REGEXES)),
        }
    }

    fn selector(&mut self) -> String {
        let matchers: Vec<String> = (0..self.rng.weighted(&[5, 4, 1]))
            .map(|_| self.matcher())
            .collect();
        if self.rng.chance(8) {
            let names: Vec<&str> = (0..2).map(|_| *self.rng.pick(NAMES)).collect();
            let mut all = vec![format!("__name__=~\"{}\"", names.join("|"))];
            all.extend(matchers);
            return format!("{{{}}}", all.join(","));
        }
        let name = self.rng.pick(NAMES);
        if matchers.is_empty() {
            name.to_string()
        } else {
            format!("{name}{{{}}}", matchers.join(","))
        }
    }

    fn label_list(&mut self) -> String {
        let n = self.rng.weighted(&[1, 4, 2]);
        let names: Vec<&str> = (0..n).map(|_| self.rng.pick(LABELS).0).collect();
        format!("({})", names.join(", "))
    }

    fn grouping(&mut self) -> String {
        match self.rng.weighted(&[3, 4, 2]) {
            0 => String::new(),
            1 => format!(" by {}", self.label_list()),
            _ => format!(" without {}", self.label_list()),
        }
    }

    fn aggregate(&mut self, op: &str, param: Option<String>, inner: &str) -> String {
        let grouping = self.grouping();
        self.aggregate_by(op, param, inner, grouping)
    }

    fn aggregate_by(
        &mut self,
        op: &str,
        param: Option<String>,
        inner: &str,
        grouping: String,
    ) -> String {
        let param = param.map(|p| format!("{p}, ")).unwrap_or_default();
        if self.rng.chance(50) || grouping.is_empty() {
            format!("{op}{grouping} ({param}{inner})")
        } else {
            format!("{op}({param}{inner}){grouping}")
        }
    }

    fn topk(&mut self, inner: &str, grouped: bool) -> String {
        let op = self.rng.pick(&["topk", "bottomk"]);
        let k = self
            .rng
            .pick(&["1", "2", "3", "0", "1.5", "100", "-1"])
            .to_string();
        let grouping = if grouped {
            self.grouping()
        } else {
            String::new()
        };
        self.aggregate_by(op, Some(k), inner, grouping)
    }

    fn range(&mut self) -> String {
        self.rng.pick(RANGES).to_string()
    }

    fn matrix(&mut self, depth: usize) -> String {
        if depth > 0 && self.rng.chance(25) {
            let inner = self.vector(depth - 1);
            let step = if self.rng.chance(30) {
                String::new()
            } else {
                self.rng.pick(STEPS).to_string()
            };
            let modifiers = self.modifiers();
            return format!("({inner})[{}:{step}]{modifiers}", self.range());
        }
        let selector = self.selector();
        let range = self.range();
        let modifiers = self.modifiers();
        format!("{selector}[{range}]{modifiers}")
    }

    fn scalar(&mut self, depth: usize) -> String {
        if depth == 0 {
            return self.rng.pick(NUMBERS).to_string();
        }
        match self.rng.weighted(&[6, 2, 3, 2, 1]) {
            0 => self.rng.pick(NUMBERS).to_string(),
            1 => "time()".into(),
            2 => format!("scalar({})", self.vector(depth - 1)),
            3 => {
                let (a, b) = (self.scalar(depth - 1), self.scalar(depth - 1));
                let op = self.binary_operator(true);
                format!("{a} {op} {b}")
            }
            _ => self.rng.pick(&["pi()", "-(2)", "(1 + 2) * 3"]).to_string(),
        }
    }

    /// An operator, with `bool` after comparisons when `needs_bool` (between scalars).
    fn binary_operator(&mut self, needs_bool: bool) -> String {
        if self.rng.chance(70) {
            return self.rng.pick(ARITHMETIC).to_string();
        }
        let op = self.rng.pick(COMPARISON);
        if needs_bool || self.rng.chance(40) {
            format!("{op} bool")
        } else {
            op.to_string()
        }
    }

    fn vector(&mut self, depth: usize) -> String {
        if depth == 0 {
            let selector = self.selector();
            return format!("{selector}{}", self.modifiers());
        }
        let d = depth - 1;
        match self
            .rng
            .weighted(&[10, 14, 4, 4, 14, 10, 6, 6, 4, 3, 3, 8, 5, 2, 3])
        {
            0 => self.vector(0),
            1 => {
                let op = self.rng.pick(AGGREGATIONS);
                let inner = self.vector(d);
                self.aggregate(op, None, &inner)
            }
            2 => {
                let inner = self.vector(d);
                self.topk(&inner, true)
            }
            3 => {
                let (op, param) = match self.rng.below(2) {
                    0 => ("quantile", self.rng.pick(PHIS).to_string()),
                    _ => (
                        "count_values",
                        self.rng
                            .pick(&[r#""value""#, r#""code""#, r#""le""#])
                            .to_string(),
                    ),
                };
                let inner = self.vector(d);
                self.aggregate(op, Some(param), &inner)
            }
            4 => {
                let f = self.rng.pick(RANGE_FUNCTIONS);
                format!("{f}({})", self.matrix(d))
            }
            5 => {
                let f = self.rng.pick(MATH_FUNCTIONS);
                format!("{f}({})", self.vector(d))
            }
            6 => self.range_function_with_args(d),
            7 => self.instant_function_with_args(d),
            8 => self.histogram_quantile(d),
            9 => self.label_function(d),
            10 => {
                let f = self.rng.pick(TIME_FUNCTIONS);
                if self.rng.chance(30) {
                    format!("{f}()")
                } else {
                    format!("{f}({})", self.vector(d))
                }
            }
            11 => self.vector_binary(d),
            12 => {
                let (v, s) = (self.vector(d), self.scalar(d));
                let op = self.binary_operator(false);
                if self.rng.chance(50) {
                    format!("{v} {op} {s}")
                } else {
                    format!("{s} {op} {v}")
                }
            }
            13 => format!("vector({})", self.scalar(d)),
            _ => format!("-({})", self.vector(d)),
        }
    }

    fn range_function_with_args(&mut self, d: usize) -> String {
        let m = self.matrix(d);
        match self.rng.below(3) {
            0 => format!("quantile_over_time({}, {m})", self.rng.pick(PHIS)),
            1 => format!(
                "predict_linear({m}, {})",
                self.rng.pick(&["60", "0", "-30", "3600"])
            ),
            _ => {
                let factors = ["0.1", "0.5", "0.9", "0.3"];
                let (sf, tf) = (self.rng.pick(&factors), self.rng.pick(&factors));
                format!("holt_winters({m}, {sf}, {tf})")
            }
        }
    }

    fn instant_function_with_args(&mut self, d: usize) -> String {
        let v = self.vector(d);
        let n = |g: &mut Generator| g.rng.pick(&["0", "1", "-2.5", "10", "0.3"]).to_string();
        match self.rng.below(5) {
            0 => format!("clamp({v}, {}, {})", n(self), n(self)),
            1 => format!("clamp_min({v}, {})", n(self)),
            2 => format!("clamp_max({v}, {})", n(self)),
            3 => format!("round({v}, {})", n(self)),
            _ => format!("round({v})"),
        }
    }

    fn histogram_quantile(&mut self, d: usize) -> String {
        let phi = self.rng.pick(PHIS);
        let buckets = match self.rng.below(4) {
            0 => "request_duration_seconds_bucket".to_string(),
            1 => format!(
                "rate(request_duration_seconds_bucket[{}])",
                self.rng.pick(RANGES)
            ),
            2 => format!(
                "sum by (le) (rate(request_duration_seconds_bucket[{}]))",
                self.rng.pick(RANGES)
            ),
            _ => self.vector(d),
        };
        format!("histogram_quantile({phi}, {buckets})")
    }

    fn label_function(&mut self, d: usize) -> String {
        let v = self.vector(d);
        let label = |g: &mut Generator| g.rng.pick(LABELS).0;
        if self.rng.chance(50) {
            let replacement = self.rng.pick(&["$1", "x-$1", "", "${1}y", "$2"]);
            let regex = self
                .rng
                .pick(&["(.*)", "(2)(.*)", "k(.+)", "", ".*", "(a|b)"]);
            let (dst, src) = (label(self), label(self));
            format!(r#"label_replace({v}, "{dst}", "{replacement}", "{src}", "{regex}")"#)
        } else {
            let dst = label(self);
            let sources: Vec<String> = (0..self.rng.below(3))
                .map(|_| format!("\"{}\"", label(self)))
                .collect();
            let sep = self.rng.pick(&["-", "", ","]);
            let mut args = vec![v, format!("\"{dst}\""), format!("\"{sep}\"")];
            args.extend(sources);
            format!("label_join({})", args.join(", "))
        }
    }

    fn vector_binary(&mut self, d: usize) -> String {
        let (a, b) = (self.vector(d), self.vector(d));
        if self.rng.chance(25) {
            let op = self.rng.pick(SET);
            let matching = match self.rng.below(3) {
                0 => String::new(),
                1 => format!(" on{}", self.label_list()),
                _ => format!(" ignoring{}", self.label_list()),
            };
            return format!("{a} {op}{matching} {b}");
        }
        let op = self.binary_operator(false);
        let matching = match self.rng.weighted(&[4, 3, 2, 2]) {
            0 => String::new(),
            1 => format!(" on{}", self.label_list()),
            2 => format!(" ignoring{}", self.label_list()),
            _ => {
                let on = self.rng.pick(&["on", "ignoring"]);
                let side = self.rng.pick(&["group_left", "group_right"]);
                let extra = if self.rng.chance(50) {
                    self.label_list()
                } else {
                    String::new()
                };
                format!(" {on}{} {side}{extra}", self.label_list())
            }
        };
        format!("({a}) {op}{matching} ({b})")
    }
}
