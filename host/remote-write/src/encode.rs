//! One request's body: a `prometheus.WriteRequest`, snappy block-compressed.
//!
//! Every byte is prost's: a series' labels are encoded once, when the queue first reads the
//! series, as the repeated `Label` field of a `TimeSeries` (a message holding only that field,
//! encoded with prost, is exactly those bytes); a request then writes, per series, the
//! `TimeSeries` key and length with prost's encoding functions, those label bytes, and each
//! sample with `prost::encoding::message::encode`. Nothing is allocated per sample, and no
//! label is copied or reference-counted per request. Samples of one series in a batch go in
//! one `TimeSeries`, oldest first.

use std::sync::Arc;

use bytes::Bytes;
use prost::encoding::{self, WireType};
use prost::Message;

use wasmfed_model::Labels;
use wasmfed_remote::proto;

use crate::series::SendSeries;

/// `TimeSeries.labels` alone: its encoding is the labels part of a `TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
struct LabelsOnly {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<proto::Label>,
}

/// A series' labels as the labels part of an encoded `TimeSeries`.
pub(crate) fn encode_labels(labels: &Labels) -> Bytes {
    let labels = labels
        .iter()
        .map(|l| proto::Label {
            name: l.name.clone(),
            value: l.value.clone(),
        })
        .collect();
    Bytes::from(LabelsOnly { labels }.encode_to_vec())
}

/// One sample of a batch.
pub(crate) struct Outgoing<'a> {
    pub series: &'a Arc<SendSeries>,
    pub t: i64,
    pub v: f64,
}

/// The compressed body for `samples` (each series' in the order given).
pub(crate) fn write_request(samples: &[Outgoing<'_>]) -> Vec<u8> {
    // Group by series, keeping each series' samples in order.
    let mut order: Vec<usize> = (0..samples.len()).collect();
    order.sort_by_key(|&i| Arc::as_ptr(samples[i].series));
    let mut raw = Vec::with_capacity(samples.len() * 64);
    let mut at = 0;
    while at < order.len() {
        let series = samples[order[at]].series;
        let run = order[at..]
            .iter()
            .take_while(|&&i| Arc::ptr_eq(samples[i].series, series))
            .count();
        let points: Vec<proto::Sample> = order[at..at + run]
            .iter()
            .map(|&i| proto::Sample {
                value: samples[i].v,
                timestamp: samples[i].t,
            })
            .collect();
        let len = series.labels.len()
            + points
                .iter()
                .map(|p| encoding::message::encoded_len(2, p))
                .sum::<usize>();
        encoding::encode_key(1, WireType::LengthDelimited, &mut raw);
        encoding::encode_varint(len as u64, &mut raw);
        raw.extend_from_slice(&series.labels);
        for p in &points {
            encoding::message::encode(2, p, &mut raw);
        }
        at += run;
    }
    compress(&raw)
}

/// The compressed body of a metadata-only request.
pub(crate) fn metadata_request(metadata: Vec<proto::MetricMetadata>) -> Vec<u8> {
    let request = proto::WriteRequest {
        timeseries: Vec::new(),
        metadata,
    };
    compress(&request.encode_to_vec())
}

fn compress(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .expect("snappy compresses any input below 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_remote::decode_write_request;

    #[test]
    fn a_request_decodes_as_prometheus_write_request_grouped_by_series() {
        let up = Arc::new(SendSeries::new(&Labels::from_pairs([
            ("__name__", "up"),
            ("job", "a"),
        ])));
        let load = Arc::new(SendSeries::new(&Labels::from_pairs([("__name__", "load")])));
        let body = write_request(&[
            Outgoing {
                series: &up,
                t: 1000,
                v: 1.0,
            },
            Outgoing {
                series: &load,
                t: 1000,
                v: 0.5,
            },
            Outgoing {
                series: &up,
                t: 2000,
                v: f64::from_bits(0x7ff0_0000_0000_0002),
            },
        ]);
        let batch = decode_write_request(&body, 1 << 20).unwrap();
        assert_eq!(batch.series.len(), 2);
        assert_eq!(
            batch.series[0].labels.to_string(),
            r#"{__name__="up", job="a"}"#
        );
        assert_eq!(batch.series[0].samples[0], (1000, 1.0));
        assert_eq!(batch.series[0].samples[1].0, 2000);
        assert_eq!(
            batch.series[0].samples[1].1.to_bits(),
            0x7ff0_0000_0000_0002,
            "stale marker bit-exact"
        );
        assert_eq!(batch.series[1].samples, [(1000, 0.5)]);
    }
}
