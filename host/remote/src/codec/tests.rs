use super::*;

fn body(request: &WriteRequest) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap()
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> proto::TimeSeries {
    proto::TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| proto::Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| proto::Sample { value, timestamp })
            .collect(),
        exemplars: vec![],
        histograms: vec![],
    }
}

#[test]
fn a_request_round_trips_with_labels_sorted_and_empty_values_dropped() {
    let request = WriteRequest {
        timeseries: vec![series(
            &[("job", "a"), ("__name__", "up"), ("empty", "")],
            &[(1000, 1.0), (2000, f64::from_bits(0x7ff0000000000002))],
        )],
        metadata: vec![],
    };
    let batch = decode_write_request(&body(&request), 1 << 20).unwrap();
    assert_eq!(batch.series.len(), 1);
    assert_eq!(
        batch.series[0].labels.to_string(),
        r#"{__name__="up", job="a"}"#
    );
    // The stale marker keeps its bits.
    assert_eq!(batch.series[0].samples[1].1.to_bits(), 0x7ff0000000000002);
    let again = decode_write_request(&encode_write_request(&batch.series), 1 << 20).unwrap();
    assert_eq!(again.series[0].labels, batch.series[0].labels);
    assert_eq!(again.series[0].samples[0], (1000, 1.0));
}

#[test]
fn bad_requests_are_refused_with_the_reason() {
    let refused = |request: WriteRequest| decode_write_request(&body(&request), 1 << 20);
    let one = |s: proto::TimeSeries| WriteRequest {
        timeseries: vec![series(&[("__name__", "ok")], &[(1, 1.0)]), s],
        metadata: vec![],
    };
    let cases = [
        (one(series(&[], &[(1, 1.0)])), "series 1: empty label set"),
        (
            one(series(&[("", "x")], &[(1, 1.0)])),
            "series 1: a label without a name",
        ),
        (
            one(series(&[("a", "1"), ("a", "2")], &[(1, 1.0)])),
            "series 1: label name \"a\" is not unique",
        ),
        (
            one(series(&[("a", "1")], &[(2, 1.0), (1, 1.0)])),
            "series 1: {a=\"1\"}: sample at 1 after one at 2: out of order sample",
        ),
    ];
    for (request, want) in cases {
        assert_eq!(refused(request).unwrap_err().to_string(), want);
    }
    let garbage = decode_write_request(b"not snappy at all", 1 << 20).unwrap_err();
    assert!(matches!(garbage, DecodeError::Snappy(_)), "{garbage}");
    let not_proto = snap::raw::Encoder::new().compress_vec(&[0xff; 16]).unwrap();
    let e = decode_write_request(&not_proto, 1 << 20).unwrap_err();
    assert!(matches!(e, DecodeError::Protobuf(_)), "{e}");
    let big = body(&one(series(&[("a", "1")], &[(1, 1.0)])));
    assert!(matches!(
        decode_write_request(&big, 8),
        Err(DecodeError::TooLarge { limit: 8, .. })
    ));
}

#[test]
fn histograms_exemplars_and_metadata_are_counted() {
    let mut s = series(&[("__name__", "h")], &[]);
    s.histograms = vec![proto::Histogram { timestamp: 5 }; 2];
    s.exemplars = vec![proto::Exemplar {
        labels: vec![],
        value: 1.0,
        timestamp: 5,
    }];
    let request = WriteRequest {
        timeseries: vec![s],
        metadata: vec![proto::MetricMetadata {
            r#type: 1,
            metric_family_name: "h".into(),
            help: "".into(),
            unit: "".into(),
        }],
    };
    let batch = decode_write_request(&body(&request), 1 << 20).unwrap();
    assert_eq!(
        (batch.histograms, batch.exemplars, batch.metadata),
        (2, 1, 1)
    );
    assert_eq!(batch.samples(), 0);
}
