//! wasmfed: a Prometheus-compatible federation node.
//!
//! The modules follow the data flow: `config` says what to scrape, `scrape` fetches and parses
//! it, `storage` keeps it, `web` serves it (`/federate` first of all). `model` is the vocabulary
//! they share.

pub mod config;
pub mod model;
pub mod node;
pub mod plugin;
pub mod relabel_debug;
pub mod scrape;
pub mod storage;
pub mod synth;
pub mod telemetry;
pub mod web;
