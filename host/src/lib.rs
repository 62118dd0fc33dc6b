//! wasmfed: a Prometheus-compatible federation node.
//!
//! The modules follow the data flow: `config` says what to scrape, `scrape` fetches and parses
//! it, `storage` keeps it, `rules` aggregates what is stored and writes the results back, `web`
//! serves it (`/federate` first of all). `plugin` runs the WebAssembly components the scrape
//! and rule stages call; `model` is the vocabulary they share.

pub mod config;
pub mod model;
pub mod node;
pub mod plugin;
pub mod relabel_debug;
pub mod rules;
pub mod scrape;
pub mod storage;
pub mod synth;
pub mod telemetry;
pub mod tenant;
pub mod web;
