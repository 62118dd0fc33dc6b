//! Parses Prometheus' PromQL test scripts (`load` / `clear` / `eval`, see `FORMAT.md` beside
//! the files) into commands, following `promql/promqltest/test.go`.

use promql_parser::parser::{self, Expr};
use promql_rules::engine::{parse_duration_ms, Labels, STALE_NAN_BITS};
use regex::Regex;

pub enum Command {
    Clear,
    Load(Load),
    Eval(Box<Eval>),
}

pub struct Load {
    pub line: usize,
    /// Series and their samples (time ms, value).
    pub series: Vec<(Labels, Vec<(i64, f64)>)>,
    /// Series given native-histogram samples (`{{…}}`) or derived as such (`load_with_nhcb`).
    pub native: Vec<Labels>,
}

/// One value of a series description.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Item {
    Omitted,
    Float(f64),
    Histogram,
}

pub struct ExpectedSeries {
    pub labels: Labels,
    pub values: Vec<Item>,
    /// 1-based position among the expected series (for `expect ordered`).
    pub pos: usize,
}

pub enum Expected {
    Nothing,
    Scalar(f64),
    Series(Vec<ExpectedSeries>),
    String(String),
}

pub enum Matching {
    Any,
    Exact(String),
    Pattern(Regex),
}

impl Matching {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Matching::Any => true,
            Matching::Exact(m) => m == text,
            Matching::Pattern(re) => re.is_match(text),
        }
    }
}

pub enum Kind {
    Instant { at: i64 },
    Range { start: i64, end: i64, step: i64 },
}

pub struct Eval {
    pub line: usize,
    pub query: String,
    pub kind: Kind,
    /// `expect range vector from … to … step …`: an instant query returning a range vector.
    pub range_vector: Option<(i64, i64, i64)>,
    pub expected: Expected,
    pub fail: Option<Matching>,
    pub ordered: bool,
    pub warn: Vec<Matching>,
    pub info: Vec<Matching>,
    pub no_warn: bool,
    pub no_info: bool,
    /// Some line of the case uses native-histogram syntax.
    pub native_syntax: bool,
}

fn re(s: &str) -> Regex {
    Regex::new(s).expect("static regex")
}

pub fn parse(text: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let (cmd, next) = if word == "clear" {
            (Command::Clear, i + 1)
        } else if word.starts_with("load") {
            let (load, next) = parse_load(&lines, i)?;
            (Command::Load(load), next)
        } else if word.starts_with("eval") {
            let (eval, next) = parse_eval(&lines, i)?;
            (Command::Eval(Box::new(eval)), next)
        } else {
            return Err(format!("line {}: invalid command {l:?}", i + 1));
        };
        out.push(cmd);
        i = next;
    }
    Ok(out)
}

fn parse_load(lines: &[String], start: usize) -> Result<(Load, usize), String> {
    let caps = re(r"^load(?:_(with_nhcb))?\s+(.+?)$")
        .captures(&lines[start])
        .ok_or_else(|| format!("line {}: invalid load command", start + 1))?;
    let with_nhcb = caps.get(1).is_some();
    let gap = parse_duration(&caps[2])?;
    let mut load = Load {
        line: start + 1,
        series: Vec::new(),
        native: Vec::new(),
    };
    let mut i = start + 1;
    while i < lines.len() && !lines[i].is_empty() {
        let (labels, items) =
            parse_series_line(&lines[i]).map_err(|e| format!("line {}: {e}", i + 1))?;
        if items.contains(&Item::Histogram) {
            load.native.push(labels.clone());
        }
        if with_nhcb {
            if let Some(base) = nhcb_base(&labels) {
                load.native.push(base);
            }
        }
        let samples = items
            .iter()
            .enumerate()
            .filter_map(|(j, item)| match item {
                Item::Float(v) => Some((j as i64 * gap, *v)),
                _ => None,
            })
            .collect();
        // Within one load, a series given twice keeps its last definition.
        load.series.retain(|(l, _)| *l != labels);
        load.series.push((labels, samples));
        i += 1;
    }
    Ok((load, i))
}

/// The native histogram `load_with_nhcb` derives from a classic histogram's series.
fn nhcb_base(labels: &Labels) -> Option<Labels> {
    let name = labels.value("__name__");
    let base = ["_bucket", "_count", "_sum"]
        .iter()
        .find_map(|s| name.strip_suffix(s))?;
    Some(labels.with("__name__", base).with("le", ""))
}

fn parse_eval(lines: &[String], start: usize) -> Result<(Eval, usize), String> {
    let l = &lines[start];
    let instant = re(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$");
    let range =
        re(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$");
    let (modifier, query, kind) = if let Some(c) = instant.captures(l) {
        let at = c.get(2).map_or(Ok(0), |m| parse_duration(m.as_str()))?;
        (
            c.get(1).map(|m| m.as_str().to_string()),
            c[3].to_string(),
            Kind::Instant { at },
        )
    } else if let Some(c) = range.captures(l) {
        let kind = Kind::Range {
            start: parse_duration(&c[2])?,
            end: parse_duration(&c[3])?,
            step: parse_duration(&c[4])?,
        };
        (
            c.get(1).map(|m| m.as_str().to_string()),
            c[5].to_string(),
            kind,
        )
    } else {
        return Err(format!("line {}: invalid eval command", start + 1));
    };
    let mut eval = Eval {
        line: start + 1,
        query,
        kind,
        range_vector: None,
        expected: Expected::Nothing,
        fail: None,
        ordered: false,
        warn: Vec::new(),
        info: Vec::new(),
        no_warn: false,
        no_info: false,
        native_syntax: l.contains("{{"),
    };
    match modifier.as_deref() {
        Some("fail") => eval.fail = Some(Matching::Any),
        Some("ordered") => eval.ordered = true,
        Some("warn") => eval.warn.push(Matching::Any),
        Some("info") => eval.info.push(Matching::Any),
        _ => {}
    }
    let expect = re(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$");
    let range_vector = re(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$");
    let mut series = Vec::new();
    let mut pos = 0;
    let mut i = start + 1;
    while i < lines.len() && !lines[i].is_empty() {
        let d = &lines[i];
        i += 1;
        eval.native_syntax |= d.contains("{{");
        if let Some(c) = range_vector.captures(d) {
            eval.range_vector = Some((
                parse_duration(&c[1])?,
                parse_duration(&c[2])?,
                parse_duration(&c[3])?,
            ));
            continue;
        }
        if let Some(s) = d.strip_prefix("expect string") {
            eval.expected = Expected::String(unquote(s.trim())?);
            continue;
        }
        if d.split(' ').next() == Some("expect") {
            let c = expect
                .captures(d)
                .ok_or_else(|| format!("line {i}: invalid expect line"))?;
            let matching = match c.get(2).map(|m| m.as_str()) {
                Some("msg") => Matching::Exact(c[3].trim().to_string()),
                Some(_) => Matching::Pattern(
                    Regex::new(c[3].trim()).map_err(|e| format!("line {i}: {e}"))?,
                ),
                None => Matching::Any,
            };
            match &c[1] {
                "ordered" => eval.ordered = true,
                "fail" => eval.fail = Some(matching),
                "warn" => eval.warn.push(matching),
                "info" => eval.info.push(matching),
                "no_warn" => eval.no_warn = true,
                _ => eval.no_info = true,
            }
            continue;
        }
        if let Ok(f) = parse_number(d) {
            eval.expected = Expected::Scalar(f);
            break;
        }
        pos += 1;
        let (labels, values) = parse_series_line(d).map_err(|e| format!("line {i}: {e}"))?;
        series.push(ExpectedSeries {
            labels,
            values,
            pos,
        });
    }
    if !series.is_empty() {
        eval.expected = Expected::Series(series);
    }
    Ok((eval, i))
}

fn unquote(s: &str) -> Result<String, String> {
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| s.strip_prefix('`').and_then(|r| r.strip_suffix('`')))
        .ok_or_else(|| format!("expected a quoted string, got {s}"))?;
    Ok(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

fn parse_duration(s: &str) -> Result<i64, String> {
    parse_duration_ms(s.trim())
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseFloat`.
fn parse_number(s: &str) -> Result<f64, ()> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = i64::from_str_radix(hex, 16).map_err(|_| ())? as f64;
        return Ok(if neg { -v } else { v });
    }
    if !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+-".contains(&b))
    {
        return t.parse().map_err(|_| ());
    }
    Err(())
}

/// `metric{labels} values…` as in promtool's series notation.
fn parse_series_line(line: &str) -> Result<(Labels, Vec<Item>), String> {
    let split = metric_end(line);
    let (metric, values) = line.split_at(split);
    Ok((parse_metric(metric.trim())?, parse_items(values)?))
}

/// Where the metric part of a series line ends.
fn metric_end(line: &str) -> usize {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return i + 1,
            c if c.is_whitespace() && !in_quotes && !line[..i].contains('{') => return i,
            _ => {}
        }
    }
    line.len()
}

pub fn parse_metric(text: &str) -> Result<Labels, String> {
    if text == "{}" {
        return Ok(Labels::empty());
    }
    match parser::parse(text) {
        Ok(Expr::VectorSelector(vs)) => {
            let mut pairs: Vec<(String, String)> = vs
                .matchers
                .matchers
                .iter()
                .map(|m| (m.name.clone(), m.value.clone()))
                .collect();
            if let Some(name) = vs.name {
                pairs.push(("__name__".into(), name));
            }
            Ok(Labels::from_pairs(&pairs))
        }
        Ok(other) => Err(format!("not a series: {other}")),
        Err(e) => Err(format!("invalid series {text:?}: {e}")),
    }
}

fn parse_items(text: &str) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    for token in tokens(text) {
        if token.contains("{{") {
            let repeat = token.rsplit_once("}}x").map_or(Ok(0), |(_, n)| {
                n.parse::<usize>().map_err(|e| e.to_string())
            })?;
            out.extend(std::iter::repeat_n(Item::Histogram, repeat + 1));
            continue;
        }
        if token == "_" {
            out.push(Item::Omitted);
            continue;
        }
        if let Some(n) = token.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad repetition {token}"))?;
            out.extend(std::iter::repeat_n(Item::Omitted, n));
            continue;
        }
        let (expr, times) = match token.rsplit_once('x') {
            Some((e, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                (e, Some(n.parse::<u64>().map_err(|e| e.to_string())?))
            }
            _ => (token.as_str(), None),
        };
        let (start, step) = split_step(expr);
        let start = value(start)?;
        match (times, step) {
            (None, None) => out.push(Item::Float(start)),
            (Some(n), None) => out.extend(std::iter::repeat_n(Item::Float(start), n as usize + 1)),
            (Some(n), Some(step)) => {
                let step = value(step)?;
                let mut v = start;
                for _ in 0..=n {
                    out.push(Item::Float(v));
                    v += step;
                }
            }
            (None, Some(_)) => return Err(format!("bad series value {token}")),
        }
    }
    Ok(out)
}

/// Splits `a+b` / `a-b` (a step), leaving exponents and a leading sign alone.
fn split_step(s: &str) -> (&str, Option<&str>) {
    let b = s.as_bytes();
    for i in 1..b.len() {
        if (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1], b'e' | b'E') {
            let step = if b[i] == b'-' { &s[i..] } else { &s[i + 1..] };
            return (&s[..i], Some(step));
        }
    }
    (s, None)
}

fn value(s: &str) -> Result<f64, String> {
    if s == "stale" {
        return Ok(f64::from_bits(STALE_NAN_BITS));
    }
    if let Ok(v) = parse_number(s) {
        return Ok(v);
    }
    // Series values may be written as durations, meaning seconds.
    parse_duration(s)
        .map(|ms| ms as f64 / 1000.0)
        .map_err(|_| format!("bad series value {s:?}"))
}

/// Whitespace-separated tokens, keeping `{{ … }}` (with its spaces) in one token.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth -= 1;
                cur.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_values() {
        let got = parse_items("1 2+3x2 _ stale 5x1 10-1x2 _x2").unwrap();
        let vals: Vec<String> = got
            .iter()
            .map(|i| match i {
                Item::Float(v) if v.to_bits() == STALE_NAN_BITS => "stale".into(),
                Item::Float(v) => format!("{v}"),
                Item::Omitted => "_".into(),
                Item::Histogram => "h".into(),
            })
            .collect();
        assert_eq!(
            vals,
            ["1", "2", "5", "8", "_", "stale", "5", "5", "10", "9", "8", "_", "_"]
        );
        assert_eq!(
            parse_items("-1.5e+2 {{schema:1 sum:3}}x1").unwrap().len(),
            3
        );
    }
}
