//! Every sample from a stock Prometheus leaf (`federation.remote_read`): each scrape pulls the
//! job's selectors through the leaf's remote-read API (`wasmfed_remote::read`) for the time
//! since the last pull, and turns the streamed XOR chunks into an every-sample answer
//! (`wasmfed_model::every_sample`), so the rest of the way (relabeling, series plugins, HA,
//! dropping what is stored already, the cursor kept on disk) is every-sample mode's.
//!
//! Prometheus stores a scrape's samples at its end with its start as their time, and a rule's
//! at the end of its evaluation: a sample can become readable after a later one. So each pull
//! reaches back `read_overlap` before the end of the last one; what comes twice is dropped
//! as resent. The cursor is that end (`r<ms>`); the first pull (no cursor) reads the lookback
//! window. Histogram chunks are skipped (wasmfed stores floats).

use std::time::SystemTime;

use wasmfed_model::clock::unix_millis;
use wasmfed_model::every_sample::{Trailer, STALE_PREFIX};
use wasmfed_model::labels::METRIC_NAME;
use wasmfed_model::{expfmt, is_stale_nan};
use wasmfed_remote::read::{
    decode_chunked_stream, encode_read_request, LabelMatcher, Query, ReadRequest,
    STREAMED_XOR_CHUNKS, XOR,
};
use wasmfed_storage::chunk::ChunkIter;
use wasmfed_storage::{MatchOp, Matcher};

/// How far back the first pull reads: Prometheus' default lookback.
const FIRST_PULL_MS: i64 = 5 * 60 * 1000;

/// One job's remote-read pulls.
#[derive(Clone, Debug)]
pub struct RemoteRead {
    /// One query per `match[]` selector.
    pub selectors: Vec<Vec<Matcher>>,
    pub overlap_ms: i64,
}

/// The window of one pull and the request body asking for it.
pub(crate) struct Pull {
    pub from_ms: i64,
    pub to_ms: i64,
    pub body: Vec<u8>,
}

impl RemoteRead {
    /// The pull after `cursor` (the end of the last one), up to now.
    pub(crate) fn pull(&self, cursor: Option<&str>) -> Pull {
        let to_ms = unix_millis(SystemTime::now());
        let from_ms = match cursor.and_then(|c| c.strip_prefix('r')?.parse::<i64>().ok()) {
            Some(end) => end - self.overlap_ms,
            None => to_ms - FIRST_PULL_MS,
        };
        let queries = self
            .selectors
            .iter()
            .map(|matchers| Query {
                start_timestamp_ms: from_ms,
                end_timestamp_ms: to_ms,
                matchers: matchers.iter().map(label_matcher).collect(),
            })
            .collect();
        let request = ReadRequest {
            queries,
            accepted_response_types: vec![STREAMED_XOR_CHUNKS],
        };
        Pull {
            from_ms,
            to_ms,
            body: encode_read_request(&request),
        }
    }
}

fn label_matcher(m: &Matcher) -> LabelMatcher {
    let r#type = match m.op {
        MatchOp::Equal => 0,
        MatchOp::NotEqual => 1,
        MatchOp::Regex => 2,
        MatchOp::NotRegex => 3,
    };
    LabelMatcher {
        r#type,
        name: m.name.clone(),
        value: m.value.clone(),
    }
}

/// The streamed answer to `pull` as an every-sample answer: each series' samples in the window,
/// oldest first, a series selected by two queries once, and the cursor after the window.
pub(crate) fn answer(pull: &Pull, streamed: &[u8]) -> Result<Vec<u8>, String> {
    let frames = decode_chunked_stream(streamed).map_err(|e| format!("remote read: {e}"))?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut line = Vec::new();
    for series in frames.iter().flat_map(|f| &f.chunked_series) {
        let (name, labels): (Vec<_>, Vec<_>) =
            series.labels.iter().partition(|l| l.name == METRIC_NAME);
        let Some(name) = name.first() else {
            continue; // nameless: nothing a text exposition can carry
        };
        line.clear();
        line.extend_from_slice(name.value.as_bytes());
        for (i, l) in labels.iter().enumerate() {
            line.push(if i == 0 { b'{' } else { b',' });
            line.extend_from_slice(l.name.as_bytes());
            line.extend_from_slice(b"=\"");
            expfmt::push_label_value(&mut line, &l.value);
            line.push(b'"');
        }
        if !labels.is_empty() {
            line.push(b'}');
        }
        // A series split over frames comes again with later chunks; one asked by two queries
        // comes again whole: keep each (series, first chunk) once.
        for chunk in series.chunks.iter().filter(|c| c.r#type == XOR) {
            if !seen.insert((line.clone(), chunk.min_time_ms)) {
                continue;
            }
            let window = |t: &i64| (pull.from_ms..=pull.to_ms).contains(t);
            for (t, v) in ChunkIter::new(&chunk.data).filter(|(t, _)| window(t)) {
                if is_stale_nan(v) {
                    out.extend_from_slice(STALE_PREFIX.as_bytes());
                }
                out.extend_from_slice(&line);
                out.push(b' ');
                expfmt::push_float(&mut out, v);
                out.push(b' ');
                expfmt::push_i64(&mut out, t);
                out.push(b'\n');
            }
        }
    }
    Trailer {
        cursor: format!("r{}", pull.to_ms),
        complete: true,
    }
    .write(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_model::compat::Compat;
    use wasmfed_model::STALE_NAN;
    use wasmfed_remote::proto::Label;
    use wasmfed_remote::read::{encode_chunked_stream, Chunk, ChunkedReadResponse, ChunkedSeries};
    use wasmfed_storage::chunk::OpenChunk;

    fn xor(samples: &[(i64, f64)]) -> Chunk {
        let mut chunk = OpenChunk::default();
        for &(t, v) in samples {
            chunk.append(t, v);
        }
        Chunk {
            min_time_ms: samples[0].0,
            max_time_ms: samples[samples.len() - 1].0,
            r#type: XOR,
            data: chunk.encoded().to_vec(),
        }
    }

    fn series(labels: &[(&str, &str)], chunks: Vec<Chunk>) -> ChunkedReadResponse {
        let labels = labels
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect();
        ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries { labels, chunks }],
            query_index: 0,
        }
    }

    #[test]
    fn chunks_become_an_every_sample_answer_in_the_window() {
        let pull = Pull {
            from_ms: 1_000,
            to_ms: 5_000,
            body: Vec::new(),
        };
        let up = [("__name__", "up"), ("job", "a\"b")];
        let stream = encode_chunked_stream(&[
            series(&up, vec![xor(&[(500, 1.0), (1_000, 1.0), (2_000, 0.5)])]),
            // The same series again (a second query): not twice.
            series(&up, vec![xor(&[(500, 1.0), (1_000, 1.0), (2_000, 0.5)])]),
            series(
                &[("__name__", "m")],
                vec![xor(&[(3_000, STALE_NAN), (6_000, 2.0)])],
            ),
            series(&[("job", "nameless")], vec![xor(&[(3_000, 1.0)])]),
            series(
                &[("__name__", "h")],
                vec![Chunk {
                    r#type: 2,
                    ..xor(&[(3_000, 1.0)])
                }],
            ),
        ]);
        let text = String::from_utf8(answer(&pull, &stream).unwrap()).unwrap();
        assert_eq!(
            text,
            "up{job=\"a\\\"b\"} 1 1000\nup{job=\"a\\\"b\"} 0.5 2000\n\
             # STALE m NaN 3000\n# CURSOR r5000 complete\n"
        );
        assert!(answer(&pull, &stream[..stream.len() - 2]).is_err());
    }

    #[test]
    fn pulls_reach_back_over_the_overlap() {
        let read = RemoteRead {
            selectors: vec![wasmfed_storage::parse_selector("{job=~\"n.*\"}", Compat::V3).unwrap()],
            overlap_ms: 60_000,
        };
        let pull = read.pull(Some("r1000000"));
        assert_eq!(pull.from_ms, 940_000);
        let first = read.pull(None);
        assert_eq!(first.to_ms - first.from_ms, FIRST_PULL_MS);
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&pull.body)
            .unwrap();
        let request = <ReadRequest as prost::Message>::decode(&raw[..]).unwrap();
        assert_eq!(request.queries[0].matchers[0].r#type, 2);
        assert_eq!(request.queries[0].matchers[0].value, "n.*");
    }
}
