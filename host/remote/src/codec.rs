//! Bodies to checked batches and back.
//!
//! A receiver refuses a request it cannot store whole, with the reason, before anything is
//! stored (Prometheus' receiver rolls its appender back for the same effect): a body that is
//! not snappy or not a `WriteRequest`, a series without labels, a label without a name, a name
//! given twice, samples out of time order within one series. Empty label values are dropped,
//! as everywhere in Prometheus (an empty value is an absent label), and labels are sorted.
//! Whether each sample is new enough for the series already stored is the store's question.

use prost::Message;
use wasmfed_model::{Label, Labels};

use crate::proto::{self, WriteRequest};

/// Why a request body was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("snappy: {0}")]
    Snappy(String),
    #[error("the decompressed request would be {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("protobuf: {0}")]
    Protobuf(String),
    #[error("series {index}: {reason}")]
    Series { index: usize, reason: String },
}

/// One series of a request, checked: its labels, and its samples oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesBatch {
    pub labels: Labels,
    /// (timestamp ms, value).
    pub samples: Vec<(i64, f64)>,
}

/// A checked request: its series, and what it held that wasmfed does not store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteBatch {
    pub series: Vec<SeriesBatch>,
    /// Native histogram samples (wasmfed stores floats only).
    pub histograms: usize,
    /// Exemplars (wasmfed keeps none).
    pub exemplars: usize,
    /// Metadata entries.
    pub metadata: usize,
}

impl WriteBatch {
    pub fn samples(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}

/// Decodes and checks a request body, decompressed to at most `max_bytes`.
pub fn decode_write_request(body: &[u8], max_bytes: usize) -> Result<WriteBatch, DecodeError> {
    let size = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if size > max_bytes {
        return Err(DecodeError::TooLarge {
            size,
            limit: max_bytes,
        });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| DecodeError::Snappy(e.to_string()))?;
    let request =
        WriteRequest::decode(raw.as_slice()).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
    let mut batch = WriteBatch {
        metadata: request.metadata.len(),
        ..WriteBatch::default()
    };
    for (index, ts) in request.timeseries.into_iter().enumerate() {
        let refuse = |reason: String| DecodeError::Series { index, reason };
        batch.histograms += ts.histograms.len();
        batch.exemplars += ts.exemplars.len();
        let labels = checked_labels(ts.labels).map_err(refuse)?;
        let mut samples = Vec::with_capacity(ts.samples.len());
        for s in ts.samples {
            if let Some(&(last, _)) = samples.last() {
                if s.timestamp < last {
                    return Err(refuse(format!(
                        "{labels}: sample at {} after one at {last}: out of order sample",
                        s.timestamp
                    )));
                }
            }
            samples.push((s.timestamp, s.value));
        }
        batch.series.push(SeriesBatch { labels, samples });
    }
    Ok(batch)
}

/// Sorted, unique, named labels, empty values dropped; at least one.
fn checked_labels(labels: Vec<proto::Label>) -> Result<Labels, String> {
    let mut out: Vec<Label> = Vec::with_capacity(labels.len());
    for l in labels {
        if l.name.is_empty() {
            return Err("a label without a name".into());
        }
        if !l.value.is_empty() {
            out.push(Label::new(l.name, l.value));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = out.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(format!("label name {:?} is not unique", w[0].name));
    }
    if out.is_empty() {
        return Err("empty label set".into());
    }
    Ok(Labels::from_sorted(out))
}

/// Encodes series as a request body (protobuf, then snappy's block format).
pub fn encode_write_request(series: &[SeriesBatch]) -> Vec<u8> {
    let request = WriteRequest {
        timeseries: series
            .iter()
            .map(|s| proto::TimeSeries {
                labels: s
                    .labels
                    .iter()
                    .map(|l| proto::Label {
                        name: l.name.clone(),
                        value: l.value.clone(),
                    })
                    .collect(),
                samples: s
                    .samples
                    .iter()
                    .map(|&(timestamp, value)| proto::Sample { value, timestamp })
                    .collect(),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            })
            .collect(),
        metadata: Vec::new(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .expect("snappy compresses any input below 4 GiB")
}

#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod tests;
