use super::*;
use proptest::prelude::*;
use wasmfed_model::STALE_NAN;

fn encode(samples: &[(i64, f64)]) -> OpenChunk {
    let mut c = OpenChunk::default();
    for &(t, v) in samples {
        c.append(t, v);
    }
    c
}

fn assert_round_trip(samples: &[(i64, f64)]) {
    let mut open = encode(samples);
    assert_eq!(usize::from(open.len()), samples.len());
    let decoded: Vec<_> = open.iter().collect();
    let bits = |s: &[(i64, f64)]| s.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(&decoded), bits(samples));
    assert_eq!(
        open.last().map(|(t, v)| (t, v.to_bits())),
        bits(samples).last().copied()
    );
    assert_eq!(open.min_time(), samples.first().map(|s| s.0));
    let pages = ChunkPages::new();
    let Some(sealed) = open.cut(&pages) else {
        assert!(samples.is_empty());
        return;
    };
    assert_eq!(
        (sealed.min_t, sealed.max_t),
        (samples[0].0, samples[samples.len() - 1].0)
    );
    assert_eq!(
        bits(&ChunkIter::new(sealed.bytes()).collect::<Vec<_>>()),
        bits(samples)
    );
    // The cut chunk starts over in its old buffer and encodes exactly as a fresh one.
    assert!(open.is_empty() && open.last().is_none() && open.min_time().is_none());
    for &(t, v) in samples {
        open.append(t, v);
    }
    assert_eq!(open.encoded(), sealed.bytes());
}

#[test]
fn round_trips() {
    let every_15s =
        |n: i64, v: fn(i64) -> f64| (0..n).map(move |i| (1_700_000_000_000 + i * 15_000, v(i)));
    let cases: Vec<(&str, Vec<(i64, f64)>)> = vec![
        ("empty", vec![]),
        ("one sample", vec![(42, 1.5)]),
        ("two samples", vec![(-5, 0.0), (7, -0.0)]),
        ("constant value", every_15s(120, |_| 3.0).collect()),
        (
            "counter",
            every_15s(120, |i| (i * i) as f64 * 0.25).collect(),
        ),
        (
            "jittered timestamps",
            (0..120)
                .map(|i| (i * 15_000 + (i * 7919) % 13 - 6, i as f64))
                .collect(),
        ),
        (
            "special floats",
            vec![
                (0, f64::NAN),
                (1, STALE_NAN),
                (2, f64::INFINITY),
                (3, f64::NEG_INFINITY),
                (4, f64::from_bits(0x7ff8_dead_beef_0001)),
                (5, f64::MIN_POSITIVE),
                (6, f64::MAX),
                (7, STALE_NAN),
                (8, 1.0),
            ],
        ),
        (
            "timestamp gaps in every bucket",
            [
                0,
                1,
                8_193,
                8_194,
                1_000_000,
                1_000_001,
                1_000_002,
                1_070_000,
                1_500_000,
                10_000_000_000,
            ]
            .iter()
            .map(|&t| (t, 1.0))
            .collect(),
        ),
        (
            "negative timestamps",
            vec![
                (-1_000_000_000_000, 1.0),
                (-999_999_999_000, 2.0),
                (-5, 3.0),
                (0, 4.0),
                (5, 5.0),
            ],
        ),
        (
            "extreme timestamps",
            vec![
                (i64::MIN, 1.0),
                (-1, 2.0),
                (i64::MAX - 1, 3.0),
                (i64::MAX, 4.0),
            ],
        ),
        (
            "equal timestamps",
            vec![(10, 1.0), (10, 1.0), (10, 2.0), (20, 2.0)],
        ),
        (
            "sign flips",
            vec![(0, 1.0), (1, -1.0), (2, 1e300), (3, -1e-300), (4, 0.1)],
        ),
    ];
    for (name, samples) in cases {
        eprintln!("case: {name}");
        assert_round_trip(&samples);
    }
}

#[test]
fn delta_of_delta_bucket_edges() {
    // dod values at each bucket's edges, both signs, starting from a regular cadence.
    for dod in [
        0, 1, -1, 8_191, -8_191, 8_192, -8_192, 65_536, -65_535, 65_537, -65_536, 524_288,
        -524_287, 524_289, -524_288,
    ] {
        let samples = [
            (0, 0.0),
            (1_000, 1.0),
            (2_000 + dod, 2.0),
            (3_000 + dod, 3.0),
        ];
        assert_round_trip(&samples);
    }
}

#[test]
fn matches_prometheus_bytes() {
    // Bytes produced by Prometheus' XORChunk for (1000, 1.0), (2000, 1.0), (3000, 2.0):
    // count 3; varint 1000 = d0 0f; 1.0 = 3ff0...; uvarint 1000 = e8 07; value bit 0;
    // dod 0 → bit 0; XOR(1.0, 2.0) = 0x7ff0…0 → 1, 1, leading 1 (5 bits), sigbits 11 (6 bits),
    // 0x7ff (11 bits).
    let mut c = encode(&[(1000, 1.0), (2000, 1.0), (3000, 2.0)]);
    let mut expected = vec![
        0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xe8, 0x07,
    ];
    // Bits: 0 | 0 | 1 1 00001 001011 11111111111 → 0011 0000 1001 0111 1111 1111 1100 0000
    expected.extend([0b0011_0000, 0b1001_0111, 0b1111_1111, 0b1100_0000]);
    assert_eq!(c.encoded(), expected.as_slice());
}

#[test]
fn full_chunk_of_regular_scrapes_is_small() {
    let mut c = encode(
        &(0..i64::from(SAMPLES_PER_CHUNK))
            .map(|i| (i * 15_000, 100.0 + (i % 3) as f64))
            .collect::<Vec<_>>(),
    );
    let sealed = c.cut(&ChunkPages::new()).expect("non-empty");
    assert!(
        sealed.bytes().len() < 2 * usize::from(SAMPLES_PER_CHUNK),
        "{} bytes",
        sealed.bytes().len()
    );
}

#[test]
fn truncated_stream_ends_early() {
    let mut c = encode(&[(0, 1.0), (10, 2.0), (20, 3.0)]);
    let bytes = c.encoded();
    let cut = &bytes[..bytes.len() - 2];
    assert!(ChunkIter::new(cut).count() < 3);
    assert_eq!(ChunkIter::new(&bytes[..1]).count(), 0);
}

proptest! {
    #[test]
    fn arbitrary_samples_round_trip(
        start in any::<i64>(),
        steps in proptest::collection::vec((0u64..=u64::from(u32::MAX) * 4, any::<u64>()), 0..300usize),
    ) {
        let mut t = start;
        let mut samples = Vec::new();
        for (step, bits) in steps.into_iter().take(usize::from(SAMPLES_PER_CHUNK)) {
            samples.push((t, f64::from_bits(bits)));
            t = t.saturating_add(step as i64);
        }
        assert_round_trip(&samples);
    }

    #[test]
    fn nearby_values_round_trip(
        base in any::<f64>(),
        deltas in proptest::collection::vec(-1000i64..1000, 1..120usize),
        jitter in proptest::collection::vec(-20i64..20, 120),
    ) {
        let samples: Vec<_> = deltas.iter().enumerate().map(|(i, &d)| {
            (i as i64 * 10_000 + jitter[i], base + d as f64 * 0.5)
        }).collect();
        assert_round_trip(&samples);
    }
}

#[test]
fn buffers_grow_rarely_and_stay_tight() {
    let per = usize::from(SAMPLES_PER_CHUNK);
    let t = |i: usize| 1_700_000_000_000 + i as i64 * 15_000;
    type Pattern = (&'static str, fn(usize) -> f64);
    let patterns: [Pattern; 4] = [
        ("constant", |_| 3.0),
        ("counter", |i| (i * 7) as f64),
        ("bench gauge", |i| ((i * 31) % 1000) as f64 / 8.0),
        ("noise", |i| {
            f64::from_bits((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 2)
        }),
    ];
    for (name, v) in patterns {
        let full = encode(&(0..per).map(|i| (t(i), v(i))).collect::<Vec<_>>()).size();
        // A fresh series' first chunk, then the next one in the same buffer once it is cut.
        let mut first = OpenChunk::default();
        let mut growths = 0;
        for i in 0..per {
            let before = first.capacity();
            first.append(t(i), v(i));
            growths += usize::from(first.capacity() != before);
            let bound = (2 * first.size()).max(full) * 9 / 8 + 2 * MAX_SAMPLE_BYTES;
            assert!(
                first.capacity() <= bound,
                "{name}: {} bytes held for {} of {full}",
                first.capacity(),
                first.size()
            );
        }
        assert!(growths <= 8, "{name}: the first chunk grew {growths} times");
        // Later chunks reuse the buffer: it grows only when one needs more than any before.
        let pages = ChunkPages::new();
        let (mut growths, mut largest) = (0, full);
        for i in per..4 * per {
            if i % per == 0 {
                largest = largest.max(first.cut(&pages).expect("full").bytes().len());
            }
            let before = first.capacity();
            first.append(t(i), v(i));
            growths += usize::from(first.capacity() != before);
        }
        assert!(
            growths <= 2,
            "{name}: three more chunks grew it {growths} times"
        );
        assert!(
            first.capacity() <= largest.max(first.size()) * 9 / 8 + 2 * MAX_SAMPLE_BYTES,
            "{name}: {} bytes held for chunks of at most {largest}",
            first.capacity()
        );
    }
}
