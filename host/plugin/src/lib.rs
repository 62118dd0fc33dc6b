//! The WebAssembly plugin runtime: relabeling and shard selection as sandboxed components.
//!
//! A plugin is a component exporting one stage interface of `wit/plugin.wit` (or, for rules
//! and queries, `wit/rules.wit`) plus `lifecycle`.
//! [`PluginRuntime`] (one per node) compiles and links it; a [`Plugin`] runs batches through it
//! under [`PluginLimits`], each failed call classified as one [`FailureKind`] and confined to
//! that call; a [`Stage`] chains the plugins of one job. The files follow the path of a call:
//! `engine` (compile, link, load), `sandbox` (what a guest can reach) and `store` (the series
//! rule and query plugins may read), `bindings` (the WIT boundary), `instance` (stores and
//! calls), `limits` and `error` (budgets and how breaking them is classified), `output`
//! (checking the answer), `rules` (rule and query calls), `stats` (counters), `stage`.
//!
//! Measured on the 2-core development machine (release build, `benches/plugin.rs`, load
//! average ~7 during the run, so ±30% between runs):
//! - compiling the identity component (31 KB, built for wasm32-unknown-unknown): ~61 ms;
//!   `PluginRuntime::load` (compile, link, first instance, `init`): ~92 ms;
//! - instantiating from the `InstancePre`: ~28 µs;
//! - one `process` of 1,000 series of 10 labels through the identity plugin: 6–9 ms
//!   (6–9 µs a series, almost all of it the canonical ABI copying 20,000 strings in and out),
//!   ~9M fuel;
//! - fuel against epoch interruption, against neither: a 1M-iteration arithmetic loop took
//!   1.88 ms bare, 1.95 ms with fuel, 2.10 ms with epochs; the identity call 4.8 / 5.3 /
//!   6.4 ms (raw wasmtime calls). Neither costs more than the noise here, so fuel wins on its
//!   other merits (see `limits`);
//! - an infinite loop under the default budget stops after 150–180 ms (the cheapest possible
//!   spin burns ~2 fuel/ns; ordinary code ~7 fuel/ns, so the budget is ~50 ms of real work);
//!   a memory bomb stops at the 64 MiB cap in under 1 ms; a fresh instance replaces a failed
//!   one in microseconds.

mod bindings;
mod disk_cache;
mod engine;
mod error;
mod head_store;
mod inspect;
mod instance;
mod limits;
mod metrics;
mod output;
pub mod registry;
mod rules;
mod sandbox;
mod stage;
mod stats;
pub mod stock;
mod store;
mod swap;
pub mod watch;

#[cfg(test)]
mod tests;

use std::fmt;

pub use engine::{sha256_hex, PluginRuntime};
pub use error::{FailureKind, PluginError};
pub use head_store::HeadStore;
pub use inspect::{Inspection, WORLDS};
pub use instance::Plugin;
pub use limits::PluginLimits;
pub use rules::{
    AlertState, LabeledSample, QueryAnswer, QueryError, QueryValue, RaisedAlert, RuleEvaluation,
    RuleResult,
};
pub use stage::{Stage, StageError};
pub use stats::PluginStats;
pub use store::{AnswerBudget, SelectedSeries, SeriesStore};

/// Which stage interface a plugin must export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum World {
    /// `targets`: which discovered targets to scrape, with which labels.
    Target,
    /// `series`: which scraped series to keep, with which labels.
    Series,
    /// `rules`: what to compute from stored series and write back, once per group interval.
    Rule,
    /// `query`: instant queries for `/api/v1/query`.
    Query,
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            World::Target => "target",
            World::Series => "series",
            World::Rule => "rule",
            World::Query => "query",
        })
    }
}
