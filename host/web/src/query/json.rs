//! Prometheus' JSON for query answers and API errors.
//!
//! Written by hand because Prometheus' is not plain JSON of floats: timestamps are seconds
//! with the milliseconds as written digits (`1700000000.5` is `1700000000.500`) and values are
//! strings in Go's shortest `'f'` spelling (`'e'` below 1e-6 and from 1e21), with `NaN`,
//! `+Inf` and `-Inf` spelled out.

use std::fmt::Write;

use http::{header, Response, StatusCode};

use wasmfed_model::Labels;
use wasmfed_plugin::{QueryAnswer, QueryValue};

use crate::body::{full, ResponseBody};

pub(crate) fn json_response(status: StatusCode, body: String) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body))
        .expect("static headers are valid")
}

/// `{"status":"success","data":<data>}`, 200: an API answer written as a JSON value.
pub(crate) fn success_data(data: serde_json::Value) -> Response<ResponseBody> {
    json_response(
        StatusCode::OK,
        serde_json::json!({"status": "success", "data": data}).to_string(),
    )
}

pub(crate) fn error(status: StatusCode, kind: &str, message: &str) -> Response<ResponseBody> {
    let body = format!(
        r#"{{"status":"error","errorType":{},"error":{}}}"#,
        json_string(kind),
        json_string(message)
    );
    json_response(status, body)
}

pub(super) fn success(answer: &QueryAnswer, at_ms: i64) -> Response<ResponseBody> {
    let mut out = String::from(r#"{"status":"success","data":"#);
    write_data(&mut out, &answer.value, at_ms);
    for (key, notes) in [("warnings", &answer.warnings), ("infos", &answer.infos)] {
        if !notes.is_empty() {
            let notes: Vec<String> = notes.iter().map(|n| json_string(n)).collect();
            let _ = write!(out, r#","{key}":[{}]"#, notes.join(","));
        }
    }
    out.push('}');
    json_response(StatusCode::OK, out)
}

/// `{"resultType": ..., "result": ...}`.
pub fn write_data(out: &mut String, value: &QueryValue, at_ms: i64) {
    let kind = match value {
        QueryValue::Scalar(_) => "scalar",
        QueryValue::String(_) => "string",
        QueryValue::Vector(_) => "vector",
        QueryValue::Matrix(_) => "matrix",
    };
    let _ = write!(out, r#"{{"resultType":"{kind}","result":"#);
    match value {
        QueryValue::Scalar(v) => write_point(out, at_ms, *v),
        QueryValue::String(s) => {
            out.push('[');
            write_timestamp(out, at_ms);
            out.push(',');
            out.push_str(&json_string(s));
            out.push(']');
        }
        QueryValue::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(out, &s.labels);
                out.push_str(r#","value":"#);
                write_point(out, s.timestamp_ms, s.value);
                out.push('}');
            }
            out.push(']');
        }
        QueryValue::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, (t, v)) in s.timestamps_ms.iter().zip(&s.values).enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(out, *t, *v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
}

fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(&l.name));
        out.push(':');
        out.push_str(&json_string(&l.value));
    }
    out.push('}');
}

fn write_point(out: &mut String, t_ms: i64, v: f64) {
    out.push('[');
    write_timestamp(out, t_ms);
    out.push_str(",\"");
    write_value(out, v);
    out.push_str("\"]");
}

/// Prometheus' `jsonutil.MarshalTimestamp`.
fn write_timestamp(out: &mut String, t_ms: i64) {
    if t_ms < 0 {
        out.push('-');
    }
    let t = t_ms.unsigned_abs();
    let _ = write!(out, "{}", t / 1000);
    let fraction = t % 1000;
    if fraction != 0 {
        let _ = write!(out, ".{fraction:03}");
    }
}

/// Prometheus' `jsonutil.MarshalFloat`, without the quotes.
fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let abs = v.abs();
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            // Rust's `{:e}` has Go's shortest digits; Go signs a positive exponent.
            let sci = format!("{v:e}");
            match sci.split_once('e') {
                Some((m, e)) if !e.starts_with('-') => {
                    let _ = write!(out, "{m}e+{e}");
                }
                _ => out.push_str(&sci),
            }
        } else {
            // Rust's `{}` is Go's `'f'` with the shortest round-trip digits.
            let _ = write!(out, "{v}");
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_plugin::{LabeledSample, SelectedSeries};

    #[test]
    fn values_are_spelled_as_prometheus_spells_them() {
        let cases = [
            (1.0, "1"),
            (0.0, "0"),
            (-0.0, "-0"),
            (0.1, "0.1"),
            (1234567.5, "1234567.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (1e-6, "0.000001"),
            (-2.5e22, "-2.5e+22"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            let mut out = String::new();
            write_value(&mut out, v);
            assert_eq!(out, want, "{v:e}");
        }
    }

    #[test]
    fn timestamps_keep_their_millisecond_digits() {
        let cases = [
            (1_700_000_000_000, "1700000000"),
            (1_700_000_000_500, "1700000000.500"),
            (1_700_000_000_050, "1700000000.050"),
            (1_700_000_000_005, "1700000000.005"),
            (-1_500, "-1.500"),
        ];
        for (t, want) in cases {
            let mut out = String::new();
            write_timestamp(&mut out, t);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn each_result_type_has_prometheus_shape() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]);
        let cases = [
            (
                QueryValue::Scalar(2.0),
                r#"{"resultType":"scalar","result":[1.500,"2"]}"#,
            ),
            (
                QueryValue::String("hi".into()),
                r#"{"resultType":"string","result":[1.500,"hi"]}"#,
            ),
            (
                QueryValue::Vector(vec![LabeledSample {
                    labels: labels.clone(),
                    timestamp_ms: 1_500,
                    value: 1.0,
                }]),
                r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1.500,"1"]}]}"#,
            ),
            (
                QueryValue::Vector(vec![]),
                r#"{"resultType":"vector","result":[]}"#,
            ),
            (
                QueryValue::Matrix(vec![SelectedSeries {
                    labels,
                    timestamps_ms: vec![1_000, 2_000],
                    values: vec![0.5, f64::NAN],
                }]),
                r#"{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a\"b"},"values":[[1,"0.5"],[2,"NaN"]]}]}"#,
            ),
        ];
        for (value, want) in cases {
            let mut out = String::new();
            write_data(&mut out, &value, 1_500);
            assert_eq!(out, want);
        }
    }
}
