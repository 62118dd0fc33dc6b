//! Go 1.19's `text/template` builtins (`funcs.go`): logic, comparison with Go's rules across
//! kinds (an `int` and a `float64` do not compare: `gt $value 5` is an error, as in
//! Prometheus), `len`, `index`, `slice`, printing and escaping.

use std::rc::Rc;

use super::funcs::{fixed, query_escape, variadic, Env, FuncError, Function, Param};
use super::printf::{print_action, sprint, sprintf, sprintln};
use super::value::Value;

use Param::{Any, Str};

pub(super) static BUILTINS: &[(&str, Function)] = &[
    ("and", short_circuit()),
    ("or", short_circuit()),
    ("not", fixed(&[Any], |_, a| Ok(Value::Bool(!a[0].truth())))),
    ("len", fixed(&[Any], length)),
    ("index", variadic(&[Any], Any, index)),
    ("slice", variadic(&[Any], Any, slice)),
    (
        "print",
        variadic(&[], Any, |_, a| Ok(Value::string(&sprint(a)))),
    ),
    (
        "println",
        variadic(&[], Any, |_, a| Ok(Value::string(&sprintln(a)))),
    ),
    ("printf", variadic(&[Str], Any, printf)),
    (
        "html",
        variadic(&[], Any, |_, a| Ok(Value::string(&html(&eval_args(a))))),
    ),
    (
        "js",
        variadic(&[], Any, |_, a| Ok(Value::string(&js(&eval_args(a))))),
    ),
    (
        "urlquery",
        variadic(&[], Any, |_, a| {
            Ok(Value::string(&query_escape(&eval_args(a))))
        }),
    ),
    ("eq", variadic(&[Any], Any, eq)),
    (
        "ne",
        fixed(&[Any, Any], |_, a| Ok(Value::Bool(!equal(&a[0], &a[1..])?))),
    ),
    (
        "lt",
        fixed(&[Any, Any], |_, a| Ok(Value::Bool(less(&a[0], &a[1])?))),
    ),
    (
        "le",
        fixed(&[Any, Any], |_, a| {
            Ok(Value::Bool(less_or_equal(&a[0], &a[1])?))
        }),
    ),
    (
        "gt",
        fixed(&[Any, Any], |_, a| {
            Ok(Value::Bool(!less_or_equal(&a[0], &a[1])?))
        }),
    ),
    (
        "ge",
        fixed(&[Any, Any], |_, a| Ok(Value::Bool(!less(&a[0], &a[1])?))),
    ),
    ("call", variadic(&[Any], Any, call)),
];

/// `and` and `or` are evaluated by the executor, argument by argument.
const fn short_circuit() -> Function {
    Function {
        params: &[Any],
        variadic: Some(Any),
        short_circuit: true,
        call: |_, a| Ok(a.last().cloned().unwrap_or(Value::Nil)),
    }
}

fn error(text: impl Into<String>) -> FuncError {
    text.into()
}

fn printf(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::string(&sprintf(super::funcs::text(&a[0]), &a[1..])))
}

fn call(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    match &a[0] {
        Value::Nil => Err(error("call of nil")),
        other => Err(error(format!("non-function of type {}", other.type_name()))),
    }
}

fn length(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let n = match &a[0] {
        Value::Nil => return Err(error("len of untyped nil")),
        Value::Sample(None) => return Err(error("len of nil pointer")),
        Value::Str(s) | Value::Html(s) => s.len(),
        Value::Map(m) => m.entries.len(),
        Value::Samples(v) => v.len(),
        Value::Sample(Some(_)) => return Err(error("len of type template.sample")),
        Value::Time(_) => return Err(error("len of type time.Time")),
        other => return Err(error(format!("len of type {}", other.type_name()))),
    };
    Ok(Value::Int(n as i64))
}

/// An index into something of length `len` (Go's `indexArg`); `cap` allows `len` itself.
fn index_arg(index: &Value, len: usize, cap: bool) -> Result<usize, FuncError> {
    let x = match index {
        Value::Int(i) => *i,
        Value::Byte(b) => i64::from(*b),
        Value::Nil => return Err(error("cannot index slice/array with nil")),
        other => {
            return Err(error(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            )))
        }
    };
    if x < 0 || x as u64 > len as u64 || (!cap && x as u64 == len as u64) {
        return Err(error(format!("index out of range: {x}")));
    }
    Ok(x as usize)
}

fn index(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let mut item = a[0].clone();
    if let Value::Nil = item {
        return Err(error("index of untyped nil"));
    }
    for i in &a[1..] {
        item = match &item {
            Value::Sample(None) => return Err(error("index of nil pointer")),
            Value::Str(s) | Value::Html(s) => {
                Value::Byte(s.as_bytes()[index_arg(i, s.len(), false)?])
            }
            Value::Samples(v) => Value::Sample(Some(v[index_arg(i, v.len(), false)?].clone())),
            Value::Map(m) => match i {
                Value::Str(k) => m.get(k),
                Value::Nil => return Err(error("value is nil; should be of type string")),
                other => {
                    return Err(error(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    )))
                }
            },
            other => {
                let typ = match other {
                    Value::Sample(_) => "template.sample",
                    Value::Time(_) => "time.Time",
                    _ => other.type_name(),
                };
                return Err(error(format!("can't index item of type {typ}")));
            }
        };
    }
    Ok(item)
}

fn slice(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let item = &a[0];
    let len = match item {
        Value::Nil => return Err(error("slice of untyped nil")),
        Value::Str(s) | Value::Html(s) => s.len(),
        Value::Samples(v) => v.len(),
        other => {
            return Err(error(format!(
                "can't slice item of type {}",
                other.type_name()
            )))
        }
    };
    let indexes = &a[1..];
    if indexes.len() > 3 {
        return Err(error(format!("too many slice indexes: {}", indexes.len())));
    }
    if indexes.len() == 3 && item.as_str().is_some() {
        return Err(error("cannot 3-index slice a string"));
    }
    let mut bounds = [0, len, len];
    for (n, i) in indexes.iter().enumerate() {
        bounds[n] = index_arg(i, len, true)?;
    }
    if indexes.len() < 3 {
        bounds[2] = len;
    }
    let (lo, hi) = (bounds[0], if indexes.len() > 1 { bounds[1] } else { len });
    if lo > hi {
        return Err(error(format!("invalid slice index: {lo} > {hi}")));
    }
    Ok(match item {
        Value::Str(s) => Value::string(s.get(lo..hi).unwrap_or_default()),
        Value::Html(s) => Value::Html(Rc::from(s.get(lo..hi).unwrap_or_default())),
        Value::Samples(v) => Value::Samples(Rc::new(v[lo..hi].to_vec())),
        _ => Value::Nil,
    })
}

/// Go's `evalArgs`: one string as it is, else `fmt.Sprint` of the printable values.
fn eval_args(a: &[Value]) -> String {
    if let [Value::Str(s)] = a {
        return s.to_string();
    }
    let printable: Vec<Value> = a
        .iter()
        .map(|v| match v {
            Value::Nil | Value::Sample(Some(_)) => Value::string(&print_action(v)),
            other => other.clone(),
        })
        .collect();
    sprint(&printable)
}

/// `template.HTMLEscapeString`.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// `template.JSEscapeString` of Go 1.19.
fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' | '>' | '&' | '=' => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() || crate::goquote::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// The kinds Go's comparisons tell apart.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    String,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Byte(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::Str(_) | Value::Html(_) => Kind::String,
        _ => Kind::Invalid,
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Byte(b) => i64::from(*b),
        _ => 0,
    }
}

fn float(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

const BAD_TYPE: &str = "invalid type for comparison";
const INCOMPATIBLE: &str = "incompatible types for comparison";

fn eq(_: &mut Env<'_>, a: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::Bool(equal(&a[0], &a[1..])?))
}

/// Go's `eq arg1 arg2...`: whether `arg1` equals any of `others`.
fn equal(arg1: &Value, others: &[Value]) -> Result<bool, FuncError> {
    if let Value::Map(_) | Value::Samples(_) = arg1 {
        return Err(non_comparable(arg1));
    }
    if others.is_empty() {
        return Err(error("missing argument for comparison"));
    }
    let k1 = kind(arg1);
    for arg in others {
        let k2 = kind(arg);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Kind::Int | Kind::Uint, Kind::Int | Kind::Uint) => int(arg1) == int(arg),
                _ if !matches!(arg1, Value::Nil) && !matches!(arg, Value::Nil) => {
                    return Err(error(INCOMPATIBLE))
                }
                _ => false,
            }
        } else {
            match k1 {
                Kind::Bool => arg1.truth() == arg.truth(),
                Kind::Int | Kind::Uint => int(arg1) == int(arg),
                Kind::Float => float(arg1) == float(arg),
                Kind::String => arg1.as_str() == arg.as_str(),
                Kind::Invalid => match (arg1, arg) {
                    (Value::Nil, Value::Nil) => true,
                    (Value::Nil, _) | (_, Value::Nil) => false,
                    (Value::Sample(x), Value::Sample(y)) => match (x, y) {
                        (Some(x), Some(y)) => Rc::ptr_eq(x, y),
                        (None, None) => true,
                        _ => false,
                    },
                    (Value::Time(x), Value::Time(y)) => x == y,
                    (Value::Alert(x), Value::Alert(y)) => Rc::ptr_eq(x, y),
                    (_, Value::Map(_) | Value::Samples(_)) => return Err(non_comparable(arg)),
                    _ => return Err(error(INCOMPATIBLE)),
                },
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn non_comparable(v: &Value) -> FuncError {
    let shown = sprint(std::slice::from_ref(v));
    error(format!("non-comparable type {shown}: {}", v.type_name()))
}

/// Go's `lt`.
fn less(arg1: &Value, arg2: &Value) -> Result<bool, FuncError> {
    let (k1, k2) = (kind(arg1), kind(arg2));
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return Err(error(BAD_TYPE));
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Kind::Int | Kind::Uint, Kind::Int | Kind::Uint) => Ok(int(arg1) < int(arg2)),
            _ => Err(error(INCOMPATIBLE)),
        };
    }
    match k1 {
        Kind::Bool => Err(error(BAD_TYPE)),
        Kind::Float => Ok(float(arg1) < float(arg2)),
        Kind::String => Ok(arg1.as_str() < arg2.as_str()),
        _ => Ok(int(arg1) < int(arg2)),
    }
}

fn less_or_equal(arg1: &Value, arg2: &Value) -> Result<bool, FuncError> {
    if less(arg1, arg2)? {
        return Ok(true);
    }
    equal(arg1, std::slice::from_ref(arg2))
}
