//! What an evaluation produces: scalars, strings, instant vectors and range vectors, plus the
//! warnings and infos Prometheus attaches to a query result.

use std::fmt;

use super::labels::Labels;

/// Prometheus' stale marker: a NaN with this exact bit pattern ends a series.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub metric: Labels,
    pub value: f64,
    /// The metric name is to be removed once evaluation ends (delayed name removal); see
    /// [`super::Options::delayed_name_removal`].
    pub drop_name: bool,
}

/// One point of a range vector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub t: i64,
    pub v: f64,
}

/// One series of a range vector, points oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    pub metric: Labels,
    pub points: Vec<Point>,
    pub drop_name: bool,
}

/// The result of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    String(String),
    /// An instant vector, in Prometheus' result order.
    Vector(Vec<Sample>),
    /// A range vector, or the result of a range query (sorted by labels).
    Matrix(Vec<RangeSeries>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Info,
}

/// A warning or info about a query, as Prometheus' `annotations` package words it.
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    pub severity: Severity,
    /// The message without its position, e.g. `PromQL warning: quantile value should be
    /// between 0 and 1, got NaN`.
    pub message: String,
    /// The expression the annotation is about, as the parser prints it; Prometheus appends its
    /// position in the query (`(1:5)`), which a caller holding the query text can locate.
    pub about: String,
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
