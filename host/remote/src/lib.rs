//! Prometheus' remote-write protocol, version 1.0: what a Prometheus, a Prometheus agent or
//! vmagent sends to `POST /api/v1/write`, and what wasmfed will send to a distributed TSDB;
//! and the client side of its remote-read protocol ([`read`]), for pulling every sample from a
//! stock Prometheus leaf.
//!
//! A request is a protobuf `prometheus.WriteRequest` ([`proto`]) compressed with snappy's
//! *block* format (not its framed stream format), with `Content-Encoding: snappy` and
//! `X-Prometheus-Remote-Write-Version: 0.1.0`. [`codec`] turns bodies into checked batches
//! (label sets valid, sorted and unique, samples in time order per series) and back; storing
//! them is the caller's (the node's head, all or nothing).
//!
//! The messages are declared with `prost`'s derive macros, field numbers as in Prometheus'
//! `prompb/types.proto` and `remote.proto`; no protobuf is encoded or decoded by hand, and no
//! `protoc` is needed at build time.

pub mod codec;
pub mod proto;
pub mod read;

pub use codec::{decode_write_request, encode_write_request, DecodeError, SeriesBatch, WriteBatch};

/// The protocol version a sender announces (`X-Prometheus-Remote-Write-Version`).
pub const VERSION_HEADER_VALUE: &str = "0.1.0";
