//! Parsing of the Prometheus text format 0.0.4 and OpenMetrics 1.0 text, on the scrape hot path.
//!
//! The grammar is the one Prometheus 2.x actually accepts (`model/textparse/promlex.l`,
//! `promparse.go`, `openmetricslex.l`, `openmetricsparse.go`), quirks included, because a node
//! that federates Prometheus servers must accept and reject the same payloads they do. Where
//! Prometheus' parser lets something through that its scrape loop or storage then rejects (leading
//! whitespace before a sample, duplicate label names), the rejection happens here, so one bad line
//! fails the scrape the way it does in Prometheus.
//!
//! The parser is shaped for a scraper that keeps a cache from raw series text to series id: it
//! validates each line while scanning its bytes once and hands back the series as a slice of the
//! input ([`RawSample::series`]), never decoding labels. Only a series the cache has not seen is
//! decoded, with [`parse_series`]. A sample costs no allocation unless its help text has escapes.
//!
//! Files: `media_type` picks the format from a Content-Type, `lexer` holds the byte-level
//! scanning both formats share (names, label sets, quoted strings, errors), `number` the float
//! and timestamp rules, `text` and `openmetrics` the line grammars, `series` the label decoding
//! (and Prometheus 3's normalization of `le` and `quantile` values).

mod lexer;
mod media_type;
mod number;
mod openmetrics;
mod series;
mod text;

#[cfg(test)]
mod differential_tests;
#[cfg(test)]
mod quoted_names_tests;
#[cfg(test)]
mod robustness_tests;

use std::borrow::Cow;

use lexer::Cursor;
pub use media_type::ContentTypeError;
pub use series::{normalize_float_labels, parse_series};

/// The two text exposition formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    PrometheusText,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

/// The kind of a metric family as a `# TYPE` line declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// `untyped` in the Prometheus text format, `unknown` in OpenMetrics.
    Unknown,
}

impl MetricType {
    /// The name Prometheus' API gives it (OpenMetrics' spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// One sample line, borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawSample<'a> {
    /// The exact text of `name{labels}` (or just `name`) as it appears in the input: the cache key
    /// the scraper uses so a steady scrape never decodes labels again. Trailing whitespace excluded.
    pub series: &'a str,
    /// The value; any NaN comes back as Prometheus' own NaN (`value.NormalNaN`), bit for bit.
    pub value: f64,
    /// OpenMetrics timestamps are float seconds, converted to ms as Prometheus does (truncated).
    pub timestamp_ms: Option<i64>,
    /// 1-based line number.
    pub line: usize,
}

/// One meaningful line of an exposition. Comments, blank lines and exemplars are consumed
/// silently: nothing downstream uses them.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry<'a> {
    Sample(RawSample<'a>),
    Type {
        metric: &'a str,
        kind: MetricType,
    },
    /// Help text with its escapes resolved (borrowed unless it had any).
    Help {
        metric: &'a str,
        text: Cow<'a, str>,
    },
    /// OpenMetrics only.
    Unit {
        metric: &'a str,
        unit: &'a str,
    },
}

/// A malformed exposition: where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Iterates the entries of one scrape body. Stops after the first error, since Prometheus fails
/// the whole scrape on one.
pub struct Parser<'a> {
    cursor: Cursor<'a>,
    format: Format,
    finished: bool,
    /// Scratch for the current label set, reused so samples don't allocate.
    pairs: Vec<(&'a str, &'a str)>,
    /// Whether `# STALE` lines are stale markers (an every-sample `/federate` answer).
    stale_lines: bool,
}

impl<'a> Parser<'a> {
    pub fn new(input: &'a str, format: Format) -> Self {
        Parser {
            cursor: Cursor::new(input),
            format,
            finished: false,
            pairs: Vec::new(),
            stale_lines: false,
        }
    }

    /// Accepts Prometheus 3's quoted names (`{"my.metric"}`, `{"my.label"="v"}`,
    /// `# TYPE "my.metric" counter`), which Prometheus 2 refuses as syntax errors. A quoted
    /// name's escapes stay in [`RawSample::series`] and are resolved by [`parse_series`]; a
    /// `# HELP`/`# TYPE` line's name is what is between the quotes, as Prometheus 3 keeps it.
    pub fn with_quoted_names(mut self, quoted: bool) -> Self {
        self.cursor.quoted_names = quoted;
        self
    }

    /// A parser of a wasmfed leaf's every-sample `/federate` answer: the text format, with
    /// `# STALE <series> NaN <timestamp>` lines read as stale markers
    /// (`wasmfed_model::every_sample`). Anywhere else such a line is a comment.
    pub fn every_sample(input: &'a str) -> Self {
        Parser {
            stale_lines: true,
            ..Parser::new(input, Format::PrometheusText)
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let entry = match self.format {
            Format::PrometheusText => {
                text::next_entry(&mut self.cursor, &mut self.pairs, self.stale_lines)
            }
            Format::OpenMetrics => openmetrics::next_entry(&mut self.cursor, &mut self.pairs),
        };
        match entry {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(err) => {
                self.finished = true;
                Some(Err(err))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_first_error() {
        let mut p = Parser::new("a 1\nb x\nc 3\n", Format::PrometheusText);
        assert!(matches!(p.next(), Some(Ok(Entry::Sample(_)))));
        let err = p.next().unwrap().unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(p.next(), None);
        assert_eq!(p.next(), None);
    }

    #[test]
    fn error_display_names_the_line() {
        let err = Parser::new("ok 1\nfoo{a} 1\n", Format::PrometheusText)
            .find_map(Result::err)
            .unwrap();
        assert_eq!(
            err.to_string(),
            r#"line 2: expected equal sign after label name "a", got "}" while parsing "foo{a}""#
        );
    }
}

/// Helpers the format parsers' tests share.
#[cfg(test)]
mod test_support {
    use super::{Entry, RawSample};

    pub(super) fn sample(
        series: &str,
        value: f64,
        timestamp_ms: Option<i64>,
        line: usize,
    ) -> Entry<'_> {
        Entry::Sample(RawSample {
            series,
            value,
            timestamp_ms,
            line,
        })
    }
}
