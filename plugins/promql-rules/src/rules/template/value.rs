//! The values a template handles, each standing for the Go type Prometheus gives it, so that
//! printing, truth, comparison and error messages (which name Go types) come out as Go's.

use std::collections::BTreeMap;
use std::rc::Rc;

/// A Go value as `text/template` sees it through reflection.
#[derive(Clone, Debug)]
pub(super) enum Value {
    /// Go's invalid `reflect.Value`: a missing field, an untyped nil.
    Nil,
    Bool(bool),
    /// Go's `int`: number literals, `len`, `$i` of a range.
    Int(i64),
    /// Go's `uint8`: a byte of a string taken with `index`.
    Byte(u8),
    Float(f64),
    Str(Rc<str>),
    /// `html/template.HTML`, what `safeHtml` returns.
    Html(Rc<str>),
    Map(Rc<Map>),
    /// The data an alert's templates see.
    Alert(Rc<AlertValues>),
    /// `*template.sample`; `None` is a nil pointer.
    Sample(Option<Rc<Sample>>),
    /// `template.queryResult`, what `query` returns.
    Samples(Rc<Vec<Rc<Sample>>>),
    /// `*time.Time` (UTC) as nanoseconds since the epoch, what `toTime` returns.
    Time(i64),
}

/// A Go map with string keys, kept sorted as `fmt` and `range` visit it.
#[derive(Debug, Default)]
pub(super) struct Map {
    /// `map[string]interface {}` (what `args` returns) rather than `map[string]string`.
    pub any: bool,
    pub entries: BTreeMap<String, Value>,
}

impl Map {
    pub fn strings<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Map {
        Map {
            any: false,
            entries: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::string(v)))
                .collect(),
        }
    }

    /// The value at `key`, or the element type's zero value as `missingkey=zero` gives it.
    pub fn get(&self, key: &str) -> Value {
        match self.entries.get(key) {
            Some(v) => v.clone(),
            None if self.any => Value::Nil,
            None => Value::string(""),
        }
    }

    pub fn type_name(&self) -> &'static str {
        if self.any {
            "map[string]interface {}"
        } else {
            "map[string]string"
        }
    }
}

/// Prometheus' `tmplData` struct.
#[derive(Debug)]
pub(super) struct AlertValues {
    pub labels: Rc<Map>,
    pub external_labels: Rc<Map>,
    pub external_url: Rc<str>,
    pub value: f64,
}

pub(super) const ALERT_TYPE: &str = "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }";

/// Prometheus' template `sample`: one element of a query's result.
#[derive(Debug)]
pub(super) struct Sample {
    pub labels: Rc<Map>,
    pub value: f64,
}

impl Value {
    pub fn string(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    /// The value's Go type, as `%T` and error messages spell it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Byte(_) => "uint8",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Html(_) => "template.HTML",
            Value::Map(m) => m.type_name(),
            Value::Alert(_) => ALERT_TYPE,
            Value::Sample(_) => "*template.sample",
            Value::Samples(_) => "template.queryResult",
            Value::Time(_) => "*time.Time",
        }
    }

    /// Go's `template.IsTrue`: not the zero value of its type.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Byte(b) => *b != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) | Value::Html(s) => !s.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
            Value::Alert(_) | Value::Time(_) => true,
            Value::Sample(s) => s.is_some(),
            Value::Samples(v) => !v.is_empty(),
        }
    }

    /// The text of a value of a string kind (`string`, `template.HTML`).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Html(s) => Some(s),
            _ => None,
        }
    }
}
