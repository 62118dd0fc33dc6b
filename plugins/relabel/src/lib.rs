//! wasmfed's stock relabel plugin: Prometheus' `relabel_configs` / `metric_relabel_configs`,
//! compiled to a WebAssembly component that exports both the target and the series stage.
//!
//! The host loads one instance per rule list and hands it the rules at `init` as a JSON array
//! of Prometheus relabel configs (`config`); the instance compiles them once ([`Rules`]) and then
//! relabels batches of label sets exactly as Prometheus' `relabel.Process` does. Everything but
//! `component` is plain Rust on its own label type ([`LabelSet`]), so the semantics are tested
//! natively; `component` only moves strings between the generated WIT types and that type.
//! Reading and validating rules (`relabel-config`) and Prometheus' regex dialect (`promregex`)
//! are shared with the host and live in `common/`.
//!
//! Built as a component (no WASI imports), from the workspace root:
//! ```text
//! cargo build --release --target wasm32-unknown-unknown -p relabel
//! wasm-tools component new target/wasm32-unknown-unknown/release/relabel.wasm -o relabel.wasm
//! ```
//! (or `wit_component::ComponentEncoder` on the same core module).

mod case;
mod component;
mod config;
mod labels;
mod rules;
mod template;

pub use config::ConfigError;
pub use labels::{Label, LabelSet};
pub use rules::{Rules, Scratch};
