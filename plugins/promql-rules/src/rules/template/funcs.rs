//! Prometheus' template functions (`template/template.go` of 2.42) and the methods of the
//! values they return, with their Go signatures (the executor checks arguments against them)
//! and error texts. Go's own builtins are in [`super::builtins`].

use std::rc::Rc;

use promregex::Release;

use super::builtins;
use super::float::format_float;
use super::time::{format, time_string};
use super::value::{Map, Sample, Value};
use super::QueryFn;
use crate::engine::parse_duration_ms;
use crate::goquote::quote;

/// What the functions reach outside their arguments.
pub(super) struct Env<'q> {
    pub query: &'q mut dyn QueryFn,
    pub external_url: &'q str,
}

/// A Go parameter type, as far as templates can tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Param {
    /// `interface {}` or `reflect.Value`: anything.
    Any,
    Str,
    Sample,
    Samples,
}

/// A function's error, or the text of its panic: Go's `safeCall` turns both into
/// `error calling <name>: …`.
pub(super) type FuncError = String;

pub(super) type Call = fn(&mut Env<'_>, &[Value]) -> Result<Value, FuncError>;

pub(super) struct Function {
    pub params: &'static [Param],
    /// The type of a variadic function's trailing arguments.
    pub variadic: Option<Param>,
    /// `and` and `or`, which evaluate their arguments lazily.
    pub short_circuit: bool,
    pub call: Call,
}

pub(super) const fn fixed(params: &'static [Param], call: Call) -> Function {
    Function {
        params,
        variadic: None,
        short_circuit: false,
        call,
    }
}

pub(super) const fn variadic(params: &'static [Param], rest: Param, call: Call) -> Function {
    Function {
        params,
        variadic: Some(rest),
        short_circuit: false,
        call,
    }
}

use Param::{Any, Samples, Str};

static PROMETHEUS: &[(&str, Function)] = &[
    ("query", fixed(&[Str], query)),
    ("first", fixed(&[Samples], first)),
    ("label", fixed(&[Str, Param::Sample], label)),
    ("value", fixed(&[Param::Sample], value)),
    ("strvalue", fixed(&[Param::Sample], strvalue)),
    ("args", variadic(&[], Any, args)),
    ("reReplaceAll", fixed(&[Str, Str, Str], re_replace_all)),
    (
        "safeHtml",
        fixed(&[Str], |_, a| Ok(Value::Html(text(&a[0]).into()))),
    ),
    ("match", fixed(&[Str, Str], regex_match)),
    (
        "title",
        fixed(&[Str], |_, a| Ok(Value::string(&title(text(&a[0]))))),
    ),
    (
        "toUpper",
        fixed(&[Str], |_, a| Ok(map_chars(&a[0], char::to_uppercase))),
    ),
    (
        "toLower",
        fixed(&[Str], |_, a| Ok(map_chars(&a[0], to_lower))),
    ),
    ("graphLink", fixed(&[Str], |_, a| Ok(link(&a[0], 0)))),
    ("tableLink", fixed(&[Str], |_, a| Ok(link(&a[0], 1)))),
    ("sortByLabel", fixed(&[Str, Samples], sort_by_label)),
    ("stripPort", fixed(&[Str], strip_port)),
    ("stripDomain", fixed(&[Str], strip_domain)),
    ("humanize", fixed(&[Any], humanize)),
    ("humanize1024", fixed(&[Any], humanize1024)),
    ("humanizeDuration", fixed(&[Any], humanize_duration)),
    ("humanizePercentage", fixed(&[Any], humanize_percentage)),
    ("humanizeTimestamp", fixed(&[Any], humanize_timestamp)),
    ("toTime", fixed(&[Any], to_time)),
    ("pathPrefix", fixed(&[], path_prefix)),
    (
        "externalURL",
        fixed(&[], |env, _| Ok(Value::string(env.external_url))),
    ),
    ("parseDuration", fixed(&[Str], parse_duration)),
];

/// The function a template calls by `name`: Prometheus' first, then Go's builtins.
pub(super) fn function(name: &str) -> Option<&'static Function> {
    PROMETHEUS
        .iter()
        .chain(builtins::BUILTINS)
        .find(|(n, _)| *n == name)
        .map(|(_, f)| f)
}

static TIME_METHODS: &[(&str, Function)] = &[
    (
        "Format",
        fixed(&[Str], |_, a| {
            Ok(Value::string(&format(nanos(&a[0]), text(&a[1]))))
        }),
    ),
    (
        "String",
        fixed(&[], |_, a| Ok(Value::string(&time_string(nanos(&a[0]))))),
    ),
    (
        "Unix",
        fixed(&[], |_, a| {
            Ok(Value::Int(nanos(&a[0]).div_euclid(1_000_000_000)))
        }),
    ),
    (
        "UnixMilli",
        fixed(&[], |_, a| {
            Ok(Value::Int(nanos(&a[0]).div_euclid(1_000_000)))
        }),
    ),
    ("UnixNano", fixed(&[], |_, a| Ok(Value::Int(nanos(&a[0]))))),
    ("UTC", fixed(&[], |_, a| Ok(a[0].clone()))),
];

/// A method of `receiver`'s type (only `time.Time` has any templates can reach).
pub(super) fn method(receiver: &Value, name: &str) -> Option<&'static Function> {
    match receiver {
        Value::Time(_) => TIME_METHODS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f),
        _ => None,
    }
}

/// The text of an argument the executor checked to be a string.
pub(super) fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn nanos(v: &Value) -> i64 {
    match v {
        Value::Time(ns) => *ns,
        _ => 0,
    }
}

const NIL_DEREFERENCE: &str = "runtime error: invalid memory address or nil pointer dereference";

fn sample(v: &Value) -> Result<&Rc<Sample>, FuncError> {
    match v {
        Value::Sample(Some(s)) => Ok(s),
        _ => Err(NIL_DEREFERENCE.into()),
    }
}

fn query(env: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let samples = env.query.query(text(&a[0]))?;
    Ok(Value::Samples(Rc::new(
        samples
            .into_iter()
            .map(|s| {
                let labels = Map::strings(s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                Rc::new(Sample {
                    labels: Rc::new(labels),
                    value: s.value,
                })
            })
            .collect(),
    )))
}

fn first(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    match &a[0] {
        Value::Samples(v) if !v.is_empty() => Ok(Value::Sample(Some(v[0].clone()))),
        _ => Err("first() called on vector with no elements".into()),
    }
}

fn label(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    Ok(sample(&a[1])?.labels.get(text(&a[0])))
}

fn value(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::Float(sample(&a[0])?.value))
}

fn strvalue(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    Ok(sample(&a[0])?.labels.get("__value__"))
}

fn args(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let entries = a
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("arg{i}"), v.clone()))
        .collect();
    Ok(Value::Map(Rc::new(Map { any: true, entries })))
}

/// A Go regex as `regexp.Compile` reads it: unanchored, in Go 1.19's syntax.
fn compile(pattern: &str) -> Result<regex::Regex, String> {
    let translated = promregex::translate_for(pattern, Release::V2).map_err(|e| e.to_string())?;
    regex::Regex::new(&translated)
        .map_err(|_| format!("error parsing regexp: expression too large: `{pattern}`"))
}

fn re_replace_all(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let (pattern, repl, input) = (text(&a[0]), text(&a[1]), text(&a[2]));
    // The text of `regexp.MustCompile`'s panic.
    let re = compile(pattern).map_err(|e| {
        let shown = if pattern.contains('`') {
            quote(pattern, false)
        } else {
            format!("`{pattern}`")
        };
        format!("regexp: Compile({shown}): {e}")
    })?;
    Ok(Value::string(&re.replace_all(input, repl)))
}

fn regex_match(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let re = compile(text(&a[0]))?;
    Ok(Value::Bool(re.is_match(text(&a[1]))))
}

/// `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let separator = if prev.is_ascii() {
                !(prev.is_ascii_alphanumeric() || prev == '_')
            } else {
                !(prev.is_alphabetic() || prev.is_numeric()) && prev.is_whitespace()
            };
            prev = c;
            if separator {
                single(c, c.to_uppercase())
            } else {
                c
            }
        })
        .collect()
}

/// Go's one-rune case mappings: where Unicode maps a rune to several, Go keeps it.
fn single(c: char, mut mapped: impl Iterator<Item = char>) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(m), None) => m,
        _ => c,
    }
}

/// Go's `unicode.ToLower`: the one rune whose full mapping is longer maps to `i`.
fn to_lower(c: char) -> std::char::ToLowercase {
    if c == '\u{130}' { 'i' } else { c }.to_lowercase()
}

fn map_chars<I: Iterator<Item = char>>(v: &Value, f: fn(char) -> I) -> Value {
    Value::string(&text(v).chars().map(|c| single(c, f(c))).collect::<String>())
}

/// `url.QueryEscape`.
pub(super) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn link(expr: &Value, tab: u8) -> Value {
    Value::string(&format!(
        "/graph?g0.expr={}&g0.tab={tab}",
        query_escape(text(expr))
    ))
}

fn sort_by_label(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let label = text(&a[0]);
    let Value::Samples(v) = &a[1] else {
        return Ok(a[1].clone());
    };
    let mut sorted: Vec<Rc<Sample>> = v.as_ref().clone();
    sorted.sort_by(|x, y| {
        let (x, y) = (x.labels.get(label), y.labels.get(label));
        text(&x).cmp(text(&y))
    });
    Ok(Value::Samples(Rc::new(sorted)))
}

/// `net.SplitHostPort`, `None` where Go returns an error.
fn split_host_port(hostport: &str) -> Option<(&str, &str)> {
    let i = hostport.rfind(':')?;
    let (host, j, k) = if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        if end + 1 != i {
            return None;
        }
        (&hostport[1..end], 1, end + 1)
    } else {
        let host = &hostport[..i];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if hostport[j..].contains('[') || hostport[k..].contains(']') {
        return None;
    }
    Some((host, &hostport[i + 1..]))
}

fn strip_port(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let hostport = text(&a[0]);
    Ok(Value::string(
        split_host_port(hostport).map_or(hostport, |(host, _)| host),
    ))
}

fn strip_domain(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let hostport = text(&a[0]);
    let (host, port) = split_host_port(hostport).unwrap_or((hostport, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(a[0].clone());
    }
    let host = host.split('.').next().unwrap_or_default();
    Ok(Value::string(&match (port, host.contains(':')) {
        ("", _) => host.to_string(),
        (port, true) => format!("[{host}]:{port}"),
        (port, false) => format!("{host}:{port}"),
    }))
}

/// Prometheus' `convertToFloat`.
fn to_float(v: &Value) -> Result<f64, FuncError> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => parse_float(s),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

/// `strconv.ParseFloat(s, 64)` and its error texts.
pub(super) fn parse_float(s: &str) -> Result<f64, String> {
    let err = |why: &str| format!("strconv.ParseFloat: parsing {}: {why}", quote(s, false));
    let f: f64 = s.parse().map_err(|_| err("invalid syntax"))?;
    if f.is_infinite() && !s.to_ascii_lowercase().contains("inf") {
        return Err(err("value out of range"));
    }
    Ok(f)
}

/// `%.4g` followed by a unit prefix.
fn g4(v: f64, suffix: &str) -> Value {
    Value::string(&format!("{}{suffix}", format_float(v, 'g', Some(4))))
}

/// Scales `v` by `step` until it is at least 1 (`up`: below `step`) and names the prefix.
fn scale(mut v: f64, step: f64, up: bool, prefixes: &[&'static str]) -> (f64, &'static str) {
    let mut prefix = "";
    for p in prefixes {
        if (up && v.abs() < step) || (!up && v.abs() >= 1.0) {
            break;
        }
        prefix = p;
        if up {
            v /= step;
        } else {
            v *= step;
        }
    }
    (v, prefix)
}

const SMALL: [&str; 8] = ["m", "u", "n", "p", "f", "a", "z", "y"];

fn humanize(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let v = to_float(&a[0])?;
    if v == 0.0 || !v.is_finite() {
        return Ok(g4(v, ""));
    }
    let (v, prefix) = if v.abs() >= 1.0 {
        scale(v, 1000.0, true, &["k", "M", "G", "T", "P", "E", "Z", "Y"])
    } else {
        scale(v, 1000.0, false, &SMALL)
    };
    Ok(g4(v, prefix))
}

fn humanize1024(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let v = to_float(&a[0])?;
    if v.abs() <= 1.0 || !v.is_finite() {
        return Ok(g4(v, ""));
    }
    let prefixes = ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];
    let (v, prefix) = scale(v, 1024.0, true, &prefixes);
    Ok(g4(v, prefix))
}

fn humanize_duration(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let v = to_float(&a[0])?;
    if !v.is_finite() {
        return Ok(g4(v, ""));
    }
    if v == 0.0 {
        return Ok(g4(v, "s"));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let d = v as i64;
        let (days, hours, minutes, seconds) = (d / 86_400, d / 3600 % 24, d / 60 % 60, d % 60);
        let text = if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", format_float(v, 'g', Some(4)))
        };
        return Ok(Value::string(&text));
    }
    let (v, prefix) = scale(v, 1000.0, false, &SMALL);
    Ok(g4(v, &format!("{prefix}s")))
}

fn humanize_percentage(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    Ok(g4(to_float(&a[0])? * 100.0, "%"))
}

/// Prometheus' `floatToTime`: seconds to a time, kept to the millisecond as
/// `model.TimeFromUnixNano` keeps it. `None` for NaN and infinities.
fn float_to_time(v: f64) -> Result<Option<i64>, FuncError> {
    if !v.is_finite() {
        return Ok(None);
    }
    let ns = v * 1e9;
    // Go compares with math.MaxInt64 and MinInt64 as floats, both ±2^63.
    if !(-9_223_372_036_854_775_808.0..=9_223_372_036_854_775_807.0).contains(&ns) {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            format_float(v, 'g', None)
        ));
    }
    Ok(Some((ns as i64) / 1_000_000 * 1_000_000))
}

fn humanize_timestamp(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let v = to_float(&a[0])?;
    Ok(match float_to_time(v)? {
        Some(ns) => Value::string(&time_string(ns)),
        None => g4(v, ""),
    })
}

fn to_time(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let v = to_float(&a[0])?;
    match float_to_time(v)? {
        Some(ns) => Ok(Value::Time(ns)),
        None => Err("value is NaN or Inf".into()),
    }
}

/// The path of the external URL, percent-decoded as Go's `url.URL.Path` holds it.
fn path_prefix(env: &mut Env<'_>, _: &[Value]) -> Result<Value, FuncError> {
    let url = env.external_url;
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    Ok(Value::string(&percent_decode(path)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_duration(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    if text(&a[0]).is_empty() {
        return Err("empty duration string".into());
    }
    let ms = parse_duration_ms(text(&a[0]))?;
    Ok(Value::Float(ms as f64 / 1000.0))
}
