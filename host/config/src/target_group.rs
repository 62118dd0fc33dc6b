//! Target groups: a list of `host:port` targets sharing a label set, as written in
//! `static_configs` and in file_sd files (Prometheus' `targetgroup.Group`).
//!
//! One raw form serves YAML and JSON, so both kinds of source reject the same unknown keys and
//! bad label names.

use serde::Deserialize;

use super::yaml::{null_as_zero, LabelSet};
use wasmfed_model::Labels;

/// Targets that share labels, with the `source` Prometheus identifies the group by within a
/// scrape job: the group's index for `static_configs`, `<file>:<index>` for file_sd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetGroup {
    /// Each becomes a target's `__address__`.
    pub targets: Vec<String>,
    /// Labels of each target besides its address, parallel to `targets`, winning over the
    /// group's (DNS SD's `__meta_dns_*`); empty when the source has none.
    pub target_labels: Vec<Labels>,
    pub labels: Labels,
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTargetGroup {
    /// A null entry is an empty address, as Go reads it.
    #[serde(default, deserialize_with = "null_as_zero")]
    targets: Vec<Option<String>>,
    #[serde(default)]
    labels: LabelSet,
}

impl RawTargetGroup {
    pub(super) fn into_group(self, source: String) -> TargetGroup {
        TargetGroup {
            targets: self
                .targets
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
            target_labels: Vec::new(),
            labels: self.labels.0,
            source,
        }
    }

    /// Prometheus' `CheckTargetAddress`: a URL where a `host:port` belongs is a common mistake.
    pub(super) fn check_addresses(&self) -> Result<(), String> {
        match self.targets.iter().flatten().find(|t| t.contains('/')) {
            Some(t) => Err(format!("{t:?} is not a valid hostname")),
            None => Ok(()),
        }
    }
}
