//! Byte-level scanning shared by both formats: a cursor over the input, name and label-set
//! scanning, quoted strings, escape resolution and error messages with context.
//!
//! Everything works on bytes, never on decoded chars: every delimiter of both grammars is ASCII,
//! and a UTF-8 continuation byte can never be mistaken for one, so slices taken at delimiters are
//! always valid `&str`. The two formats differ only in whitespace (the Prometheus text format
//! allows blanks between any two tokens, OpenMetrics none) and in raw newlines inside label values
//! (the text format's lexer allows them, OpenMetrics' does not); both are a `Format` switch here.

use std::borrow::Cow;
use std::fmt::Display;

use memchr::{memchr, memchr3};

use super::{Format, ParseError};

const METRIC_START: u8 = 1;
const METRIC_CHAR: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CHAR: u8 = 8;

/// Character classes of promlex.l: `M` = `[a-zA-Z_:]`, `L` = `[a-zA-Z_]`, `D` = `[0-9]`.
static CLASSES: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let letter = b.is_ascii_alphabetic() || b == b'_';
        if letter {
            table[i] |= METRIC_START | METRIC_CHAR | LABEL_START | LABEL_CHAR;
        }
        if b == b':' {
            table[i] |= METRIC_START | METRIC_CHAR;
        }
        if b.is_ascii_digit() {
            table[i] |= METRIC_CHAR | LABEL_CHAR;
        }
        i += 1;
    }
    table
}

/// Whether `b` can start a metric name.
pub(super) fn is_metric_start(b: u8) -> bool {
    CLASSES[b as usize] & METRIC_START != 0
}

/// A position in the input plus the line bookkeeping errors and samples need.
pub(super) struct Cursor<'a> {
    src: &'a str,
    pub(super) pos: usize,
    /// 1-based number of the line `pos` is on.
    pub(super) line: usize,
    line_start: usize,
    /// Whether names may be quoted, as Prometheus 3's lexers allow (UTF-8 names): a quoted
    /// string alone in a label set is the metric name (`{"my.metric",a="b"}`), one before `=`
    /// a label name, one after `# HELP`/`# TYPE` a metric name. Prometheus 2 has no such syntax.
    pub(super) quoted_names: bool,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Cursor {
            src,
            pos: 0,
            line: 1,
            line_start: 0,
            quoted_names: false,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.src.len()
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    /// The byte `offset` bytes past the cursor.
    pub(super) fn peek_at(&self, offset: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + offset).copied()
    }

    /// Consumes `b` if it is next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += hit as usize;
        hit
    }

    /// Whether the input continues with `s` at the cursor.
    pub(super) fn looking_at(&self, s: &str) -> bool {
        self.src.as_bytes()[self.pos..].starts_with(s.as_bytes())
    }

    /// Skips spaces and tabs: the text format's `[ \t]+` whitespace token.
    pub(super) fn skip_blanks(&mut self) {
        let bytes = self.src.as_bytes();
        while matches!(bytes.get(self.pos), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Consumes the `\n` at the cursor.
    pub(super) fn newline(&mut self) {
        debug_assert_eq!(self.peek(), Some(b'\n'));
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
    }

    pub(super) fn slice(&self, start: usize, end: usize) -> &'a str {
        &self.src[start..end]
    }

    fn take_class(&mut self, start_class: u8, class: u8) -> Option<&'a str> {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        if CLASSES[*bytes.get(start)? as usize] & start_class == 0 {
            return None;
        }
        let mut end = start + 1;
        while end < bytes.len() && CLASSES[bytes[end] as usize] & class != 0 {
            end += 1;
        }
        self.pos = end;
        Some(&self.src[start..end])
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, or None without moving.
    pub(super) fn metric_name(&mut self) -> Option<&'a str> {
        self.take_class(METRIC_START, METRIC_CHAR)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, or None without moving.
    pub(super) fn label_name(&mut self) -> Option<&'a str> {
        self.take_class(LABEL_START, LABEL_CHAR)
    }

    /// The metric name of a `# HELP`/`# TYPE`/`# UNIT` line: a legacy name or, where names may
    /// be quoted, what is between the quotes (escapes unresolved, as Prometheus 3 keeps it).
    pub(super) fn meta_metric_name(
        &mut self,
        format: Format,
    ) -> Result<Option<&'a str>, ParseError> {
        if self.quoted_names && self.peek() == Some(b'"') {
            return self.quoted(format, Of::Name).map(Some);
        }
        Ok(self.metric_name())
    }

    /// Takes bytes while `keep` holds.
    pub(super) fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let mut end = start;
        while end < bytes.len() && keep(bytes[end]) {
            end += 1;
        }
        self.pos = end;
        &self.src[start..end]
    }

    /// The rest of the current line without its `\n`, and whether a `\n` ends it (it is not
    /// consumed).
    pub(super) fn rest_of_line(&mut self) -> (&'a str, bool) {
        let start = self.pos;
        match memchr(b'\n', &self.src.as_bytes()[start..]) {
            Some(n) => {
                self.pos = start + n;
                (&self.src[start..self.pos], true)
            }
            None => {
                self.pos = self.src.len();
                (&self.src[start..], false)
            }
        }
    }

    /// Scans a label set from its `{` through its `}`, pushing `(name, raw value)` pairs; values
    /// (and quoted names) keep their escapes. Uniqueness is the caller's business
    /// ([`check_unique`]). Answers the metric name the set holds where names may be quoted
    /// (`{"my.metric"}`); `named` says the series had one before its `{`.
    pub(super) fn label_set(
        &mut self,
        format: Format,
        pairs: &mut Vec<(&'a str, &'a str)>,
        named: bool,
    ) -> Result<Option<&'a str>, ParseError> {
        let text = format == Format::PrometheusText;
        let start = self.pos;
        debug_assert_eq!(self.peek(), Some(b'{'));
        self.pos += 1;
        let mut metric = None;
        loop {
            if text {
                self.skip_blanks();
            }
            if self.eat(b'}') {
                return Ok(metric);
            }
            let name = if self.quoted_names && self.peek() == Some(b'"') {
                let quoted = self.quoted(format, Of::Name)?;
                if text {
                    self.skip_blanks();
                }
                if matches!(self.peek(), Some(b',' | b'}')) {
                    // Prometheus 3's parseLVals: a quoted string followed by a comma or the
                    // closing brace is the metric name.
                    if named || metric.is_some() {
                        return Err(self.error(format_args!(
                            "metric name already set while parsing: {:?}",
                            self.slice(start, self.pos)
                        )));
                    }
                    metric = Some(quoted);
                    self.eat(b',');
                    continue;
                }
                quoted
            } else {
                let Some(name) = self.label_name() else {
                    return Err(self.expected("expected label name"));
                };
                name
            };
            if text {
                self.skip_blanks();
            }
            if !self.eat(b'=') {
                return Err(self.expected(format_args!(
                    "expected equal sign after label name {name:?}"
                )));
            }
            if text {
                self.skip_blanks();
            }
            if self.peek() != Some(b'"') {
                return Err(self.expected(format_args!(
                    "expected quoted label value after \"{name}=\""
                )));
            }
            let value = self.quoted(format, Of::Value(name))?;
            pairs.push((name, value));
            if text {
                // A missing comma between two pairs is accepted: so does Prometheus' text parser
                // (its test calls this "probably unintended", but exporters may rely on it).
                self.skip_blanks();
                self.eat(b',');
            } else if self.eat(b'}') {
                return Ok(metric);
            } else if !self.eat(b',') {
                return Err(self.expected("expected comma or brace close"));
            }
        }
    }

    /// Scans the `"..."` at the cursor and returns what is between the quotes, escapes
    /// unresolved. Any char may follow a backslash except a newline; a raw newline is allowed
    /// only in the text format, where it starts a new line.
    fn quoted(&mut self, format: Format, of: Of<'_>) -> Result<&'a str, ParseError> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.pos += 1;
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let (line, line_start) = (self.line, self.line_start);
        let mut i = start;
        loop {
            let Some(n) = memchr3(b'"', b'\\', b'\n', &bytes[i..]) else {
                // Blame the line the value started on, not wherever the input ran out.
                (self.line, self.line_start) = (line, line_start);
                self.pos = bytes.len();
                return Err(self.expected(format_args!("expected closing quote of {of}")));
            };
            i += n;
            match bytes[i] {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(&self.src[start..i]);
                }
                b'\\' => {
                    if matches!(bytes.get(i + 1), None | Some(b'\n')) {
                        self.pos = i + 1;
                        return Err(self.expected(format_args!(
                            "expected escaped character after backslash in {of}"
                        )));
                    }
                    i += 2;
                }
                _ if format == Format::PrometheusText => {
                    i += 1;
                    self.line += 1;
                    self.line_start = i;
                }
                _ => {
                    self.pos = i;
                    return Err(self.expected(format_args!("expected closing quote of {of}")));
                }
            }
        }
    }

    /// An error on the current line saying what was expected, what is at the cursor instead,
    /// and the line up to there.
    pub(super) fn expected(&self, what: impl Display) -> ParseError {
        let (got, end) = match self.src.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => (format!("{:?}", c.to_string()), self.pos + c.len_utf8()),
            None if self.pos >= self.src.len() => ("end of input".to_string(), self.src.len()),
            None => (
                format!("byte {:#04x}", self.src.as_bytes()[self.pos]),
                self.pos,
            ),
        };
        self.error(format_args!(
            "{what}, got {got} while parsing {:?}",
            self.context(end)
        ))
    }

    /// An error on the current line.
    pub(super) fn error(&self, message: impl Display) -> ParseError {
        ParseError {
            line: self.line,
            message: message.to_string(),
        }
    }

    /// The current line up to `end`, cut to its last ~120 bytes.
    fn context(&self, end: usize) -> Cow<'a, str> {
        const MAX: usize = 120;
        let mut start = self.line_start;
        if end - start <= MAX {
            return Cow::Borrowed(self.src.get(start..end).unwrap_or(""));
        }
        start = end - MAX;
        while !self.src.is_char_boundary(start) {
            start += 1;
        }
        Cow::Owned(format!("...{}", self.src.get(start..end).unwrap_or("")))
    }
}

/// What a quoted string is, for its errors: "the value of label "a"" or "the quoted name".
#[derive(Clone, Copy)]
enum Of<'s> {
    Value(&'s str),
    Name,
}

impl Display for Of<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Of::Value(label) => write!(f, "the value of label {label:?}"),
            Of::Name => f.write_str("the quoted name"),
        }
    }
}

/// Rejects a label set naming one label twice, or naming `__name__` beside the metric name.
/// Prometheus' parsers let such sets through and its storage rejects the sample, failing the
/// scrape; failing at the parser gives the same outcome with a line number.
pub(super) fn check_unique(cursor: &Cursor<'_>, pairs: &[(&str, &str)]) -> Result<(), ParseError> {
    for (i, (name, _)) in pairs.iter().enumerate() {
        if *name == wasmfed_model::labels::METRIC_NAME || pairs[..i].iter().any(|(n, _)| n == name)
        {
            return Err(cursor.error(format_args!("label name {name:?} is not unique")));
        }
    }
    Ok(())
}

/// Resolves `\\`, `\n` and, with `quotes`, `\"`; any other backslash stays as it is, as with
/// Go's `strings.Replacer` in Prometheus. Borrows when there is nothing to resolve.
pub(super) fn unescape(s: &str, quotes: bool) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let Some(first) = memchr(b'\\', bytes) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut i = first;
    while i < bytes.len() {
        let Some(n) = memchr(b'\\', &bytes[i..]) else {
            out.push_str(&s[i..]);
            break;
        };
        out.push_str(&s[i..i + n]);
        i += n;
        match bytes.get(i + 1) {
            Some(b'\\') => out.push('\\'),
            Some(b'n') => out.push('\n'),
            Some(b'"') if quotes => out.push('"'),
            _ => {
                out.push('\\');
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescaping() {
        for (raw, quotes, want) in [
            ("plain", true, "plain"),
            (r#"a\"b"#, true, r#"a"b"#),
            (r#"a\"b"#, false, r#"a\"b"#),
            (r"a\\b", true, r"a\b"),
            (r"a\nb", true, "a\nb"),
            (r"a\\nb", true, r"a\nb"),
            (r"a\xb", true, r"a\xb"),
            (r"end\", true, r"end\"),
            (r"\\\\", false, r"\\"),
            (r"ü\nö", true, "ü\nö"),
        ] {
            assert_eq!(unescape(raw, quotes), want, "{raw:?}");
        }
        assert!(matches!(unescape("no escapes", true), Cow::Borrowed(_)));
    }

    #[test]
    fn label_sets_per_format() {
        use Format::*;
        for (input, format, want) in [
            (r#"{}"#, PrometheusText, Ok(vec![])),
            (r#"{}"#, OpenMetrics, Ok(vec![])),
            (
                r#"{a="1",b="2"}"#,
                OpenMetrics,
                Ok(vec![("a", "1"), ("b", "2")]),
            ),
            (r#"{a="1",}"#, OpenMetrics, Ok(vec![("a", "1")])),
            (
                r#"{ a = "1" , b="\"" , }"#,
                PrometheusText,
                Ok(vec![("a", "1"), ("b", r#"\""#)]),
            ),
            (
                r#"{a="1" b="2"}"#,
                PrometheusText,
                Ok(vec![("a", "1"), ("b", "2")]),
            ),
            ("{a=\"x\ny\"}", PrometheusText, Ok(vec![("a", "x\ny")])),
            (
                r#"{a="1" b="2"}"#,
                OpenMetrics,
                Err("expected comma or brace close"),
            ),
            (r#"{ a="1"}"#, OpenMetrics, Err("expected label name")),
            (r#"{a ="1"}"#, OpenMetrics, Err("expected equal sign")),
            ("{a=\"x\ny\"}", OpenMetrics, Err("expected closing quote")),
            (r#"{,}"#, PrometheusText, Err("expected label name")),
            (r#"{a="1",,b="2"}"#, OpenMetrics, Err("expected label name")),
            (r#"{1="1"}"#, PrometheusText, Err("expected label name")),
            (r#"{a:b="1"}"#, PrometheusText, Err("expected equal sign")),
            (
                r#"{a='1'}"#,
                PrometheusText,
                Err("expected quoted label value"),
            ),
            (r#"{a="1"#, PrometheusText, Err("expected closing quote")),
            (
                "{a=\"1\\\n\"}",
                PrometheusText,
                Err("expected escaped character"),
            ),
            (
                r#"{a="1\"#,
                PrometheusText,
                Err("expected escaped character"),
            ),
        ] {
            let mut cursor = Cursor::new(input);
            let mut pairs = Vec::new();
            match (cursor.label_set(format, &mut pairs, true), want) {
                (Ok(None), Ok(want)) => {
                    assert_eq!(pairs, want, "{input:?}");
                    assert_eq!(cursor.pos, input.len(), "{input:?}");
                }
                (Err(err), Err(want)) => assert!(err.message.starts_with(want), "{input:?}: {err}"),
                (got, want) => panic!("{input:?} {format:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn newlines_in_text_label_values_count_as_lines() {
        let mut cursor = Cursor::new("{a=\"x\ny\nz\",b=\"1\"} 1");
        cursor
            .label_set(Format::PrometheusText, &mut Vec::new(), true)
            .unwrap();
        assert_eq!(cursor.line, 3);
    }

    #[test]
    fn duplicates() {
        let cursor = Cursor::new("");
        assert!(check_unique(&cursor, &[("a", "1"), ("b", "1")]).is_ok());
        for pairs in [
            &[("a", "1"), ("b", "1"), ("a", "2")][..],
            &[("__name__", "x")][..],
        ] {
            let err = check_unique(&cursor, pairs).unwrap_err();
            assert!(err.message.ends_with("is not unique"), "{err}");
        }
    }

    #[test]
    fn error_context_is_cut_and_names_what_was_found() {
        let long = format!("{{a=\"{}é\"", "x".repeat(300));
        let mut cursor = Cursor::new(&long);
        let err = cursor
            .label_set(Format::OpenMetrics, &mut Vec::new(), true)
            .unwrap_err();
        assert!(err.message.contains("got end of input"), "{err}");
        assert!(err.message.contains("\"...xxx"), "{err}");
        assert!(err.message.len() < 250, "{err}");
    }
}
