//! `/federate`: the newest sample of every selected series, in Prometheus' exact text output.
//!
//! Semantics follow Prometheus' `web/federate.go`: the union of all `match[]` selectors; for each
//! series its newest sample in `(now - lookback, now]` with its original timestamp; a series whose
//! newest sample is a stale marker is left out; families sorted by metric name and written as
//! `# TYPE <name> untyped` without HELP; empty labels skipped; external labels appended (sorted,
//! after the series' own labels) only where the series lacks them, with `instance=""` standing in
//! when no external `instance` is configured. A bad selector is a 400 with the parser's reason; no
//! `match[]` at all is a 200 with an empty body, as Prometheus answers.
//!
//! The body is produced on a blocking thread and streamed in chunks (see `body.rs`).

use std::sync::Arc;

use bytes::Bytes;
use http::{header, Response, StatusCode};

use super::body::{self, ResponseBody};
use super::encoding::{ContentEncoding, Encoder};
use super::expfmt;
use crate::model::{labels::INSTANCE, labels::METRIC_NAME, Label, Labels, Sample};
use crate::storage::{parse_selector, Head, Matcher, SeriesRef};

/// Content type of the text format, as Prometheus' expfmt names it.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bytes of text gathered before a chunk is handed to the connection.
const CHUNK_BYTES: usize = 64 * 1024;

/// Parses every `match[]` value of a form; the first bad one is the error.
pub fn parse_match_params<'a>(
    form: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Vec<Matcher>>, String> {
    form.into_iter()
        .filter(|(k, _)| *k == "match[]")
        .map(|(_, v)| parse_selector(v).map_err(|e| e.to_string()))
        .collect()
}

/// The selected series with their newest visible sample, sorted by metric name (then by label
/// set, which makes the order within a family deterministic where Prometheus' is unspecified).
pub fn select_latest(
    head: &Head,
    matcher_sets: &[Vec<Matcher>],
    mint_exclusive: i64,
    maxt: i64,
) -> Vec<(Labels, Sample)> {
    let mut refs: Vec<SeriesRef> = matcher_sets.iter().flat_map(|m| head.select(m)).collect();
    refs.sort_unstable();
    refs.dedup();
    let mut selected: Vec<(Labels, Sample)> = refs
        .into_iter()
        .filter_map(|r| {
            let sample = head.latest(r, mint_exclusive, maxt)?;
            if crate::model::is_stale_nan(sample.value) {
                return None;
            }
            Some((head.labels(r)?, sample))
        })
        .collect();
    selected.sort_by(|(a, _), (b, _)| a.metric_name().cmp(b.metric_name()).then_with(|| a.cmp(b)));
    selected
}

/// Writes selected series as text-format families. Keeps the current family name so each
/// `# TYPE` line is written once.
pub struct FederateWriter {
    external: Vec<Label>,
    last_name: Option<String>,
}

impl FederateWriter {
    /// `external_labels` are the node's; `instance=""` is added unless they set `instance`.
    pub fn new(external_labels: &Labels) -> Self {
        let mut external = external_labels.clone();
        if external.get(INSTANCE).is_none() {
            external.set(INSTANCE, "");
        }
        FederateWriter {
            external: external.into_vec(),
            last_name: None,
        }
    }

    /// Appends one series; a series without a metric name is skipped, as Prometheus does.
    pub fn write(&mut self, out: &mut Vec<u8>, labels: &Labels, sample: Sample) {
        let name = labels.metric_name();
        if name.is_empty() {
            tracing::warn!(metric = %labels, "ignoring nameless metric during federation");
            return;
        }
        if self.last_name.as_deref() != Some(name) {
            out.extend_from_slice(b"# TYPE ");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b" untyped\n");
            self.last_name = Some(name.to_owned());
        }
        out.extend_from_slice(name.as_bytes());
        let mut first = true;
        let mut pair = |out: &mut Vec<u8>, l: &Label| {
            out.push(if first { b'{' } else { b',' });
            first = false;
            out.extend_from_slice(l.name.as_bytes());
            out.extend_from_slice(b"=\"");
            expfmt::push_label_value(out, &l.value);
            out.push(b'"');
        };
        let own = labels
            .iter()
            .filter(|l| l.name != METRIC_NAME && !l.value.is_empty());
        for l in own {
            pair(out, l);
        }
        for l in &self.external {
            if labels.get(&l.name).is_none_or(str::is_empty) {
                pair(out, l);
            }
        }
        if !first {
            out.push(b'}');
        }
        out.push(b' ');
        expfmt::push_float(out, sample.value);
        out.push(b' ');
        expfmt::push_i64(out, sample.timestamp_ms);
        out.push(b'\n');
    }
}

/// Everything the handler needs, captured at request time.
pub struct FederateJob {
    pub head: Arc<Head>,
    pub matcher_sets: Vec<Vec<Matcher>>,
    pub external_labels: Labels,
    pub now_ms: i64,
    pub lookback_ms: i64,
    pub encoding: ContentEncoding,
    pub telemetry: Arc<crate::telemetry::Telemetry>,
}

/// Starts producing the response on a blocking thread and returns it at once.
pub fn respond(job: FederateJob) -> Response<ResponseBody> {
    let (tx, body) = body::channel(4);
    let encoding = job.encoding;
    tokio::task::spawn_blocking(move || {
        let selected = select_latest(
            &job.head,
            &job.matcher_sets,
            job.now_ms - job.lookback_ms,
            job.now_ms,
        );
        job.telemetry.federate_series.inc_by(selected.len() as u64);
        let mut writer = FederateWriter::new(&job.external_labels);
        let mut encoder = Encoder::new(job.encoding);
        let mut text = Vec::with_capacity(CHUNK_BYTES + 4096);
        let send =
            |bytes: Vec<u8>| bytes.is_empty() || tx.blocking_send(Ok(Bytes::from(bytes))).is_ok();
        for (labels, sample) in &selected {
            writer.write(&mut text, labels, *sample);
            if text.len() >= CHUNK_BYTES {
                encoder.write(&text);
                text.clear();
                if !send(encoder.take()) {
                    return; // the client went away
                }
            }
        }
        encoder.write(&text);
        send(encoder.finish());
    });
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, TEXT_CONTENT_TYPE);
    if let Some(value) = encoding.header_value() {
        response = response.header(header::CONTENT_ENCODING, value);
    }
    response.body(body).expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(external: &Labels, series: &[(Labels, Sample)]) -> String {
        let mut w = FederateWriter::new(external);
        let mut out = Vec::new();
        for (l, s) in series {
            w.write(&mut out, l, *s);
        }
        String::from_utf8(out).unwrap()
    }

    fn sample(value: f64, timestamp_ms: i64) -> Sample {
        Sample {
            timestamp_ms,
            value,
        }
    }

    #[test]
    fn output_matches_prometheus_layout() {
        let external = Labels::from_pairs([("dc", "eu"), ("zone", "a")]);
        let series = [
            (
                Labels::from_pairs([("__name__", "up"), ("instance", "h:1"), ("job", "n")]),
                sample(1.0, 1000),
            ),
            (
                Labels::from_pairs([("__name__", "up"), ("job", "n"), ("zone", "b")]),
                sample(0.0, 2000),
            ),
            (
                Labels::from_pairs([("__name__", "x:y"), ("empty", ""), ("v", "q\"\\\n")]),
                sample(1e6, -5),
            ),
            (Labels::from_pairs([("job", "nameless")]), sample(1.0, 1)),
        ];
        assert_eq!(
            text(&external, &series),
            "# TYPE up untyped\n\
             up{instance=\"h:1\",job=\"n\",dc=\"eu\",zone=\"a\"} 1 1000\n\
             up{job=\"n\",zone=\"b\",dc=\"eu\",instance=\"\"} 0 2000\n\
             # TYPE x:y untyped\n\
             x:y{v=\"q\\\"\\\\\\n\",dc=\"eu\",instance=\"\",zone=\"a\"} 1e+06 -5\n"
        );
    }

    #[test]
    fn external_instance_replaces_the_empty_default() {
        let external = Labels::from_pairs([("instance", "global")]);
        let series = [(Labels::from_pairs([("__name__", "m")]), sample(2.5, 7))];
        assert_eq!(
            text(&external, &series),
            "# TYPE m untyped\nm{instance=\"global\"} 2.5 7\n"
        );
    }

    #[test]
    fn match_params() {
        let ok = parse_match_params([("match[]", "up"), ("other", "x"), ("match[]", "{a=\"b\"}")]);
        assert_eq!(ok.unwrap().len(), 2);
        assert!(parse_match_params([("match[]", "up{")]).is_err());
        assert!(parse_match_params([("match[]", "{}")]).unwrap()[0].is_empty());
        assert!(parse_match_params([]).unwrap().is_empty());
    }
}
