//! Decoding a raw series text (`name{labels}`) into a label set.
//!
//! Kept apart from the line parsers because it runs at a different rate: once per series the
//! scraper has not seen before, not once per sample. It accepts the series syntax of both
//! formats (OpenMetrics' is the text format's without blanks and raw newlines), so it reads
//! everything with the text format's rules.

use wasmfed_model::labels::METRIC_NAME;
use wasmfed_model::{Label, Labels};

use super::lexer::{check_unique, unescape, Cursor};
use super::{Format, ParseError};

/// Decodes a raw series text (as returned in RawSample::series) into labels, including
/// `__name__`, with escapes resolved. Works for both formats.
///
/// Line numbers in its errors count lines within `series`; a series the parser returned never
/// fails here.
pub fn parse_series(series: &str) -> Result<Labels, ParseError> {
    let mut cursor = Cursor::new(series);
    let Some(name) = cursor.metric_name() else {
        return Err(cursor.expected("expected metric name"));
    };
    let mut pairs = Vec::new();
    let name_end = cursor.pos;
    cursor.skip_blanks();
    if cursor.peek() == Some(b'{') {
        cursor.label_set(Format::PrometheusText, &mut pairs)?;
    } else {
        cursor.pos = name_end;
    }
    if cursor.pos != series.len() {
        return Err(cursor.expected("expected end of series"));
    }
    check_unique(&cursor, &pairs)?;
    let mut labels = Vec::with_capacity(pairs.len() + 1);
    labels.push(Label::new(METRIC_NAME, name));
    labels.extend(
        pairs
            .into_iter()
            .map(|(name, value)| Label::new(name, unescape(value, true))),
    );
    labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok(Labels::from_sorted(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_series_of_both_formats() {
        for (series, want) in [
            ("up", vec![("__name__", "up")]),
            ("up{}", vec![("__name__", "up")]),
            ("up {}", vec![("__name__", "up")]),
            (
                r#"node_cpu{mode="idle",cpu="0"}"#,
                vec![("__name__", "node_cpu"), ("cpu", "0"), ("mode", "idle")],
            ),
            (
                r#"a { z = "1" , A="2", }"#,
                vec![("A", "2"), ("__name__", "a"), ("z", "1")],
            ),
            (
                r#"a{b="1" c="2"}"#,
                vec![("__name__", "a"), ("b", "1"), ("c", "2")],
            ),
            (
                r#"a{b="q\"b\\s\nn\x",c=""}"#,
                vec![("__name__", "a"), ("b", "q\"b\\s\nn\\x"), ("c", "")],
            ),
            ("a{b=\"x\ny\"}", vec![("__name__", "a"), ("b", "x\ny")]),
            (
                r#"a{b="ünï©ødé"}"#,
                vec![("__name__", "a"), ("b", "ünï©ødé")],
            ),
            (r#"a:b:c{_x="1"}"#, vec![("__name__", "a:b:c"), ("_x", "1")]),
        ] {
            let got = parse_series(series).unwrap_or_else(|e| panic!("{series:?}: {e}"));
            assert_eq!(got, Labels::from_pairs(want), "{series:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_series() {
        for (series, message) in [
            ("", "expected metric name, got end of input"),
            (" up", r#"expected metric name, got " ""#),
            (r#"{a="b"}"#, "expected metric name"),
            ("up ", r#"expected end of series, got " ""#),
            ("up 1", "expected end of series"),
            (r#"up{a="b"} "#, "expected end of series"),
            (r#"up{a="b"}x"#, "expected end of series"),
            (r#"up{a="b""#, "expected label name, got end of input"),
            (r#"up{a="b",a="c"}"#, r#"label name "a" is not unique"#),
            (
                r#"up{__name__="up"}"#,
                r#"label name "__name__" is not unique"#,
            ),
            (r#"up{1a="b"}"#, "expected label name"),
        ] {
            let err = parse_series(series).unwrap_err();
            assert_eq!(err.line, 1, "{series:?}");
            assert!(err.message.contains(message), "{series:?}: {err}");
        }
    }
}
