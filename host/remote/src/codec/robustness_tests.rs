//! The decoder against arbitrary and damaged bodies (issue #22's payload fuzzing): whatever a
//! sender posts, decoding ends with a checked batch or an error, never a panic, and never
//! allocates past the decompressed-size cap. Inputs are random requests, encoded, then damaged
//! before or after compression, and plain random bytes.

use proptest::prelude::*;
use wasmfed_alloc_meter::{peak_during, Meter};

use super::*;

#[global_allocator]
static METER: Meter = Meter;

/// Decodes `body` under a cap of `max` decompressed bytes, checks what it gives, and fails if
/// the decoding held more heap than the cap allows for: the decompressed bytes and the batch
/// made from them, twice the cap.
fn decode_bounded(body: &[u8], max: usize) -> Result<(), TestCaseError> {
    let (decoded, peak) = peak_during(|| decode_write_request(body, max));
    prop_assert!(
        peak <= 2 * max + (64 << 10),
        "{peak} bytes held under a cap of {max}"
    );
    if let Ok(batch) = decoded {
        check(&batch);
    }
    Ok(())
}

fn label() -> impl Strategy<Value = proto::Label> {
    (
        prop::sample::select(vec!["", "__name__", "job", "a", "le", "é"]),
        prop::sample::select(vec!["", "x", "up", "0.5", "\u{0}", "é"]),
    )
        .prop_map(|(n, v)| proto::Label {
            name: n.to_owned(),
            value: v.to_owned(),
        })
}

fn request() -> impl Strategy<Value = WriteRequest> {
    let series = (
        prop::collection::vec(label(), 0..5),
        prop::collection::vec((any::<i64>(), any::<f64>()), 0..6),
        0..2usize,
    )
        .prop_map(|(labels, samples, histograms)| proto::TimeSeries {
            labels,
            samples: samples
                .into_iter()
                .map(|(timestamp, value)| proto::Sample { value, timestamp })
                .collect(),
            exemplars: Vec::new(),
            histograms: vec![proto::Histogram { timestamp: 1 }; histograms],
        });
    prop::collection::vec(series, 0..6).prop_map(|timeseries| WriteRequest {
        timeseries,
        metadata: Vec::new(),
    })
}

#[derive(Clone, Debug)]
enum Damage {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Flip(i, b)),
        any::<usize>().prop_map(Damage::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Insert(i, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, damage: &[Damage]) {
    for d in damage {
        let len = bytes.len().max(1);
        match *d {
            Damage::Flip(i, b) if !bytes.is_empty() => bytes[i % len] ^= b | 1,
            Damage::Truncate(i) => bytes.truncate(i % len),
            Damage::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Damage::Flip(..) => {}
        }
    }
}

/// What every decoded batch must hold.
fn check(batch: &WriteBatch) {
    for s in &batch.series {
        assert!(!s.labels.is_empty());
        let names: Vec<&str> = s.labels.iter().map(|l| l.name.as_str()).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        assert!(s
            .labels
            .iter()
            .all(|l| !l.name.is_empty() && !l.value.is_empty()));
        assert!(s.samples.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn damaged_protobuf_never_panics(
        request in request(),
        damage in prop::collection::vec(damage(), 0..4),
    ) {
        let mut raw = request.encode_to_vec();
        apply(&mut raw, &damage);
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        decode_bounded(&body, 1 << 20)?;
    }

    #[test]
    fn damaged_snappy_never_panics(
        request in request(),
        damage in prop::collection::vec(damage(), 1..4),
    ) {
        let mut body = snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .unwrap();
        apply(&mut body, &damage);
        decode_bounded(&body, 1 << 20)?;
    }

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_bounded(&body, 1 << 16)?;
    }
}

/// A snappy header announcing more than the cap is refused before anything is allocated.
#[test]
fn an_announced_size_past_the_cap_is_refused_up_front() {
    // Varint 0xffffffff (4 GiB - 1) as the uncompressed length, then nothing.
    let body = [0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(matches!(
        decode_write_request(&body, 1 << 20),
        Err(DecodeError::TooLarge { .. }) | Err(DecodeError::Snappy(_))
    ));
}
