//! One request's body: a `prometheus.WriteRequest`, snappy block-compressed.
//!
//! Declared with prost like every message of the protocol (`wasmfed_remote::proto`), with one
//! difference in declaration, not on the wire: a series' labels are a repeated `bytes` field
//! holding each `Label` message already encoded, which protobuf encodes exactly as the
//! repeated message field it stands for (both are length-delimited, tag 1). The series' labels
//! are thereby encoded once, when the queue first reads the series, not once per request.
//! Samples of one series in a batch go in one `TimeSeries`, oldest first.

use std::sync::Arc;

use bytes::Bytes;
use hashbrown::HashMap;
use prost::Message;

use wasmfed_remote::proto;

use crate::series::SendSeries;

#[derive(Clone, PartialEq, prost::Message)]
struct WireRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<WireSeries>,
    #[prost(message, repeated, tag = "3")]
    metadata: Vec<proto::MetricMetadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WireSeries {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    labels: Vec<Bytes>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<proto::Sample>,
}

/// One sample of a batch.
pub(crate) struct Outgoing<'a> {
    pub series: &'a Arc<SendSeries>,
    pub t: i64,
    pub v: f64,
}

/// The compressed body for `samples`, in their order per series.
pub(crate) fn write_request<'a>(samples: impl IntoIterator<Item = Outgoing<'a>>) -> Vec<u8> {
    let mut timeseries: Vec<WireSeries> = Vec::new();
    let mut index: HashMap<*const SendSeries, usize, foldhash::fast::RandomState> =
        HashMap::default();
    for s in samples {
        let i = *index.entry(Arc::as_ptr(s.series)).or_insert_with(|| {
            timeseries.push(WireSeries {
                labels: s.series.labels.clone(),
                samples: Vec::new(),
            });
            timeseries.len() - 1
        });
        timeseries[i].samples.push(proto::Sample {
            value: s.v,
            timestamp: s.t,
        });
    }
    compress(&WireRequest {
        timeseries,
        metadata: Vec::new(),
    })
}

/// The compressed body of a metadata-only request.
pub(crate) fn metadata_request(metadata: Vec<proto::MetricMetadata>) -> Vec<u8> {
    compress(&WireRequest {
        timeseries: Vec::new(),
        metadata,
    })
}

fn compress(request: &WireRequest) -> Vec<u8> {
    let raw = request.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy compresses any input below 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_model::Labels;
    use wasmfed_remote::decode_write_request;

    #[test]
    fn a_request_decodes_as_prometheus_write_request_grouped_by_series() {
        let up = Arc::new(SendSeries::new(&Labels::from_pairs([
            ("__name__", "up"),
            ("job", "a"),
        ])));
        let load = Arc::new(SendSeries::new(&Labels::from_pairs([("__name__", "load")])));
        let body = write_request([
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
