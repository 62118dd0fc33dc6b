//! What a plugin author implements: how the plugin is made from its configuration
//! ([`Plugin`]) and what it does at its stage ([`LabelPlugin`] for targets and series,
//! [`RulePlugin`] for rules). The stage is chosen by the export macro, not the trait, so one
//! type can serve as a target and as a series plugin.

use serde::de::DeserializeOwned;

use crate::{parse_config, Error, Labels, RuleResult, Store};

/// A plugin made from its configuration, once per instance: the host's `init`.
pub trait Plugin: Sized + 'static {
    /// The plugin's `config:` from the node's YAML, read with [`crate::parse_config`]
    /// (`()` for a plugin that takes none).
    type Config: DeserializeOwned;

    /// The plugin for `config`; an [`Error::InvalidConfig`] refuses it with a reason.
    fn new(config: Self::Config) -> Result<Self, Error>;

    /// The plugin for the JSON configuration the host gives `init` (`null` for none): what
    /// the component does, and what a native test can do with a fixture's `config`.
    fn from_config(json: &str) -> Result<Self, Error> {
        Self::new(parse_config(json)?)
    }
}

/// A target or series plugin: one decision per label set.
///
/// A series plugin's answers are cached by the host until the plugin or its configuration
/// changes, so its answer must depend only on its configuration and the label set; hence
/// `&self`.
pub trait LabelPlugin: Plugin {
    /// `Some(labels)` keeps the target or series with these labels, `None` drops it. An
    /// error fails the whole batch (the stage's fallback applies to all of it).
    fn process(&self, labels: Labels) -> Result<Option<Labels>, Error>;

    /// A batch (all of a job's targets, or a scrape's new series), one answer per input in
    /// order. Override it for decisions that need the whole batch at once.
    fn process_batch(&self, batch: Vec<Labels>) -> Result<Vec<Option<Labels>>, Error> {
        batch.into_iter().map(|l| self.process(l)).collect()
    }
}

/// A rule plugin: evaluated once per interval of its group, reading the node's store.
///
/// `&mut self`: a rule plugin may keep state between evaluations of one instance (a failed
/// call starts a fresh one).
pub trait RulePlugin: Plugin {
    /// One [`RuleResult`] per rule, in the same order and with the same names every time (the
    /// host tracks staleness per position). An error fails the whole evaluation.
    fn evaluate(&mut self, at_ms: i64, store: &dyn Store) -> Result<Vec<RuleResult>, Error>;
}
