//! Write wasmfed plugins in Rust as plain Rust: a type, its configuration and its logic.
//!
//! A plugin author implements [`Plugin`] (how the plugin is made from its configuration) and
//! either [`LabelPlugin`] (a target or series plugin: one decision per label set) or
//! [`RulePlugin`] (an evaluation that reads the node's store), then names the stage with one
//! macro: [`export_target_plugin!`], [`export_series_plugin!`] or [`export_rule_plugin!`].
//! Everything else a component needs — the WIT bindings, the instance's state between
//! `init` and the stage calls, parsing the JSON configuration into the author's serde type,
//! mapping errors onto the WIT `plugin-error` — is this crate's, so it is written once here
//! and not in every plugin.
//!
//! ```
//! use wasmfed_guest::{Error, LabelPlugin, Labels, Plugin};
//!
//! #[derive(serde::Deserialize)]
//! struct Config { prefix: String }
//!
//! struct DropPrefix(String);
//!
//! impl Plugin for DropPrefix {
//!     type Config = Config;
//!     fn new(config: Config) -> Result<Self, Error> { Ok(DropPrefix(config.prefix)) }
//! }
//!
//! impl LabelPlugin for DropPrefix {
//!     fn process(&self, labels: Labels) -> Result<Option<Labels>, Error> {
//!         let debug = labels.metric_name().is_some_and(|n| n.starts_with(&self.0));
//!         Ok((!debug).then_some(labels))
//!     }
//! }
//!
//! wasmfed_guest::export_series_plugin!(DropPrefix);
//! ```
//!
//! The crate is not published: `wasmfed plugin new --lang rust` copies it, with the WIT it
//! was built from, into each new project as `wasmfed-guest/` (a path dependency), so a
//! project builds offline against exactly the contract of the `wasmfed` that made it.
//!
//! Bindings: `wit_bindgen::generate!` with public export macros, so the exports (and the
//! description of exactly the chosen world's exports) are emitted in the plugin's crate, not
//! here; see [`bindings`] for why there is one world per exported interface.

mod config;
mod error;
#[doc(hidden)]
pub mod glue;
mod labels;
mod plugin;
mod rules;

pub use config::parse_config;
pub use error::Error;
pub use labels::Labels;
pub use plugin::{LabelPlugin, Plugin, RulePlugin};
pub use rules::{HostStore, Matcher, RuleResult, Sample, SeriesSamples, Store, StoreError};

/// One label as the WIT types have it; [`Labels`] is the set an author works with.
pub use bindings::types::Label;

/// The generated bindings, for the export macros: not part of the API.
///
/// One world per export, so each interface is generated once and each export macro is
/// defined once in this crate: `lifecycle` (with the shared `types`), and each stage's
/// interface. A component gets the `lifecycle` world and its stage's, which wit-component
/// joins into the contract's world (`target-plugin` = lifecycle + targets, and so on).
#[doc(hidden)]
pub mod bindings {
    pub mod lifecycle {
        wit_bindgen::generate!({
            path: "wit",
            inline: "package wasmfed:guest;
                world plugin-lifecycle { export wasmfed:plugin/lifecycle@0.1.0; }",
            world: "wasmfed:guest/plugin-lifecycle",
            pub_export_macro: true,
            generate_all,
            generate_unused_types: true,
            additional_derives: [PartialEq],
        });
    }

    pub mod target {
        wit_bindgen::generate!({
            path: "wit",
            inline: "package wasmfed:guest;
                world target-stage { export wasmfed:plugin/targets@0.1.0; }",
            world: "wasmfed:guest/target-stage",
            pub_export_macro: true,
            with: { "wasmfed:plugin/types@0.1.0": crate::bindings::types },
        });
    }

    pub mod series {
        wit_bindgen::generate!({
            path: "wit",
            inline: "package wasmfed:guest;
                world series-stage { export wasmfed:plugin/series@0.1.0; }",
            world: "wasmfed:guest/series-stage",
            pub_export_macro: true,
            with: { "wasmfed:plugin/types@0.1.0": crate::bindings::types },
        });
    }

    pub mod rule {
        wit_bindgen::generate!({
            path: "wit",
            inline: "package wasmfed:guest;
                world rule-stage {
                    import wasmfed:plugin/store@0.1.0;
                    export wasmfed:plugin/rules@0.1.0;
                }",
            world: "wasmfed:guest/rule-stage",
            pub_export_macro: true,
            with: { "wasmfed:plugin/types@0.1.0": crate::bindings::types },
            generate_all,
            additional_derives: [PartialEq],
        });
    }

    pub use lifecycle::exports::wasmfed::plugin::lifecycle::Guest as Lifecycle;
    pub use lifecycle::wasmfed::plugin::types;
    pub use types::PluginError;
}
