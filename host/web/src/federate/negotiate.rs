//! Which name escaping a `/federate` reader asked for, as Prometheus 3's
//! `expfmt.NegotiateAccept` (prometheus/common) decides it for the formats `/federate` offers.
//!
//! Prometheus 3 writes names outside the legacy character set quoted when the reader's
//! `Accept` header carries `escaping=allow-utf-8` (a Prometheus 3 scraping it sends that), and
//! otherwise escapes them by its default scheme, `underscores`, so a Prometheus 2 federating it
//! reads legacy names. The chosen scheme is named in the answer's `Content-Type`. Prometheus
//! 2.42 has no such negotiation: with `--query.compat=2` names are written as stored.

use wasmfed_model::compat::Compat;
use wasmfed_model::escaping::NameEscaping;

use super::TEXT_CONTENT_TYPE;

/// The scheme for a request with this `Accept` header; None with `--query.compat=2`.
///
/// Clauses are read in the order `goautoneg` sorts them (by `q`, more specific types first);
/// each valid `escaping` parameter is taken until a clause accepts the text format 0.0.4 (or
/// anything), whose own parameter, if any, is the last taken. Without one, `underscores`.
pub fn escaping(accept: Option<&str>, compat: Compat) -> Option<NameEscaping> {
    if compat == Compat::V2 {
        return None;
    }
    let mut clauses: Vec<Clause> = accept
        .unwrap_or("")
        .split(',')
        .filter_map(Clause::parse)
        .collect();
    clauses.sort_by(|a, b| b.q.total_cmp(&a.q).then(a.wildcards.cmp(&b.wildcards)));
    let mut scheme = NameEscaping::Underscores;
    for clause in &clauses {
        if let Some(asked) = clause.escaping {
            scheme = asked;
        }
        if clause.accepts_text {
            break;
        }
    }
    Some(scheme)
}

/// The answer's `Content-Type`: Prometheus 3 names the escaping scheme in it.
pub fn content_type(escaping: Option<NameEscaping>) -> String {
    match escaping {
        None => TEXT_CONTENT_TYPE.to_string(),
        Some(scheme) => format!("{TEXT_CONTENT_TYPE}; escaping={scheme}"),
    }
}

/// One media range of an `Accept` header, as far as the negotiation needs it.
struct Clause {
    q: f64,
    /// 0 for `type/subtype`, 1 for `type/*`, 2 for `*/*`: goautoneg's tie-break.
    wildcards: u8,
    escaping: Option<NameEscaping>,
    /// Whether it matches `text/plain; version=0.0.4` (`expfmt.FmtText`).
    accepts_text: bool,
}

impl Clause {
    fn parse(text: &str) -> Option<Clause> {
        let mut parts = text.split(';').map(str::trim);
        let media = parts.next().filter(|m| !m.is_empty())?;
        let (kind, sub) = media.split_once('/').unwrap_or((media, "*"));
        let mut clause = Clause {
            q: 1.0,
            wildcards: (kind == "*") as u8 + (sub == "*") as u8,
            escaping: None,
            accepts_text: false,
        };
        let mut version = None;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            match key.trim() {
                "q" => clause.q = value.trim().parse().unwrap_or(0.0),
                "escaping" => clause.escaping = NameEscaping::parse(value.trim()),
                "version" => version = Some(value.trim()),
                _ => {}
            }
        }
        clause.accepts_text = match (kind, sub) {
            ("*", "*") => true,
            ("text" | "*", "plain" | "*") => version.is_none_or(|v| v == "0.0.4"),
            _ => false,
        };
        Some(clause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NameEscaping::*;

    #[test]
    fn escaping_as_expfmt_negotiates_it() {
        let v3 = |accept: Option<&str>| escaping(accept, Compat::V3);
        // What Prometheus 3 sends when scraping: its first clause asks UTF-8.
        let prometheus_3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
            application/openmetrics-text;version=0.0.1;q=0.5,\
            text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
            text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(v3(Some(prometheus_3)), Some(AllowUtf8));
        // What Prometheus 2.42 sends: no escaping parameter.
        let prometheus_2 = "application/openmetrics-text;version=1.0.0,\
            application/openmetrics-text;version=0.0.1;q=0.75,\
            text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(v3(Some(prometheus_2)), Some(Underscores));
        assert_eq!(v3(None), Some(Underscores));
        assert_eq!(v3(Some("text/plain;escaping=dots")), Some(Dots));
        assert_eq!(v3(Some("text/plain;escaping=camel")), Some(Underscores));
        // The text clause ends the search: later (lower q) parameters do not count.
        assert_eq!(
            v3(Some(
                "text/plain;version=0.0.4;q=0.9,text/plain;version=1.0.0;escaping=values;q=0.5"
            )),
            Some(Underscores)
        );
        assert_eq!(
            v3(Some(
                "text/plain;version=1.0.0;escaping=values;q=0.5,text/plain;version=0.0.4;q=0.9"
            )),
            Some(Underscores)
        );
        assert_eq!(escaping(Some(prometheus_3), Compat::V2), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type(None),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(
            content_type(Some(AllowUtf8)),
            "text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8"
        );
    }
}
