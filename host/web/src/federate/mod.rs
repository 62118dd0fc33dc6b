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
//! Within a family, series follow their label sets, so the output is deterministic where
//! Prometheus' order is unspecified: it sorts by metric name alone with Go's unstable
//! `sort.Sort`, which keeps label-set order for 12 series or fewer (insertion sort) and may
//! reorder series of one name in larger responses. That order is the one place the bytes may
//! differ (README).
//!
//! The body is produced on a blocking thread: one snapshot of the selection, sorted, with its
//! label strings held once in a table ([`Head::select_latest`]), then text written from string
//! ids and streamed in chunks (see `body.rs`) while it is written. No `Labels` is built per
//! series; at 100k series this is ~10x faster than reading and sorting `Labels` one by one.

use std::sync::Arc;

pub mod every_sample;
pub mod negotiate;

#[cfg(test)]
mod escaping_tests;

pub use every_sample::EveryRequest;

use bytes::Bytes;
use http::{header, Response, StatusCode};

use super::body::{self, ResponseBody};
use super::encoding::{ContentEncoding, Encoder};
use super::server::text;
use wasmfed_model::compat::Compat;
use wasmfed_model::escaping::{self, NameEscaping};
use wasmfed_model::expfmt;
use wasmfed_model::labels::{is_valid_metric_name, INSTANCE, METRIC_NAME};
use wasmfed_model::{Label, Labels};
use wasmfed_storage::{latest, parse_selector, Blocks, Head, LatestSamples, LatestSeries, Matcher};

/// Content type of the text format, as Prometheus' expfmt names it.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bytes of text gathered before a chunk is handed to the connection.
const CHUNK_BYTES: usize = 64 * 1024;

/// Parses every `match[]` value of a form as `compat`'s Prometheus does; the first bad one is
/// the error.
pub fn parse_match_params<'a>(
    form: impl IntoIterator<Item = (&'a str, &'a str)>,
    compat: Compat,
) -> Result<Vec<Vec<Matcher>>, String> {
    form.into_iter()
        .filter(|(k, _)| *k == "match[]")
        .map(|(_, v)| parse_selector(v, compat).map_err(|e| e.to_string()))
        .collect()
}

/// Writes the series of a [`LatestSamples`] as text-format families. Keeps the current family's
/// name so each `# TYPE` line is written once.
///
/// Works on string ids, not strings: which label is the metric name, which values are empty,
/// which series carry an external label's name and which values need escaping are all decided
/// once per distinct string, when the writer is made, and a series costs only copies.
pub struct FederateWriter<'a> {
    selected: &'a LatestSamples,
    /// The id of `__name__`, written as the family name rather than as a label.
    name_label: Option<u32>,
    /// The id of the empty string: labels with that value are not written.
    empty: Option<u32>,
    /// By id: whether the string changes when escaped as a label value.
    needs_escape: Vec<bool>,
    /// External labels with the id of their name (`None`: no selected series has that name).
    external: Vec<(Option<u32>, Label)>,
    last_name: Option<u32>,
    /// How names outside the legacy character set are written (None: as stored, for a
    /// Prometheus 2 reader), see [`negotiate`].
    escaping: Option<NameEscaping>,
    /// By id, with an escaping scheme: whether the string is a legacy name, written as it is.
    legacy_name: Vec<bool>,
}

impl<'a> FederateWriter<'a> {
    /// `external_labels` are the node's; `instance=""` is added unless they set `instance`.
    pub fn new(
        external_labels: &Labels,
        selected: &'a LatestSamples,
        escaping: Option<NameEscaping>,
    ) -> Self {
        let mut external = external_labels.clone();
        if external.get(INSTANCE).is_none() {
            external.set(INSTANCE, "");
        }
        FederateWriter {
            selected,
            name_label: selected.id_of(METRIC_NAME),
            empty: selected.id_of(""),
            needs_escape: selected
                .strings()
                .map(|s| s.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')))
                .collect(),
            external: external
                .into_vec()
                .into_iter()
                .map(|l| (selected.id_of(&l.name), l))
                .collect(),
            last_name: None,
            escaping,
            legacy_name: match escaping {
                Some(_) => selected.strings().map(is_valid_metric_name).collect(),
                None => Vec::new(),
            },
        }
    }

    /// Appends the string `id` where it is a metric or label name.
    fn push_name(&self, out: &mut Vec<u8>, id: u32) {
        let name = self.selected.string(id);
        match self.escaping {
            Some(_) if !self.legacy_name[id as usize] => {
                escaping::push_name(out, name, self.escaping)
            }
            _ => out.extend_from_slice(name.as_bytes()),
        }
    }

    /// Appends one series; a series without a metric name is skipped, as Prometheus does.
    pub fn write(&mut self, out: &mut Vec<u8>, series: LatestSeries<'_>) {
        if self.series_text(out, series).is_some() {
            out.push(b' ');
            expfmt::push_float(out, series.sample.value);
            out.push(b' ');
            expfmt::push_i64(out, series.sample.timestamp_ms);
            out.push(b'\n');
        }
    }

    /// Appends the family's `# TYPE` line if the series starts a family, then the series as
    /// `name{labels}`, and answers where that text starts in `out`. A series without a metric
    /// name is skipped (`None`), as Prometheus does.
    pub fn series_text(&mut self, out: &mut Vec<u8>, series: LatestSeries<'_>) -> Option<usize> {
        let text = |id: u32| self.selected.string(id).as_bytes();
        let Some(name) = series.metric_name else {
            let labels = series
                .labels
                .chunks_exact(2)
                .map(|p| Label::new(self.selected.string(p[0]), self.selected.string(p[1])));
            let metric = Labels::from_sorted(labels.collect());
            tracing::warn!(%metric, "ignoring nameless metric during federation");
            return None;
        };
        if self.last_name != Some(name) {
            out.extend_from_slice(b"# TYPE ");
            self.push_name(out, name);
            out.extend_from_slice(b" untyped\n");
            self.last_name = Some(name);
        }
        let start = out.len();
        // A UTF-8 name for a UTF-8 reader goes inside the braces: `{"my.metric",a="b"}`.
        let mut open =
            self.escaping == Some(NameEscaping::AllowUtf8) && !self.legacy_name[name as usize];
        if open {
            out.push(b'{');
        }
        self.push_name(out, name);
        let mut separator = |out: &mut Vec<u8>| {
            out.push(if open { b',' } else { b'{' });
            open = true;
        };
        let present = |pair: &&[u32]| Some(pair[1]) != self.empty;
        for pair in series.labels.chunks_exact(2).filter(present) {
            if Some(pair[0]) == self.name_label {
                continue;
            }
            separator(out);
            self.push_name(out, pair[0]);
            out.extend_from_slice(b"=\"");
            if self.needs_escape[pair[1] as usize] {
                expfmt::push_label_value(out, self.selected.string(pair[1]));
            } else {
                out.extend_from_slice(text(pair[1]));
            }
            out.push(b'"');
        }
        for (id, l) in &self.external {
            let has = |id: u32| {
                series
                    .labels
                    .chunks_exact(2)
                    .any(|pair| pair[0] == id && present(&pair))
            };
            if !id.is_some_and(has) {
                separator(out);
                escaping::push_name(out, &l.name, self.escaping);
                out.extend_from_slice(b"=\"");
                expfmt::push_label_value(out, &l.value);
                out.push(b'"');
            }
        }
        if open {
            out.push(b'}');
        }
        Some(start)
    }
}

/// Everything the handler needs, captured at request time.
pub struct FederateJob {
    pub head: Arc<Head>,
    pub blocks: Arc<Blocks>,
    pub matcher_sets: Vec<Vec<Matcher>>,
    pub external_labels: Labels,
    pub now_ms: i64,
    pub lookback_ms: i64,
    pub encoding: ContentEncoding,
    /// The name escaping the reader asked for ([`negotiate::escaping`]).
    pub escaping: Option<NameEscaping>,
    pub telemetry: Arc<wasmfed_telemetry::Telemetry>,
}

/// Selects on a blocking thread and, once the selection is made, answers with a body the same
/// thread goes on writing. A block that cannot be read is a 500 with the reason, as
/// Prometheus answers a failed select, before any of the body is sent.
pub async fn respond(job: FederateJob) -> Response<ResponseBody> {
    let select = {
        let (head, blocks, telemetry) = (job.head.clone(), job.blocks.clone(), job.telemetry);
        let (sets, now_ms, lookback_ms) = (job.matcher_sets, job.now_ms, job.lookback_ms);
        move || {
            let mint_exclusive = now_ms - lookback_ms;
            let selected = latest::select_latest(&head, &blocks, &sets, mint_exclusive, now_ms)
                .map_err(|e| e.to_string())?;
            telemetry.federate_series.inc_by(selected.len() as u64);
            Ok(selected)
        }
    };
    let (external_labels, escaping) = (job.external_labels, job.escaping);
    respond_with(job.encoding, escaping, select, move |selected, sink| {
        let mut writer = FederateWriter::new(&external_labels, &selected, escaping);
        for series in selected.iter() {
            writer.write(&mut sink.text, series);
            sink.pass_on()?;
        }
        Some(())
    })
    .await
}

/// Where a body is written: text gathered, encoded and handed to the connection in chunks.
pub(crate) struct BodySink {
    pub text: Vec<u8>,
    encoder: Encoder,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
}

impl BodySink {
    /// Hands the text on once a chunk's worth has gathered; `None` when the client went away.
    pub fn pass_on(&mut self) -> Option<()> {
        if self.text.len() >= CHUNK_BYTES {
            send(&self.tx, self.encoder.encode(&mut self.text))?;
        }
        Some(())
    }

    fn finish(mut self) -> Option<()> {
        send(&self.tx, self.encoder.encode(&mut self.text))?;
        send(&self.tx, self.encoder.finish())
    }
}

fn send(tx: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>, bytes: Vec<u8>) -> Option<()> {
    let sent = bytes.is_empty() || tx.blocking_send(Ok(Bytes::from(bytes))).is_ok();
    sent.then_some(())
}

/// Runs `select` on a blocking thread and, once it has succeeded, `write` on the same thread
/// into a body streamed as it is written. A failed select is a 500 with its reason before any
/// of the body is sent.
pub(crate) async fn respond_with<S>(
    encoding: ContentEncoding,
    escaping: Option<NameEscaping>,
    select: impl FnOnce() -> Result<S, String> + Send + 'static,
    write: impl FnOnce(S, &mut BodySink) -> Option<()> + Send + 'static,
) -> Response<ResponseBody> {
    let (tx, body) = body::channel(4);
    let (selected_tx, selected_rx) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        let selected = match select() {
            Ok(selected) => selected,
            Err(e) => {
                let _ = selected_tx.send(Err(e));
                return;
            }
        };
        if selected_tx.send(Ok(())).is_err() {
            return; // the client went away
        }
        let mut sink = BodySink {
            text: Vec::with_capacity(CHUNK_BYTES + 4096),
            encoder: Encoder::new(encoding),
            tx,
        };
        if write(selected, &mut sink).is_some() {
            sink.finish();
        }
    });
    match selected_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => {
            tracing::error!(error = %reason, "federate: reading blocks");
            return text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{reason}\n"));
        }
        Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "federate failed\n"),
    }
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, negotiate::content_type(escaping));
    if let Some(value) = encoding.header_value() {
        response = response.header(header::CONTENT_ENCODING, value);
    }
    response.body(body).expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_model::{Sample, STALE_NAN};
    use wasmfed_storage::SeriesRef;

    const MINT_EXCLUSIVE: i64 = 1000;
    const MAXT: i64 = 2000;

    fn text(head: &Head, sets: &[Vec<Matcher>], external: &Labels) -> String {
        let selected = head.select_latest(sets, MINT_EXCLUSIVE, MAXT);
        let mut w = FederateWriter::new(external, &selected, None);
        let mut out = Vec::new();
        for series in selected.iter() {
            w.write(&mut out, series);
        }
        String::from_utf8(out).unwrap()
    }

    /// The semantics written out plainly, one `Labels` a series: what the writer must equal.
    fn reference_text(head: &Head, sets: &[Vec<Matcher>], external: &Labels) -> String {
        let mut refs: Vec<SeriesRef> = sets.iter().flat_map(|m| head.select(m)).collect();
        refs.sort_unstable();
        refs.dedup();
        let mut selected: Vec<(Labels, Sample)> = refs
            .into_iter()
            .filter_map(|r| {
                let sample = head.latest(r, MINT_EXCLUSIVE, MAXT)?;
                let fresh = !wasmfed_model::is_stale_nan(sample.value);
                fresh.then(|| Some((head.labels(r)?, sample)))?
            })
            .collect();
        selected
            .sort_by(|(a, _), (b, _)| a.metric_name().cmp(b.metric_name()).then_with(|| a.cmp(b)));
        let mut external = external.clone();
        if external.get(INSTANCE).is_none() {
            external.set(INSTANCE, "");
        }
        let mut out = String::new();
        let mut last_name = None;
        for (labels, sample) in &selected {
            let name = labels.metric_name();
            if name.is_empty() {
                continue;
            }
            if last_name != Some(name) {
                out += &format!("# TYPE {name} untyped\n");
                last_name = Some(name);
            }
            let own = labels
                .iter()
                .filter(|l| l.name != METRIC_NAME && !l.value.is_empty());
            let added = external
                .iter()
                .filter(|l| labels.get(&l.name).is_none_or(str::is_empty));
            let pairs: Vec<String> = own
                .chain(added)
                .map(|l| {
                    let mut value = Vec::new();
                    expfmt::push_label_value(&mut value, &l.value);
                    format!("{}=\"{}\"", l.name, String::from_utf8(value).unwrap())
                })
                .collect();
            let mut value = Vec::new();
            expfmt::push_float(&mut value, sample.value);
            let value = String::from_utf8(value).unwrap();
            let ts = sample.timestamp_ms;
            match pairs.is_empty() {
                true => out += &format!("{name} {value} {ts}\n"),
                false => out += &format!("{name}{{{}}} {value} {ts}\n", pairs.join(",")),
            }
        }
        out
    }

    fn sets(selectors: &[&str]) -> Vec<Vec<Matcher>> {
        parse_match_params(selectors.iter().map(|s| ("match[]", *s)), Compat::V3).unwrap()
    }

    #[test]
    fn output_matches_prometheus_layout() {
        let head = Head::with_series(&[
            (
                &[("__name__", "up"), ("instance", "h:1"), ("job", "n")],
                &[(1500, 1.0)],
            ),
            (
                &[("__name__", "up"), ("job", "n"), ("zone", "b")],
                &[(2000, 0.0)],
            ),
            (&[("__name__", "x:y"), ("v", "q\"\\\n")], &[(1001, 1e6)]),
            (
                &[("__name__", "gone"), ("job", "n")],
                &[(1500, 1.0), (1600, STALE_NAN)],
            ),
            (&[("__name__", "old"), ("job", "n")], &[(1000, 1.0)]),
            (
                &[("__name__", "new"), ("job", "n")],
                &[(1900, 4.0), (2001, 5.0)],
            ),
            (&[("job", "nameless")], &[(1500, 1.0)]),
        ]);
        let external = Labels::from_pairs([("dc", "eu"), ("zone", "a")]);
        assert_eq!(
            text(&head, &sets(&["{job=~\".+\"}", "x:y"]), &external),
            "# TYPE new untyped\n\
             new{job=\"n\",dc=\"eu\",instance=\"\",zone=\"a\"} 4 1900\n\
             # TYPE up untyped\n\
             up{instance=\"h:1\",job=\"n\",dc=\"eu\",zone=\"a\"} 1 1500\n\
             up{job=\"n\",zone=\"b\",dc=\"eu\",instance=\"\"} 0 2000\n\
             # TYPE x:y untyped\n\
             x:y{v=\"q\\\"\\\\\\n\",dc=\"eu\",instance=\"\",zone=\"a\"} 1e+06 1001\n"
        );
    }

    #[test]
    fn external_instance_replaces_the_empty_default() {
        let head = Head::with_series(&[(&[("__name__", "m")], &[(1500, 2.5)])]);
        let external = Labels::from_pairs([("instance", "global")]);
        assert_eq!(
            text(&head, &sets(&["m"]), &external),
            "# TYPE m untyped\nm{instance=\"global\"} 2.5 1500\n"
        );
    }

    #[test]
    fn empty_labels_are_not_written() {
        // Only a replayed log can hold one; the writer drops it as Prometheus does.
        let head = Head::new();
        let labels = [("__name__", "m"), ("dc", ""), ("e", "")];
        let series = head.restore_series(SeriesRef(7), &labels).unwrap();
        head.append_to(&series, 1500, 3.0).unwrap();
        let external = Labels::from_pairs([("dc", "eu")]);
        assert_eq!(
            text(&head, &sets(&["m"]), &external),
            "# TYPE m untyped\nm{dc=\"eu\",instance=\"\"} 3 1500\n"
        );
    }

    /// A small deterministic generator, so the random-ish head is the same on every run.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    /// Series mixing everything the order and the writer care about: names sorting before
    /// `__name__` (`A`, `_0`), escapes, clashes with external labels, nameless series, stale
    /// markers, samples outside the window on both sides, and Go's float spellings.
    fn random_head(seed: u64) -> Head {
        let mut rng = Lcg(seed);
        let head = Head::new();
        let names = ["up", "a_total", "b:rate", "Zz", "z", "_q"];
        let label_names = ["A", "_0", "instance", "job", "dc", "zone", "le", "Zed"];
        let values = ["1", "x", "q\"\\\nx", "host:9", "eu", "ü", "a b", "10", "2"];
        let floats = [
            1.0,
            0.0,
            -0.0,
            1e6,
            123456.0,
            0.1 + 0.2,
            12.375,
            -5.0,
            1.5e-7,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for _ in 0..1000 {
            let mut labels = Labels::new();
            if rng.below(12) != 0 {
                labels.set(METRIC_NAME, rng.pick(&names));
            }
            for _ in 0..rng.below(5) {
                labels.set(rng.pick(&label_names), rng.pick(&values));
            }
            let (r, _) = head.get_or_create(&labels);
            let value = floats[rng.below(floats.len())];
            let samples: &[(i64, f64)] = match rng.below(5) {
                0 => &[(900, 1.0), (1500, value)],
                1 => &[(1500, value), (1600, STALE_NAN)],
                2 => &[(1000, value)],
                3 => &[(1999, value), (2500, 9.0)],
                _ => &[(2000, value)],
            };
            for &(t, v) in samples {
                let _ = head.append(r, t, v); // a repeated label set may refuse older samples
            }
        }
        head
    }

    #[test]
    fn writer_equals_the_plain_semantics() {
        let selections: &[&[&str]] = &[
            &["{__name__=~\".+\"}"],
            &["{__name__=~\".*\"}"],
            &["{job=\"x\"}", "{A=~\".+\"}", "up"],
            &["{dc=~\"eu|ü\"}", "{__name__=~\"Zz|_q\",le!=\"10\"}"],
            &["{}"],
            &[],
        ];
        let externals = [
            Labels::from_pairs([("dc", "eu"), ("zone", "a\"b")]),
            Labels::from_pairs([("instance", "global"), ("A", "x")]),
            Labels::new(),
        ];
        for seed in 1..=4 {
            let head = random_head(seed);
            for selection in selections {
                for external in &externals {
                    let want = reference_text(&head, &sets(selection), external);
                    assert_eq!(
                        text(&head, &sets(selection), external),
                        want,
                        "seed {seed}, {selection:?}, external {external}"
                    );
                    if selection.first() == Some(&"{__name__=~\".+\"}") {
                        assert!(want.lines().count() > 300, "{want}");
                    }
                }
            }
        }
    }

    #[test]
    fn match_params() {
        let ok = parse_match_params(
            [("match[]", "up"), ("other", "x"), ("match[]", "{a=\"b\"}")],
            Compat::V3,
        );
        assert_eq!(ok.unwrap().len(), 2);
        assert!(parse_match_params([("match[]", "up{")], Compat::V3).is_err());
        assert!(parse_match_params([("match[]", "{}")], Compat::V3).unwrap()[0].is_empty());
        assert!(parse_match_params([], Compat::V3).unwrap().is_empty());
    }
}
