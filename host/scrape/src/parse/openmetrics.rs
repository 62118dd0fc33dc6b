//! OpenMetrics 1.0 text, line by line, as Prometheus 2.x's `openmetricslex.l` and
//! `openmetricsparse.go` accept it.
//!
//! Unlike the text format, OpenMetrics has exactly one space between tokens and nowhere else: no
//! blank lines, no leading or trailing blanks, no comments beyond `# HELP`, `# TYPE`, `# UNIT`
//! and the closing `# EOF`, which must come last and be there. Timestamps are float seconds.
//! Exemplars (` # {labels} value [timestamp]`) are checked and dropped. As in Prometheus 2.55, a
//! trailing comma in a label set is accepted and exemplars may follow any sample, not only
//! counters and buckets.

use super::lexer::{check_unique, is_metric_start, unescape, Cursor};
use super::{number, Entry, Format, MetricType, ParseError, RawSample};

const NO_EOF: &str = "data does not end with # EOF";

/// The next entry, or None after `# EOF`.
pub(super) fn next_entry<'a>(
    cursor: &mut Cursor<'a>,
    pairs: &mut Vec<(&'a str, &'a str)>,
) -> Result<Option<Entry<'a>>, ParseError> {
    match cursor.peek() {
        None => Err(cursor.error(NO_EOF)),
        Some(b'#') => metadata(cursor),
        Some(b) if is_metric_start(b) || (b == b'{' && cursor.quoted_names) => {
            sample(cursor, pairs).map(|s| Some(Entry::Sample(s)))
        }
        Some(_) => Err(cursor.expected("expected a valid start token")),
    }
}

/// A `# HELP`, `# TYPE` or `# UNIT` entry, or None for a final `# EOF`.
fn metadata<'a>(cursor: &mut Cursor<'a>) -> Result<Option<Entry<'a>>, ParseError> {
    cursor.pos += 1;
    if !cursor.eat(b' ') {
        return Err(cursor.expected("expected a valid start token (\"# \")"));
    }
    if cursor.looking_at("EOF") {
        cursor.pos += 3;
        if cursor.peek() == Some(b'\n') {
            cursor.newline();
        }
        if cursor.pos != cursor.len() {
            return Err(cursor.error("unexpected data after # EOF"));
        }
        return Ok(None);
    }
    let Some(keyword) = ["HELP ", "TYPE ", "UNIT "]
        .into_iter()
        .find(|k| cursor.looking_at(k))
    else {
        return Err(cursor.expected("expected HELP, TYPE, UNIT or EOF after \"# \""));
    };
    let keyword = keyword.trim_end();
    cursor.pos += 5;
    let Some(metric) = cursor.meta_metric_name(Format::OpenMetrics)? else {
        return Err(cursor.expected(format_args!("expected metric name after {keyword}")));
    };
    if !cursor.eat(b' ') {
        return Err(cursor.expected(format_args!("expected text in {keyword}")));
    }
    let (text, terminated) = cursor.rest_of_line();
    if !terminated {
        return Err(cursor.expected(format_args!("expected text in {keyword}")));
    }
    let entry = match keyword {
        "HELP" => Entry::Help {
            metric,
            text: unescape(text, true),
        },
        "TYPE" => Entry::Type {
            metric,
            kind: metric_type(text)
                .ok_or_else(|| cursor.error(format_args!("invalid metric type {text:?}")))?,
        },
        _ => {
            let suffix_ok = text.is_empty()
                || metric
                    .strip_suffix(text)
                    .is_some_and(|stem| stem.ends_with('_'));
            if !suffix_ok {
                return Err(cursor.error(format_args!(
                    "unit {text:?} not a suffix of metric {metric:?}"
                )));
            }
            Entry::Unit { metric, unit: text }
        }
    };
    cursor.newline();
    Ok(Some(entry))
}

fn metric_type(text: &str) -> Option<MetricType> {
    Some(match text {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "gaugehistogram" => MetricType::GaugeHistogram,
        "summary" => MetricType::Summary,
        "info" => MetricType::Info,
        "stateset" => MetricType::StateSet,
        "unknown" => MetricType::Unknown,
        _ => return None,
    })
}

/// A token up to the next space or newline: a value or a timestamp.
fn token<'a>(cursor: &mut Cursor<'a>) -> &'a str {
    cursor.take_while(|b| b != b' ' && b != b'\n')
}

/// A sample line from its metric name on.
fn sample<'a>(
    cursor: &mut Cursor<'a>,
    pairs: &mut Vec<(&'a str, &'a str)>,
) -> Result<RawSample<'a>, ParseError> {
    let line = cursor.line;
    let start = cursor.pos;
    let mut named = cursor.metric_name().is_some();
    if cursor.peek() == Some(b'{') {
        pairs.clear();
        named |= cursor
            .label_set(Format::OpenMetrics, pairs, named)?
            .is_some();
        check_unique(cursor, pairs)?;
    }
    let series_end = cursor.pos;
    if !named {
        return Err(cursor.error(format_args!(
            "metric name not set while parsing: {:?}",
            cursor.slice(start, series_end)
        )));
    }
    if !cursor.eat(b' ') {
        return Err(cursor.expected("expected value after metric"));
    }
    let value_text = token(cursor);
    if value_text.is_empty() {
        return Err(cursor.expected("expected value after metric"));
    }
    let value = number::float(value_text)
        .map_err(|e| cursor.error(format_args!("invalid value {value_text:?}: {e}")))?;
    let mut timestamp_ms = None;
    if cursor.eat(b' ') && !exemplar_follows(cursor) {
        let ts_text = token(cursor);
        if ts_text.is_empty() {
            return Err(cursor.expected("expected timestamp or exemplar"));
        }
        timestamp_ms = Some(
            number::seconds_as_millis(ts_text)
                .map_err(|e| cursor.error(format_args!("invalid timestamp {ts_text:?}: {e}")))?,
        );
        if cursor.eat(b' ') && !exemplar_follows(cursor) {
            cursor.pos -= 1;
            return Err(cursor.expected("expected next entry after timestamp"));
        }
    }
    if exemplar_follows(cursor) {
        exemplar(cursor, pairs)?;
    }
    match cursor.peek() {
        Some(b'\n') => cursor.newline(),
        None => return Err(cursor.error(NO_EOF)),
        Some(_) => return Err(cursor.expected("expected end of line")),
    }
    Ok(RawSample {
        series: cursor.slice(start, series_end),
        value,
        timestamp_ms,
        line,
    })
}

/// Whether `# {` follows: the lexer takes ` # {` as the start of an exemplar, anything else
/// after a space as a timestamp.
fn exemplar_follows(cursor: &Cursor<'_>) -> bool {
    cursor.looking_at("# {")
}

/// Checks an exemplar from `# {` to the end of its line (not consumed). Its labels use `pairs`
/// as scratch.
fn exemplar<'a>(
    cursor: &mut Cursor<'a>,
    pairs: &mut Vec<(&'a str, &'a str)>,
) -> Result<(), ParseError> {
    cursor.pos += 2;
    pairs.clear();
    // An exemplar's labels have no metric name: a bare quoted name is refused as a second one.
    cursor.label_set(Format::OpenMetrics, pairs, true)?;
    // The lexer lets NUL bytes into label values of a series but not of an exemplar.
    if let Some((name, _)) = pairs.iter().find(|(_, value)| value.contains('\0')) {
        return Err(cursor.error(format_args!(
            "invalid NUL byte in the value of exemplar label {name:?}"
        )));
    }
    let value_text = if cursor.eat(b' ') { token(cursor) } else { "" };
    if value_text.is_empty() {
        return Err(cursor.expected("expected value after exemplar labels"));
    }
    number::float(value_text)
        .map_err(|e| cursor.error(format_args!("invalid exemplar value {value_text:?}: {e}")))?;
    if cursor.eat(b' ') {
        let ts_text = token(cursor);
        if ts_text.is_empty() {
            return Err(cursor.expected("expected exemplar timestamp"));
        }
        number::seconds_as_millis(ts_text).map_err(|e| {
            cursor.error(format_args!("invalid exemplar timestamp {ts_text:?}: {e}"))
        })?;
        if cursor.peek() == Some(b' ') {
            return Err(cursor.expected("expected next entry after exemplar timestamp"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::sample;
    use super::super::Parser;
    use super::*;

    fn parse(input: &str) -> Result<Vec<Entry<'_>>, ParseError> {
        Parser::new(input, Format::OpenMetrics).collect()
    }

    #[test]
    fn valid_input() {
        let cases: Vec<(&str, Vec<Entry>)> = vec![
            ("# EOF", vec![]),
            ("# EOF\n", vec![]),
            ("a 1\n# EOF\n", vec![sample("a", 1.0, None, 1)]),
            ("a 1 123.123\n# EOF", vec![sample("a", 1.0, Some(123123), 1)]),
            ("a 1 -1.5\n# EOF", vec![sample("a", 1.0, Some(-1500), 1)]),
            (
                "foo_total 17.0 1520879607.789 # {id=\"counter-test\"} 5\n# EOF\n",
                vec![sample("foo_total", 17.0, Some(1520879607789), 1)],
            ),
            (
                "a{b=\"c\",d=\"e\"} +Inf\n# EOF\n",
                vec![sample("a{b=\"c\",d=\"e\"}", f64::INFINITY, None, 1)],
            ),
            ("a{} 1\n# EOF\n", vec![sample("a{}", 1.0, None, 1)]),
            ("a{b=\"c\",} 1\n# EOF\n", vec![sample("a{b=\"c\",}", 1.0, None, 1)]),
            ("a{b=\"\\\"\"} 1\n# EOF\n", vec![sample("a{b=\"\\\"\"}", 1.0, None, 1)]),
            ("a{b=\"\0\"} 1\n# EOF\n", vec![sample("a{b=\"\0\"}", 1.0, None, 1)]),
            (
                "h_bucket{le=\"+Inf\"} 1 # {id=\"x\",xx=\"yy\"} 4 123.123\nh_count 1 # {} 4\n# EOF\n",
                vec![
                    sample("h_bucket{le=\"+Inf\"}", 1.0, None, 1),
                    sample("h_count", 1.0, None, 2),
                ],
            ),
            (
                "# HELP a Some help.\n# TYPE a_seconds gaugehistogram\n# UNIT a_seconds seconds\n# UNIT n \n# EOF\n",
                vec![
                    Entry::Help {
                        metric: "a",
                        text: "Some help.".into(),
                    },
                    Entry::Type {
                        metric: "a_seconds",
                        kind: MetricType::GaugeHistogram,
                    },
                    Entry::Unit {
                        metric: "a_seconds",
                        unit: "seconds",
                    },
                    Entry::Unit {
                        metric: "n",
                        unit: "",
                    },
                ],
            ),
            (
                "# UNIT _seconds seconds\n# EOF\n",
                vec![Entry::Unit {
                    metric: "_seconds",
                    unit: "seconds",
                }],
            ),
            (
                "# HELP h escape \\ \\n \\\\ \\\" \\x chars\n# HELP e \n# HELP z foo\0bar\n# EOF\n",
                vec![
                    Entry::Help {
                        metric: "h",
                        text: "escape \\ \n \\ \" \\x chars".into(),
                    },
                    Entry::Help {
                        metric: "e",
                        text: "".into(),
                    },
                    Entry::Help {
                        metric: "z",
                        text: "foo\0bar".into(),
                    },
                ],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), Ok(want), "{input:?}");
        }
        for (text, kind) in [
            ("counter", MetricType::Counter),
            ("gauge", MetricType::Gauge),
            ("histogram", MetricType::Histogram),
            ("gaugehistogram", MetricType::GaugeHistogram),
            ("summary", MetricType::Summary),
            ("info", MetricType::Info),
            ("stateset", MetricType::StateSet),
            ("unknown", MetricType::Unknown),
        ] {
            let input = format!("# TYPE m {text}\n# EOF\n");
            assert_eq!(
                parse(&input),
                Ok(vec![Entry::Type { metric: "m", kind }]),
                "{text}"
            );
        }
    }

    #[test]
    fn invalid_input() {
        for (input, line, message) in [
            ("", 1, NO_EOF),
            ("a 1", 1, NO_EOF),
            ("a 1\n", 2, NO_EOF),
            ("a 1 2", 1, NO_EOF),
            ("a 1 # {aa=\"bb\"} 4", 1, NO_EOF),
            ("a", 1, "expected value after metric, got end of input"),
            ("\n", 1, r#"expected a valid start token, got "\n""#),
            (
                "a 1\n\n# EOF\n",
                2,
                r#"expected a valid start token, got "\n""#,
            ),
            (
                " a 1\n# EOF\n",
                1,
                r#"expected a valid start token, got " ""#,
            ),
            ("9\n# EOF\n", 1, r#"expected a valid start token, got "9""#),
            (
                "\0a 1\n# EOF\n",
                1,
                r#"expected a valid start token, got "\0""#,
            ),
            ("# EOF\na 1", 2, "unexpected data after # EOF"),
            ("# EOF\n\n", 2, "unexpected data after # EOF"),
            ("# EOFa 1", 1, "unexpected data after # EOF"),
            ("a 1\n # EOF\n", 2, "expected a valid start token"),
            (
                "#",
                1,
                "expected a valid start token (\"# \"), got end of input",
            ),
            ("#\tTYPE c counter\n", 1, r#"got "\t""#),
            ("#  TYPE c counter\n", 1, "expected HELP, TYPE, UNIT or EOF"),
            (
                "# a comment\n# EOF\n",
                1,
                "expected HELP, TYPE, UNIT or EOF",
            ),
            (
                "# TYPE u untyped\n# EOF\n",
                1,
                r#"invalid metric type "untyped""#,
            ),
            (
                "# TYPE c counter \n# EOF\n",
                1,
                r#"invalid metric type "counter ""#,
            ),
            (
                "# TYPE c  counter\n# EOF\n",
                1,
                r#"invalid metric type " counter""#,
            ),
            (
                "# TYPE \n# EOF\n",
                1,
                r#"expected metric name after TYPE, got "\n""#,
            ),
            ("# TYPE m\n# EOF\n", 1, r#"expected text in TYPE, got "\n""#),
            ("# HELP m\n# EOF\n", 1, "expected text in HELP"),
            (
                "# HELP m-x y\n# EOF\n",
                1,
                r#"expected text in HELP, got "-""#,
            ),
            ("# HELP m x", 1, "expected text in HELP, got end of input"),
            ("# UNIT m\n# EOF\n", 1, "expected text in UNIT"),
            (
                "# UNIT metric suffix\n# EOF\n",
                1,
                r#"unit "suffix" not a suffix of metric "metric""#,
            ),
            ("# UNIT metricsuffix suffix\n# EOF\n", 1, "not a suffix"),
            ("# UNIT m suffix\n# EOF\n", 1, "not a suffix"),
            (
                "a\t1\n# EOF\n",
                1,
                r#"expected value after metric, got "\t""#,
            ),
            (
                "a  1\n# EOF\n",
                1,
                r#"expected value after metric, got " ""#,
            ),
            (
                "a 1\t2\n# EOF\n",
                1,
                r#"invalid value "1\t2": invalid syntax"#,
            ),
            ("a 1 2 \n# EOF\n", 1, "expected next entry after timestamp"),
            ("a 1 2 #\n# EOF\n", 1, "expected next entry after timestamp"),
            ("a 1 1 1\n# EOF\n", 1, "expected next entry after timestamp"),
            (
                "a 1 \n# EOF\n",
                1,
                r#"expected timestamp or exemplar, got "\n""#,
            ),
            (
                "a 1 #\n# EOF\n",
                1,
                r##"invalid timestamp "#": invalid syntax"##,
            ),
            ("a 1 1z\n# EOF\n", 1, r#"invalid timestamp "1z""#),
            (
                "a 1 NaN\n# EOF\n",
                1,
                r#"invalid timestamp "NaN": not a finite number"#,
            ),
            ("a 1 -Inf\n# EOF\n", 1, "not a finite number"),
            ("a 1 1_2\n# EOF\n", 1, "unsupported character in float"),
            ("a true\n# EOF\n", 1, r#"invalid value "true""#),
            (
                "a{b='c'} 1\n# EOF\n",
                1,
                r#"expected quoted label value after "b=", got "'""#,
            ),
            (
                "a{,b=\"c\"} 1\n# EOF\n",
                1,
                r#"expected label name, got ",""#,
            ),
            (
                "a{b=\"c\"d=\"e\"} 1\n# EOF\n",
                1,
                r#"expected comma or brace close, got "d""#,
            ),
            ("a{b=\"c\",,d=\"e\"} 1\n# EOF\n", 1, "expected label name"),
            (
                "a{b=\"c\n# EOF\n",
                1,
                r#"expected closing quote of the value of label "b", got "\n""#,
            ),
            (
                "a{b=\"c\"} 1 # {aa=bb}\n# EOF\n",
                1,
                r#"expected quoted label value after "aa=""#,
            ),
            (
                "a 1 # {aa=\"bb\"}\n# EOF\n",
                1,
                r#"expected value after exemplar labels, got "\n""#,
            ),
            (
                "a 1 # {aa=\"bb\"}",
                1,
                "expected value after exemplar labels, got end of input",
            ),
            ("a 1 # {bb}\n# EOF\n", 1, "expected equal sign"),
            (
                "a 1 # {aa=\"bb\",,cc=\"dd\"} 1\n# EOF\n",
                1,
                "expected label name",
            ),
            (
                "a 1 # {aa=\"bb\"} 1_2\n# EOF\n",
                1,
                "unsupported character in float",
            ),
            (
                "a 1 # {aa=\"bb\"} true\n# EOF\n",
                1,
                r#"invalid exemplar value "true""#,
            ),
            (
                "a 1 # {aa=\"bb\"} 1 NaN\n# EOF\n",
                1,
                "invalid exemplar timestamp \"NaN\"",
            ),
            (
                "a 1 # {aa=\"bb\"} 1 2 3\n# EOF\n",
                1,
                "expected next entry after exemplar timestamp",
            ),
            (
                "a 1 # {aa=\"bb\"} 1 \n# EOF\n",
                1,
                "expected exemplar timestamp",
            ),
            ("a 1 # {b=\"\0ss\"} 1\n# EOF\n", 1, "invalid NUL byte"),
            (
                "a{b=\"c\",b=\"d\"} 1\n# EOF\n",
                1,
                r#"label name "b" is not unique"#,
            ),
            ("{b=\"c\"} 1\n# EOF\n", 1, "expected a valid start token"),
            (
                "a\0{b=\"ddd\"} 1",
                1,
                r#"expected value after metric, got "\0""#,
            ),
            ("ok 1\nok 2\na 1\r\n# EOF\n", 3, r#"invalid value "1\r""#),
        ] {
            let err = parse(input).unwrap_err();
            assert_eq!(err.line, line, "{input:?}: {err}");
            assert!(err.message.contains(message), "{input:?}: {err}");
        }
    }
}
