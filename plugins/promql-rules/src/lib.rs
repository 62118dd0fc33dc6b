//! wasmfed's stock rule plugin: Prometheus recording rules, evaluated by a PromQL engine,
//! compiled to a WebAssembly component for the rule stage (world `rule-plugin`).
//!
//! The host hands the plugin its rule groups as JSON at `init` ([`rules::Config`]) and calls
//! `evaluate(at)` once per interval; the plugin reads series through the host's `store.select`
//! import and returns the recorded samples. Three layers, each usable on its own:
//!
//! - [`engine`]: PromQL with Prometheus' semantics over any [`engine::Source`] of series; no
//!   WIT types, so it is tested natively (and could serve `/api/v1/query` too);
//! - [`parse`]: query text to tree, in the dialect of the Prometheus release the engine follows;
//! - [`rules`]: recording-rule groups on top of the engine;
//! - `component`: the generated bindings and the conversions at the boundary.

mod component;
pub mod engine;
mod goquote;
pub mod parse;
pub mod rules;
