//! Prometheus' remote-read protocol, as a client: what a wasmfed global sends to a stock
//! Prometheus leaf's `POST /api/v1/read` to pull every sample of a time range, and the streamed
//! answer it reads back.
//!
//! The request is a protobuf `prometheus.ReadRequest` compressed with snappy's block format,
//! asking for `STREAMED_XOR_CHUNKS` only. The answer (`Content-Type:
//! application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse`, not compressed) is
//! a sequence of frames, each a uvarint length, a big-endian CRC-32 (Castagnoli) of the data,
//! then a `ChunkedReadResponse` holding (part of) one series: its labels, external labels
//! merged in, and whole chunks overlapping the asked range (so samples just outside it come
//! too). Prometheus 2.42's `storage/remote/chunked.go` and `codec.go` write it so.

use prost::Message;

/// `prometheus.ReadRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// `ResponseType`: 0 SAMPLES, 1 STREAMED_XOR_CHUNKS.
    #[prost(int32, repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// `ReadRequest.ResponseType.STREAMED_XOR_CHUNKS`.
pub const STREAMED_XOR_CHUNKS: i32 = 1;

/// The Content-Type of a streamed answer.
pub const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// `prometheus.Query`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Query {
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
}

/// `prometheus.LabelMatcher`; `type`: 0 `=`, 1 `!=`, 2 `=~`, 3 `!~`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LabelMatcher {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub value: String,
}

/// `prometheus.ChunkedReadResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkedReadResponse {
    #[prost(message, repeated, tag = "1")]
    pub chunked_series: Vec<ChunkedSeries>,
    #[prost(int64, tag = "2")]
    pub query_index: i64,
}

/// `prometheus.ChunkedSeries`: labels sorted, chunks in start-time order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkedSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<super::proto::Label>,
    #[prost(message, repeated, tag = "2")]
    pub chunks: Vec<Chunk>,
}

/// `prometheus.Chunk`; `type`: 1 XOR, 2 HISTOGRAM.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Chunk {
    #[prost(int64, tag = "1")]
    pub min_time_ms: i64,
    #[prost(int64, tag = "2")]
    pub max_time_ms: i64,
    #[prost(int32, tag = "3")]
    pub r#type: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub data: Vec<u8>,
}

/// `Chunk.Encoding.XOR`.
pub const XOR: i32 = 1;

/// Why a streamed answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("frame at byte {0}: length cut short")]
    Length(usize),
    #[error("frame at byte {at}: {length} bytes announced, {left} left")]
    Truncated {
        at: usize,
        length: usize,
        left: usize,
    },
    #[error("frame at byte {0}: checksum mismatch")]
    Checksum(usize),
    #[error("frame at byte {at}: {reason}")]
    Decode { at: usize, reason: String },
}

/// The snappy-compressed request body.
pub fn encode_read_request(request: &ReadRequest) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .expect("snappy compresses any input")
}

/// Every frame of a streamed answer, checked.
pub fn decode_chunked_stream(mut body: &[u8]) -> Result<Vec<ChunkedReadResponse>, ReadError> {
    let total = body.len();
    let mut frames = Vec::new();
    while !body.is_empty() {
        let at = total - body.len();
        let (length, used) = uvarint(body).ok_or(ReadError::Length(at))?;
        body = &body[used..];
        let length = usize::try_from(length).map_err(|_| ReadError::Length(at))?;
        if body.len() < 4 + length {
            return Err(ReadError::Truncated {
                at,
                length,
                left: body.len().saturating_sub(4),
            });
        }
        let (sum, rest) = body.split_at(4);
        let (data, rest) = rest.split_at(length);
        if crc32c::crc32c(data) != u32::from_be_bytes(sum.try_into().expect("4 bytes")) {
            return Err(ReadError::Checksum(at));
        }
        let frame = ChunkedReadResponse::decode(data).map_err(|e| ReadError::Decode {
            at,
            reason: e.to_string(),
        })?;
        frames.push(frame);
        body = rest;
    }
    Ok(frames)
}

/// Writes frames as Prometheus' `ChunkedWriter` does (for tests and a future read endpoint).
pub fn encode_chunked_stream(frames: &[ChunkedReadResponse]) -> Vec<u8> {
    let mut out = Vec::new();
    for frame in frames {
        let data = frame.encode_to_vec();
        let mut length = data.len() as u64;
        while length >= 0x80 {
            out.push(length as u8 | 0x80);
            length >>= 7;
        }
        out.push(length as u8);
        out.extend_from_slice(&crc32c::crc32c(&data).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// Go's `binary.Uvarint`: the value and the bytes it took, or None if cut short or too long.
fn uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Label;

    fn frame(name: &str, query_index: i64) -> ChunkedReadResponse {
        ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: name.into(),
                }],
                chunks: vec![Chunk {
                    min_time_ms: 1,
                    max_time_ms: 2,
                    r#type: XOR,
                    data: vec![7; 300],
                }],
            }],
            query_index,
        }
    }

    #[test]
    fn streams_round_trip_and_damage_is_named() {
        let frames = vec![frame("a", 0), frame("b", 1)];
        let stream = encode_chunked_stream(&frames);
        assert_eq!(decode_chunked_stream(&stream), Ok(frames));
        assert_eq!(decode_chunked_stream(&[]), Ok(vec![]));
        let mut flipped = stream.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            decode_chunked_stream(&flipped),
            Err(ReadError::Checksum(_))
        ));
        let cut = &stream[..stream.len() - 1];
        assert!(matches!(
            decode_chunked_stream(cut),
            Err(ReadError::Truncated { .. })
        ));
        assert_eq!(decode_chunked_stream(&[0x80]), Err(ReadError::Length(0)));
    }

    #[test]
    fn requests_are_snappy_blocks_of_the_message() {
        let request = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 5,
                end_timestamp_ms: 9,
                matchers: vec![LabelMatcher {
                    r#type: 2,
                    name: "job".into(),
                    value: "n.*".into(),
                }],
            }],
            accepted_response_types: vec![STREAMED_XOR_CHUNKS],
        };
        let body = encode_read_request(&request);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        assert_eq!(ReadRequest::decode(&raw[..]).unwrap(), request);
    }
}
