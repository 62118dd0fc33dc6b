//! The payloads of WAL records: what a record says, independent of how it is framed on disk.
//!
//! The first byte names the kind; the two kinds the live log writes follow the layout of
//! Prometheus' own (`tsdb/record/record.go`), written from its documentation and source. No
//! test reads a record Prometheus wrote (its segments differ in framing: see `segment`), so
//! this is a shared layout, not proven interchange:
//! - **series** (1): repeated `ref` (8 bytes BE), label count (uvarint), then each name and
//!   value as uvarint length + bytes;
//! - **samples** (2): the first sample's `ref` and `t` (8 bytes BE each), then per sample the
//!   ref and timestamp as signed varint deltas from those and the value's bits (8 bytes BE), so
//!   every NaN, and in particular the stale marker, comes back bit-exact;
//! - **chunks** (3, ours, checkpoints only): repeated `ref` (uvarint), chunk count (uvarint),
//!   then each chunk as uvarint length + XOR chunk bytes (the head's own format, see
//!   [`crate::chunk`]). A checkpoint holds the whole head, so storing its samples
//!   Gorilla-compressed (~1.3 B a sample instead of ~12) keeps it close to the head's size.

use crate::SeriesRef;
use wasmfed_model::Labels;

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
const CHUNKS: u8 = 3;

/// One sample as logged: the series it belongs to, its timestamp and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSample {
    pub series: SeriesRef,
    pub t: i64,
    pub v: f64,
}

/// A decoded record. Label text and chunk bytes borrow from the record buffer.
#[derive(Debug, PartialEq)]
pub(super) enum Record<'a> {
    Series(SeriesList<'a>),
    Samples(Vec<RefSample>),
    Chunks(Vec<(SeriesRef, Vec<&'a [u8]>)>),
}

/// The series of one series record, their labels borrowed from the record: replay interns
/// the text straight from the buffer. One flat list of label pairs for the whole record (not
/// a `Labels` per series) because a checkpoint holds a record per few hundred series and a
/// start-up decodes millions: two allocations per record instead of one per label.
#[derive(Debug, Default, PartialEq)]
pub(super) struct SeriesList<'a> {
    /// Each series' ref and the end of its labels in `pairs`.
    series: Vec<(SeriesRef, usize)>,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> SeriesList<'a> {
    /// Each series' ref and its sorted (name, value) pairs, in record order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (SeriesRef, &[(&'a str, &'a str)])> {
        let starts = std::iter::once(0).chain(self.series.iter().map(|&(_, end)| end));
        self.series
            .iter()
            .zip(starts)
            .map(|(&(r, end), start)| (r, &self.pairs[start..end]))
    }
}

/// Why a record whose checksum matched could still not be decoded (a bug or a newer format).
#[derive(Debug, thiserror::Error, PartialEq)]
pub(super) enum RecordError {
    #[error("empty record")]
    Empty,
    #[error("unknown record type {0}")]
    UnknownType(u8),
    #[error("record ends in the middle of a field")]
    Truncated,
    #[error("label text is not UTF-8")]
    NotUtf8,
}

#[cfg(test)]
pub(super) fn encode_series<'a>(
    series: impl IntoIterator<Item = (SeriesRef, &'a Labels)>,
    out: &mut Vec<u8>,
) {
    begin_series(out);
    for (r, labels) in series {
        push_series(r, labels, out);
    }
}

/// Starts a series record; append series with [`push_series`].
pub(super) fn begin_series(out: &mut Vec<u8>) {
    out.push(SERIES);
}

pub(super) fn push_series(r: SeriesRef, labels: &Labels, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.0.to_be_bytes());
    put_uvarint(out, labels.len() as u64);
    for l in labels {
        put_str(out, &l.name);
        put_str(out, &l.value);
    }
}

/// The most bytes one sample takes in a samples record (two 10-byte varints and the value).
pub(super) const MAX_SAMPLE_LEN: usize = 28;

/// Encodes `samples` (at least one) as one record.
pub(super) fn encode_samples(samples: &[RefSample], out: &mut Vec<u8>) {
    out.push(SAMPLES);
    let Some(first) = samples.first() else {
        return;
    };
    out.extend_from_slice(&first.series.0.to_be_bytes());
    out.extend_from_slice(&first.t.to_be_bytes());
    for s in samples {
        put_varint(out, s.series.0.wrapping_sub(first.series.0) as i64);
        put_varint(out, s.t.wrapping_sub(first.t));
        out.extend_from_slice(&s.v.to_bits().to_be_bytes());
    }
}

/// Starts a chunks record; append series with [`push_chunks`].
pub(super) fn begin_chunks(out: &mut Vec<u8>) {
    out.push(CHUNKS);
}

pub(super) fn push_chunks<'a>(
    series: SeriesRef,
    chunks: impl ExactSizeIterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
) {
    put_uvarint(out, series.0);
    put_uvarint(out, chunks.len() as u64);
    for c in chunks {
        put_uvarint(out, c.len() as u64);
        out.extend_from_slice(c);
    }
}

/// Whether `rec` is a series record, by its first byte alone.
pub(super) fn is_series(rec: &[u8]) -> bool {
    rec.first() == Some(&SERIES)
}

pub(super) fn decode(rec: &[u8]) -> Result<Record<'_>, RecordError> {
    let (&kind, body) = rec.split_first().ok_or(RecordError::Empty)?;
    let mut r = Reader(body);
    match kind {
        SERIES => {
            let mut out = SeriesList::default();
            while !r.0.is_empty() {
                let series = SeriesRef(r.be64()?);
                let n = r.uvarint()?;
                for _ in 0..n {
                    let name = r.str()?;
                    let value = r.str()?;
                    out.pairs.push((name, value));
                }
                out.series.push((series, out.pairs.len()));
            }
            Ok(Record::Series(out))
        }
        SAMPLES => {
            let mut out = Vec::new();
            if r.0.is_empty() {
                return Ok(Record::Samples(out));
            }
            let base_ref = r.be64()?;
            let base_t = r.be64()? as i64;
            while !r.0.is_empty() {
                let series = SeriesRef(base_ref.wrapping_add(r.varint()? as u64));
                let t = base_t.wrapping_add(r.varint()?);
                let v = f64::from_bits(r.be64()?);
                out.push(RefSample { series, t, v });
            }
            Ok(Record::Samples(out))
        }
        CHUNKS => {
            let mut out = Vec::new();
            while !r.0.is_empty() {
                let series = SeriesRef(r.uvarint()?);
                let n = r.uvarint()?;
                let mut chunks = Vec::with_capacity(n.min(1024) as usize);
                for _ in 0..n {
                    let len = r.uvarint()?;
                    chunks.push(r.bytes(len)?);
                }
                out.push((series, chunks));
            }
            Ok(Record::Chunks(out))
        }
        other => Err(RecordError::UnknownType(other)),
    }
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zig-zag, as Go's `binary.PutVarint`.
fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: u64) -> Result<&'a [u8], RecordError> {
        let n = usize::try_from(n).map_err(|_| RecordError::Truncated)?;
        if n > self.0.len() {
            return Err(RecordError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn be64(&mut self) -> Result<u64, RecordError> {
        let b = self.bytes(8)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    fn uvarint(&mut self) -> Result<u64, RecordError> {
        let mut v = 0u64;
        for (i, &b) in self.0.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.0 = &self.0[i + 1..];
                return Ok(v);
            }
        }
        Err(RecordError::Truncated)
    }

    fn varint(&mut self) -> Result<i64, RecordError> {
        let u = self.uvarint()?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    fn str(&mut self) -> Result<&'a str, RecordError> {
        let n = self.uvarint()?;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| RecordError::NotUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_model::STALE_NAN;

    fn sample(series: u64, t: i64, v: f64) -> RefSample {
        RefSample {
            series: SeriesRef(series),
            t,
            v,
        }
    }

    #[test]
    fn series_round_trip() {
        /// Each case: series as (ref, label pairs).
        type Case<'a> = &'a [(u64, &'a [(&'a str, &'a str)])];
        let cases: &[Case] = &[
            &[],
            &[(1, &[("__name__", "up"), ("job", "a")])],
            &[
                (u64::MAX, &[]),
                (7, &[("__name__", "x"), ("é", "q\"\\\n")]),
                (300, &[("a", &"long".repeat(100))]),
            ],
        ];
        for series in cases {
            let owned: Vec<(SeriesRef, Labels)> = series
                .iter()
                .map(|&(r, l)| (SeriesRef(r), Labels::from_pairs(l.iter().copied())))
                .collect();
            let mut buf = Vec::new();
            encode_series(owned.iter().map(|(r, l)| (*r, l)), &mut buf);
            let Ok(Record::Series(got)) = decode(&buf) else {
                panic!("not series: {series:?}");
            };
            let got: Vec<(SeriesRef, Labels)> = got
                .iter()
                .map(|(r, pairs)| (r, Labels::from_pairs(pairs.iter().copied())))
                .collect();
            assert_eq!(got, owned, "{series:?}");
        }
    }

    #[test]
    fn samples_round_trip_bit_exact() {
        let nan = f64::from_bits(0x7ff8_0000_0000_0001);
        let cases: &[&[RefSample]] = &[
            &[],
            &[sample(5, 1000, 1.5)],
            &[
                sample(10, 5000, STALE_NAN),
                sample(3, 4000, nan),
                sample(u64::MAX, i64::MIN, -0.0),
                sample(0, i64::MAX, f64::INFINITY),
                sample(11, 5001, f64::MIN_POSITIVE),
            ],
        ];
        for samples in cases {
            let mut buf = Vec::new();
            encode_samples(samples, &mut buf);
            let Ok(Record::Samples(got)) = decode(&buf) else {
                panic!("not samples: {samples:?}");
            };
            let bits = |s: &[RefSample]| -> Vec<(u64, i64, u64)> {
                s.iter().map(|s| (s.series.0, s.t, s.v.to_bits())).collect()
            };
            assert_eq!(bits(&got), bits(samples));
        }
    }

    #[test]
    fn chunks_round_trip() {
        let mut buf = Vec::new();
        begin_chunks(&mut buf);
        let a: [&[u8]; 2] = [b"\x00\x01abc", b""];
        push_chunks(SeriesRef(9), a.into_iter(), &mut buf);
        push_chunks(SeriesRef(1 << 40), std::iter::empty(), &mut buf);
        assert_eq!(
            decode(&buf),
            Ok(Record::Chunks(vec![
                (SeriesRef(9), a.to_vec()),
                (SeriesRef(1 << 40), vec![])
            ]))
        );
    }

    #[test]
    fn malformed_records_are_errors() {
        let mut series = Vec::new();
        encode_series(
            [(SeriesRef(1), &Labels::from_pairs([("a", "b")]))],
            &mut series,
        );
        let mut samples = Vec::new();
        encode_samples(&[sample(1, 2, 3.0), sample(2, 3, 4.0)], &mut samples);
        let cases: &[(&str, &[u8], RecordError)] = &[
            ("empty", b"", RecordError::Empty),
            ("unknown type", b"\x09", RecordError::UnknownType(9)),
            (
                "series cut",
                &series[..series.len() - 1],
                RecordError::Truncated,
            ),
            (
                "samples cut",
                &samples[..samples.len() - 3],
                RecordError::Truncated,
            ),
            (
                "bad utf-8",
                b"\x01\0\0\0\0\0\0\0\x01\x01\x01\xff\x00",
                RecordError::NotUtf8,
            ),
            (
                "unterminated varint",
                b"\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
                RecordError::Truncated,
            ),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(decode(bytes).err().as_ref(), Some(want), "{name}");
        }
    }
}
