//! Which parser a scraped body gets, from its Content-Type, as Prometheus 3 decides it
//! (`model/textparse.New` and its `extractMediaType`), with Go's `mime.ParseMediaType` ported
//! because what it refuses decides between a parser and a failed scrape.
//!
//! Prometheus 3 fails a scrape whose Content-Type is blank, unparsable or unknown unless the job
//! names a `fallback_scrape_protocol`; Prometheus 2.42 parsed all of those as the text format,
//! which is the same as a text fallback, so that is how `--query.compat=2` asks for it.

use std::collections::HashMap;

use super::Format;

/// Why a body has no parser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentTypeError {
    #[error("non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target")]
    Blank,
    #[error("cannot parse Content-Type {content_type:?} and no fallback_scrape_protocol for target\n{reason}")]
    Unparsable {
        content_type: String,
        reason: &'static str,
    },
    #[error("received unsupported Content-Type {0:?} and no fallback_scrape_protocol specified for target")]
    Unsupported(String),
    /// Prometheus parses it; wasmfed, which never asks for it, does not.
    #[error("received protobuf Content-Type {0:?}: wasmfed parses the text formats only")]
    Protobuf(String),
}

impl Format {
    /// The format to parse a body with `content_type` (None: no header) in; `fallback` is the
    /// job's `fallback_scrape_protocol`, used when the header is blank, unparsable or unknown.
    /// Only the media type counts (compared without case); its parameters must parse but are
    /// not checked, as in Prometheus.
    pub fn negotiate(
        content_type: Option<&str>,
        fallback: Option<Format>,
    ) -> Result<Format, ContentTypeError> {
        let content_type = content_type.unwrap_or("");
        if content_type.is_empty() {
            return fallback.ok_or(ContentTypeError::Blank);
        }
        let media_type = match parse_media_type(content_type) {
            Ok(media_type) => media_type,
            Err(reason) => {
                return fallback.ok_or_else(|| ContentTypeError::Unparsable {
                    content_type: content_type.to_owned(),
                    reason,
                })
            }
        };
        match media_type.as_str() {
            "application/openmetrics-text" => Ok(Format::OpenMetrics),
            "text/plain" => Ok(Format::PrometheusText),
            "application/vnd.google.protobuf" => {
                Err(ContentTypeError::Protobuf(content_type.to_owned()))
            }
            _ => fallback.ok_or_else(|| ContentTypeError::Unsupported(content_type.to_owned())),
        }
    }
}

/// Go's `mime.ParseMediaType`: the lower-cased media type, or Go's error. Parameters are
/// checked (tokens or quoted strings, no conflicting duplicates) and dropped.
fn parse_media_type(v: &str) -> Result<String, &'static str> {
    let base = v.split(';').next().unwrap_or("");
    let media_type = base.to_lowercase().trim().to_owned();
    check_media_type(&media_type)?;
    let mut params: HashMap<String, String> = HashMap::new();
    let mut rest = &v[base.len()..];
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let Some((key, value, after)) = media_param(rest) else {
            if rest.trim() == ";" {
                break; // a trailing semicolon is allowed
            }
            return Err("mime: invalid media parameter");
        };
        if params.get(&key).is_some_and(|old| *old != value) {
            return Err("mime: duplicate parameter name");
        }
        params.insert(key, value);
        rest = after;
    }
    Ok(media_type)
}

/// Go's `checkMediaTypeDisposition`: `type` or `type/subtype`, both tokens.
fn check_media_type(s: &str) -> Result<(), &'static str> {
    let (kind, rest) = token(s);
    if kind.is_empty() {
        return Err("mime: no media type");
    }
    if rest.is_empty() {
        return Ok(());
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return Err("mime: expected slash after first token");
    };
    let (subtype, rest) = token(rest);
    if subtype.is_empty() {
        return Err("mime: expected token after slash");
    }
    if !rest.is_empty() {
        return Err("mime: unexpected content after media subtype");
    }
    Ok(())
}

fn is_tspecial(c: char) -> bool {
    "()<>@,;:\\\"/[]?=".contains(c)
}

fn is_token_char(c: char) -> bool {
    ('\u{21}'..'\u{80}').contains(&c) && !is_tspecial(c)
}

/// Go's `consumeToken`: the leading token and what follows.
fn token(v: &str) -> (&str, &str) {
    let end = v.find(|c| !is_token_char(c)).unwrap_or(v.len());
    v.split_at(end)
}

/// Go's `consumeValue`: a token or a quoted string (backslash escapes only a tspecial; a raw
/// line break or a missing closing quote is no value).
fn value(v: &str) -> Option<(String, &str)> {
    let Some(quoted) = v.strip_prefix('"') else {
        let (token, rest) = token(v);
        return Some((token.to_owned(), rest));
    };
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &quoted[i + 1..])),
            '\\' if quoted[i + 1..].starts_with(is_tspecial) => {
                let (_, escaped) = chars.next().expect("checked above");
                out.push(escaped);
            }
            '\r' | '\n' => return None,
            c => out.push(c),
        }
    }
    None
}

/// Go's `consumeMediaParam`: `; key=value`, the key lower-cased; None where Go gives up.
fn media_param(v: &str) -> Option<(String, String, &str)> {
    let rest = v.trim_start().strip_prefix(';')?.trim_start();
    let (key, rest) = token(rest);
    if key.is_empty() {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let (value, after) = value(rest)?;
    if value.is_empty() && after.len() == rest.len() {
        return None;
    }
    Some((key.to_lowercase(), value, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_parse_as_in_go() {
        for (content_type, want) in [
            ("text/plain; version=0.0.4", Ok("text/plain")),
            (" Text/Plain ;version=0.0.4;", Ok("text/plain")),
            ("text/plain;", Ok("text/plain")),
            ("text/plain; charset=\"utf-8\"", Ok("text/plain")),
            ("text/plain; a=\"x\\\"y\"; b=1", Ok("text/plain")),
            ("text/plain; a=1; a=1", Ok("text/plain")),
            ("text", Ok("text")),
            ("", Err("mime: no media type")),
            ("/plain", Err("mime: no media type")),
            ("text plain", Err("mime: expected slash after first token")),
            ("text/", Err("mime: expected token after slash")),
            (
                "text/plain/x",
                Err("mime: unexpected content after media subtype"),
            ),
            ("text/plain; version", Err("mime: invalid media parameter")),
            ("text/plain; =1", Err("mime: invalid media parameter")),
            ("text/plain; a=\"open", Err("mime: invalid media parameter")),
            ("text/plain; a=", Err("mime: invalid media parameter")),
            ("text/plain; a=1 b=2", Err("mime: invalid media parameter")),
            (
                "text/plain; a=1; A=2",
                Err("mime: duplicate parameter name"),
            ),
        ] {
            assert_eq!(
                parse_media_type(content_type).as_deref().map_err(|e| *e),
                want,
                "{content_type:?}"
            );
        }
    }

    #[test]
    fn formats_follow_the_content_type_or_the_fallback() {
        use ContentTypeError::*;
        let text = Some(Format::PrometheusText);
        let om = Some(Format::OpenMetrics);
        let unparsable = |ct: &str, reason| Unparsable {
            content_type: ct.into(),
            reason,
        };
        for (content_type, fallback, want) in [
            (
                Some("text/plain; version=0.0.4"),
                None,
                Ok(Format::PrometheusText),
            ),
            (
                Some("text/plain; version=1.0.0; escaping=allow-utf-8"),
                None,
                Ok(Format::PrometheusText),
            ),
            (
                Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                None,
                Ok(Format::OpenMetrics),
            ),
            (
                Some(" Application/OpenMetrics-Text ;version=0.0.1"),
                text,
                Ok(Format::OpenMetrics),
            ),
            (None, None, Err(Blank)),
            (Some(""), None, Err(Blank)),
            (None, text, Ok(Format::PrometheusText)),
            (Some(""), om, Ok(Format::OpenMetrics)),
            (
                Some("application/json"),
                None,
                Err(Unsupported("application/json".into())),
            ),
            (
                Some("application/openmetrics-textual"),
                text,
                Ok(Format::PrometheusText),
            ),
            (
                Some("text/plain; version"),
                None,
                Err(unparsable(
                    "text/plain; version",
                    "mime: invalid media parameter",
                )),
            ),
            // Parameters that do not parse lose even a known media type its parser.
            (
                Some("application/openmetrics-text; version"),
                text,
                Ok(Format::PrometheusText),
            ),
            (Some("text html"), om, Ok(Format::OpenMetrics)),
            (
                Some("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"),
                text,
                Err(Protobuf(
                    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"
                        .into(),
                )),
            ),
        ] {
            assert_eq!(
                Format::negotiate(content_type, fallback),
                want,
                "{content_type:?} {fallback:?}"
            );
        }
    }

    #[test]
    fn errors_read_as_prometheus_3_writes_them() {
        for (content_type, message) in [
            (
                None,
                "non-compliant scrape target sending blank Content-Type and no \
                 fallback_scrape_protocol specified for target",
            ),
            (
                Some("text"),
                "received unsupported Content-Type \"text\" and no fallback_scrape_protocol \
                 specified for target",
            ),
            (
                Some("text/plain; version"),
                "cannot parse Content-Type \"text/plain; version\" and no \
                 fallback_scrape_protocol for target\nmime: invalid media parameter",
            ),
        ] {
            let err = Format::negotiate(content_type, None).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }
}
