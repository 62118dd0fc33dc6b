//! The Prometheus text format 0.0.4, line by line, as Prometheus 2.x's `promlex.l` and
//! `promparse.go` accept it.
//!
//! Its lexer is lenient, and so are we where it is: blanks (spaces, tabs) between any two tokens
//! and at the end of a line, blank lines, `#` comments of any shape, a trailing comma or even a
//! missing comma in a label set, no blank between `}` and the value, raw newlines inside label
//! values, `# HELP`/`# TYPE` text taken from one byte after the metric name. Its strictness is
//! kept too: timestamps are plain digits (no sign), nothing may follow a timestamp but blanks, a
//! NUL where a line should start ends the input. One deliberate difference from its parser, none
//! from Prometheus: blanks before a sample's metric name are an error here, since Prometheus keeps
//! them in the metric name and its scrape loop then rejects that name.

use super::lexer::{check_unique, is_metric_start, unescape, Cursor};
use super::{number, Entry, Format, MetricType, ParseError, RawSample};
use wasmfed_model::every_sample::STALE_PREFIX;
use wasmfed_model::STALE_NAN;

/// The next entry, or None at the end of the input.
pub(super) fn next_entry<'a>(
    cursor: &mut Cursor<'a>,
    pairs: &mut Vec<(&'a str, &'a str)>,
    stale_lines: bool,
) -> Result<Option<Entry<'a>>, ParseError> {
    loop {
        let line_start = cursor.pos;
        cursor.skip_blanks();
        match cursor.peek() {
            // promlex.l: `\0 return tEOF` where a token may start.
            None | Some(0) => return Ok(None),
            Some(b'\n') => cursor.newline(),
            Some(b'#') if stale_lines && cursor.looking_at(STALE_PREFIX) => {
                cursor.pos += STALE_PREFIX.len();
                let mut marker = sample(cursor, pairs)?;
                marker.value = STALE_NAN;
                return Ok(Some(Entry::Sample(marker)));
            }
            Some(b'#') => {
                if let Some(entry) = comment(cursor)? {
                    return Ok(Some(entry));
                }
            }
            Some(b) if is_metric_start(b) || (b == b'{' && cursor.quoted_names) => {
                if cursor.pos != line_start {
                    return Err(cursor.error(format_args!(
                        "unexpected whitespace before metric name at start of line {:?}",
                        cursor.slice(line_start, cursor.pos + 1)
                    )));
                }
                return sample(cursor, pairs).map(|s| Some(Entry::Sample(s)));
            }
            Some(_) => return Err(cursor.expected("expected a valid start token")),
        }
    }
}

/// A line starting with `#`: a `# HELP` or `# TYPE` entry, or a comment (None).
fn comment<'a>(cursor: &mut Cursor<'a>) -> Result<Option<Entry<'a>>, ParseError> {
    cursor.pos += 1;
    let spaced = matches!(cursor.peek(), Some(b' ' | b'\t'));
    cursor.skip_blanks();
    let keyword = ["HELP", "TYPE"].into_iter().find(|keyword| {
        spaced && cursor.looking_at(keyword) && matches!(cursor.peek_at(4), Some(b' ' | b'\t'))
    });
    let Some(keyword) = keyword else {
        cursor.rest_of_line();
        return Ok(None);
    };
    cursor.pos += 4;
    cursor.skip_blanks();
    let Some(metric) = cursor.meta_metric_name(Format::PrometheusText)? else {
        return Err(cursor.expected(format_args!("expected metric name after {keyword}")));
    };
    let (rest, _) = cursor.rest_of_line();
    let text = meta_text(rest).ok_or_else(|| {
        cursor.error(format_args!(
            "invalid {keyword} text {rest:?}: the byte after the metric name, which Prometheus \
             drops, starts a multi-byte character"
        ))
    })?;
    let entry = if keyword == "HELP" {
        Entry::Help {
            metric,
            text: unescape(text, false),
        }
    } else {
        let kind = match text {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Unknown,
            _ => return Err(cursor.error(format_args!("invalid metric type {text:?}"))),
        };
        Entry::Type { metric, kind }
    };
    Ok(Some(entry))
}

/// The text of a `# HELP`/`# TYPE` line from what follows its metric name. The lexer takes that
/// rest whole and the parser drops its first byte, so `# HELP m  x` has help " x"; a rest of
/// blanks only is lexed as whitespace, giving "". Dropping a byte that starts a multi-byte char
/// would leave invalid UTF-8, which Prometheus rejects: None.
fn meta_text(rest: &str) -> Option<&str> {
    if rest.bytes().all(|b| b == b' ' || b == b'\t') {
        Some("")
    } else {
        rest.get(1..)
    }
}

/// A sample line from its metric name on.
fn sample<'a>(
    cursor: &mut Cursor<'a>,
    pairs: &mut Vec<(&'a str, &'a str)>,
) -> Result<RawSample<'a>, ParseError> {
    let line = cursor.line;
    let start = cursor.pos;
    let mut named = cursor.metric_name().is_some();
    let mut series_end = cursor.pos;
    cursor.skip_blanks();
    if cursor.peek() == Some(b'{') {
        pairs.clear();
        named |= cursor
            .label_set(Format::PrometheusText, pairs, named)?
            .is_some();
        check_unique(cursor, pairs)?;
        series_end = cursor.pos;
        cursor.skip_blanks();
    }
    if !named {
        return Err(cursor.error(format_args!(
            "metric name not set while parsing: {:?}",
            cursor.slice(start, series_end)
        )));
    }
    // promlex.l's `[^{ \t\n]+`; its character classes never match NUL either.
    let value_text = cursor.take_while(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'{' | b'\0'));
    if value_text.is_empty() {
        return Err(cursor.expected("expected value after metric"));
    }
    let value = number::float(value_text)
        .map_err(|e| cursor.error(format_args!("invalid value {value_text:?}: {e}")))?;
    cursor.skip_blanks();
    let mut timestamp_ms = None;
    if matches!(cursor.peek(), Some(b'0'..=b'9')) {
        let digits = cursor.take_while(|b| b.is_ascii_digit());
        timestamp_ms = Some(
            number::millis(digits)
                .map_err(|e| cursor.error(format_args!("invalid timestamp {digits:?}: {e}")))?,
        );
        cursor.skip_blanks();
        if !matches!(cursor.peek(), None | Some(b'\n')) {
            return Err(cursor.expected("expected next entry after timestamp"));
        }
    } else if !matches!(cursor.peek(), None | Some(b'\n')) {
        return Err(cursor.expected("expected timestamp or new record"));
    }
    if cursor.peek() == Some(b'\n') {
        cursor.newline();
    }
    Ok(RawSample {
        series: cursor.slice(start, series_end),
        value,
        timestamp_ms,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::sample;
    use super::super::Parser;
    use super::*;

    fn help<'a>(metric: &'a str, text: &'a str) -> Entry<'a> {
        Entry::Help {
            metric,
            text: text.into(),
        }
    }

    fn parse(input: &str) -> Result<Vec<Entry<'_>>, ParseError> {
        Parser::new(input, Format::PrometheusText).collect()
    }

    #[test]
    fn valid_input() {
        let cases: Vec<(&str, Vec<Entry>)> = vec![
            ("", vec![]),
            ("\n \n\t\n", vec![]),
            ("a 1", vec![sample("a", 1.0, None, 1)]),
            ("a 1\n", vec![sample("a", 1.0, None, 1)]),
            ("\n\na 1 2\n", vec![sample("a", 1.0, Some(2), 3)]),
            ("a 1 \t\n", vec![sample("a", 1.0, None, 1)]),
            ("a 1 0123 \n", vec![sample("a", 1.0, Some(123), 1)]),
            (
                "go_goroutines 33  \t123123",
                vec![sample("go_goroutines", 33.0, Some(123123), 1)],
            ),
            (
                "some:aggregate:rate5m{a_b=\"c\"}\t1",
                vec![sample("some:aggregate:rate5m{a_b=\"c\"}", 1.0, None, 1)],
            ),
            ("a{} 1", vec![sample("a{}", 1.0, None, 1)]),
            (r#"a{b="c",} 1"#, vec![sample(r#"a{b="c",}"#, 1.0, None, 1)]),
            (
                r#"a { b = "c" , d= "e" } 1"#,
                vec![sample(r#"a { b = "c" , d= "e" }"#, 1.0, None, 1)],
            ),
            (
                r#"a{b="c" d="e"} 1"#,
                vec![sample(r#"a{b="c" d="e"}"#, 1.0, None, 1)],
            ),
            (r#"a{b="c"}1"#, vec![sample(r#"a{b="c"}"#, 1.0, None, 1)]),
            ("a+1", vec![sample("a", 1.0, None, 1)]),
            (
                r#"a{b="\"\\\n"} +Inf"#,
                vec![sample(r#"a{b="\"\\\n"}"#, f64::INFINITY, None, 1)],
            ),
            ("a -Inf", vec![sample("a", f64::NEG_INFINITY, None, 1)]),
            (
                "a{b=\"x\ny\"} 1\nc 2",
                vec![
                    sample("a{b=\"x\ny\"}", 1.0, None, 1),
                    sample("c", 2.0, None, 3),
                ],
            ),
            ("a{b=\"\0\"} 1", vec![sample("a{b=\"\0\"}", 1.0, None, 1)]),
            ("a 1\n\0garbage", vec![sample("a", 1.0, None, 1)]),
            ("a 1\n  \0garbage", vec![sample("a", 1.0, None, 1)]),
            (
                "# a comment\n#\n#HELP x\n# Hrandom\n# HELP\n# TYPEx a counter\n  # TYPE a gauge\n",
                vec![Entry::Type {
                    metric: "a",
                    kind: MetricType::Gauge,
                }],
            ),
            (
                "# HELP go_gc A summary of the GC.\n# \tTYPE go_gc summary\n",
                vec![
                    help("go_gc", "A summary of the GC."),
                    Entry::Type {
                        metric: "go_gc",
                        kind: MetricType::Summary,
                    },
                ],
            ),
            (
                "# HELP nohelp1\n# HELP nohelp2 \t \n",
                vec![help("nohelp1", ""), help("nohelp2", "")],
            ),
            ("# HELP m  two blanks", vec![help("m", " two blanks")]),
            ("# HELP m\tx", vec![help("m", "x")]),
            ("# HELP m-x", vec![help("m", "x")]),
            ("# HELP m foo\0bar", vec![help("m", "foo\0bar")]),
            (
                r#"# HELP m a \\ b \n c \" d \x"#,
                vec![help("m", "a \\ b \n c \\\" d \\x")],
            ),
            (
                "# TYPE a counter\n# TYPE b histogram\n# TYPE c untyped",
                vec![
                    Entry::Type {
                        metric: "a",
                        kind: MetricType::Counter,
                    },
                    Entry::Type {
                        metric: "b",
                        kind: MetricType::Histogram,
                    },
                    Entry::Type {
                        metric: "c",
                        kind: MetricType::Unknown,
                    },
                ],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn nan_value_is_prometheus_nan() {
        let entries = parse("a NaN\nb nan 5\n").unwrap();
        for entry in entries {
            let Entry::Sample(s) = entry else {
                panic!("{entry:?}")
            };
            assert_eq!(s.value.to_bits(), number::NORMAL_NAN.to_bits());
        }
    }

    #[test]
    fn stale_lines_are_markers_only_in_every_sample_answers() {
        let input = "# STALE up{job=\"a\"} NaN 6\nup{job=\"a\"} 1 5\n";
        let markers: Vec<_> = crate::parse::Parser::every_sample(input)
            .map(Result::unwrap)
            .collect();
        let [Entry::Sample(stale), Entry::Sample(live)] = &markers[..] else {
            panic!("{markers:?}")
        };
        assert_eq!(
            (
                stale.series,
                stale.timestamp_ms,
                stale.value.to_bits(),
                stale.line
            ),
            ("up{job=\"a\"}", Some(6), STALE_NAN.to_bits(), 1)
        );
        assert_eq!((live.series, live.value), ("up{job=\"a\"}", 1.0));
        // In any other exposition it is a comment.
        assert_eq!(parse(input).unwrap().len(), 1);
        let bad = crate::parse::Parser::every_sample("# STALE up{ NaN 6\n")
            .find_map(Result::err)
            .unwrap();
        assert_eq!(bad.line, 1);
    }

    #[test]
    fn invalid_input() {
        for (input, line, message) in [
            (
                "a",
                1,
                r#"expected value after metric, got end of input while parsing "a""#,
            ),
            (
                "a\n",
                1,
                r#"expected value after metric, got "\n" while parsing "a\n""#,
            ),
            ("ok 1\n a 1", 2, "unexpected whitespace before metric name"),
            (
                "ok 1\n\ta{b=\"c\"} 1",
                2,
                "unexpected whitespace before metric name",
            ),
            (
                "9 1",
                1,
                r#"expected a valid start token, got "9" while parsing "9""#,
            ),
            ("{a=\"b\"} 1", 1, r#"expected a valid start token, got "{""#),
            (
                "ok 1\n\n\na{b='c'} 1\n",
                4,
                r#"expected quoted label value after "b=", got "'""#,
            ),
            (
                "a{b=\n",
                1,
                r#"expected quoted label value after "b=", got "\n""#,
            ),
            (
                "a{b}",
                1,
                r#"expected equal sign after label name "b", got "}" while parsing "a{b}""#,
            ),
            ("a{=\"\"} 0", 1, r#"expected label name, got "=""#),
            (
                "a{b=\"c\",,d=\"e\"} 0",
                1,
                r#"expected label name, got ",""#,
            ),
            ("a{b=\"c\"", 1, r#"expected label name, got end of input"#),
            (
                "a{b=\"c",
                1,
                r#"expected closing quote of the value of label "b", got end of input"#,
            ),
            (
                "a{b=\"c\\\nd\"} 1",
                1,
                "expected escaped character after backslash",
            ),
            ("a{b=\"c\ndef 1\n", 1, "expected closing quote"),
            ("a{b=\"c\",b=\"d\"} 1", 1, r#"label name "b" is not unique"#),
            (
                "a{__name__=\"a\"} 1",
                1,
                r#"label name "__name__" is not unique"#,
            ),
            ("a true\n", 1, r#"invalid value "true": invalid syntax"#),
            (
                "a 1_2\n",
                1,
                r#"invalid value "1_2": unsupported character in float"#,
            ),
            ("a 0x1p-3\n", 1, "unsupported character in float"),
            (
                "a 1e999\n",
                1,
                r#"invalid value "1e999": value out of range"#,
            ),
            ("a -NaN\n", 1, "invalid syntax"),
            ("a 1\r\n", 1, r#"invalid value "1\r""#),
            ("a 1\0", 1, r#"expected timestamp or new record, got "\0""#),
            ("a{b=\"c\"} {", 1, "expected value after metric"),
            (
                "a 1 -2\n",
                1,
                r#"expected timestamp or new record, got "-""#,
            ),
            ("a 1 x\n", 1, "expected timestamp or new record"),
            ("a 1{\n", 1, r#"expected timestamp or new record, got "{""#),
            (
                "a 0 1_2\n",
                1,
                r#"expected next entry after timestamp, got "_""#,
            ),
            (
                "a 0 12.5\n",
                1,
                r#"expected next entry after timestamp, got ".""#,
            ),
            (
                "a 0 1 2\n",
                1,
                r#"expected next entry after timestamp, got "2""#,
            ),
            (
                "a 0 1\0",
                1,
                r#"expected next entry after timestamp, got "\0""#,
            ),
            (
                "a 1 99999999999999999999",
                1,
                "invalid timestamp \"99999999999999999999\": value out of range",
            ),
            ("a\0{b=\"c\"} 1", 1, "expected value after metric"),
            ("a{b\0=\"c\"} 1", 1, "expected equal sign"),
            (
                "# TYPE #\n",
                1,
                r##"expected metric name after TYPE, got "#""##,
            ),
            (
                "# HELP \n",
                1,
                r#"expected metric name after HELP, got "\n""#,
            ),
            ("# HELP mé x", 1, "invalid HELP text"),
            ("# TYPE m gauge \n", 1, r#"invalid metric type "gauge ""#),
            ("# TYPE m  gauge\n", 1, r#"invalid metric type " gauge""#),
            ("# TYPE m\n", 1, r#"invalid metric type """#),
            ("# TYPE m unknown\n", 1, r#"invalid metric type "unknown""#),
            ("# TYPE m gaugehistogram\n", 1, "invalid metric type"),
        ] {
            let err = parse(input).unwrap_err();
            assert_eq!(err.line, line, "{input:?}: {err}");
            assert!(err.message.contains(message), "{input:?}: {err}");
        }
    }
}
