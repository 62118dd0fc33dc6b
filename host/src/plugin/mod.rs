//! The WebAssembly plugin runtime: relabeling and shard selection as sandboxed components.
//!
//! A plugin is a component exporting one stage interface of `wit/plugin.wit` plus `lifecycle`.
//! [`PluginRuntime`] (one per node) compiles and links it; a [`Plugin`] runs batches through it
//! under [`PluginLimits`], each failed call classified as one [`FailureKind`] and confined to
//! that call. The files follow the path of a call: `engine` (compile, link, load), `sandbox`
//! (what a guest can reach), `bindings` (the WIT boundary), `instance` (stores and calls),
//! `limits` and `error` (budgets and how breaking them is classified), `output` (checking the
//! answer), `stats` (counters), `stage` (chaining a job's plugins).

mod bindings;
mod engine;
mod error;
mod instance;
mod limits;
mod output;
mod sandbox;
mod stage;
pub mod stock;
mod stats;

#[cfg(test)]
mod tests;

use std::fmt;

pub use engine::PluginRuntime;
pub use error::{FailureKind, PluginError};
pub use instance::Plugin;
pub use limits::PluginLimits;
pub use stage::{Stage, StageError};
pub use stats::PluginStats;

/// Which stage interface a plugin must export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum World {
    /// `targets`: which discovered targets to scrape, with which labels.
    Target,
    /// `series`: which scraped series to keep, with which labels.
    Series,
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            World::Target => "target",
            World::Series => "series",
        })
    }
}
