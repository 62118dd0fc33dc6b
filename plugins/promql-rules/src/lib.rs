//! wasmfed's stock rule plugin: Prometheus recording rules evaluated by a PromQL engine.

pub mod engine;
