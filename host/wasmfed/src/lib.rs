//! wasmfed: a Prometheus-compatible federation node.
//!
//! The node is a workspace of crates along the data flow, each only able to see those below
//! it: `wasmfed-model` (the shared vocabulary) → `wasmfed-config` (what to scrape and
//! evaluate) → `wasmfed-storage` (the head and its log) → `wasmfed-plugin` (the WebAssembly
//! runtime the stages call) → `wasmfed-rules` (rule groups) → `wasmfed-telemetry` (the node's
//! own metrics) → `wasmfed-scrape` (discovery, stages, scrape loops) → `wasmfed-node` (tenants,
//! reloads, shared state) → `wasmfed-web` (`/federate` and the APIs). This crate starts a node
//! ([`node::Node`]) and holds the binary (with Prometheus' flags, [`prometheus_flags`]), the
//! demo ([`demo`]), `check` ([`check_cmd`]), the synthetic exporter, and what the status API says of the process ([`status`]).

pub mod check_cmd;
pub mod demo;
pub mod node;
pub mod plugin_cmd;
pub mod prometheus_flags;
pub mod status;
pub mod synth;

pub use node::{Node, NodeOptions};
