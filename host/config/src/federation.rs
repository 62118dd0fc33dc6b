//! `federation:` in a scrape config, wasmfed's own: how a global federates a wasmfed leaf.
//!
//! ```yaml
//! scrape_configs:
//!   - job_name: leaves
//!     metrics_path: /federate
//!     params: { "match[]": ['{job="node"}'] }
//!     federation:
//!       every_sample: true              # every sample the leaf stored, not the newest only
//!       max_samples_per_request: 250000 # one answer's budget; more is fetched at once
//!       replica_label: replica          # leaves differing only in this label are replicas:
//!       cluster_label: cluster          #   one per cluster is stored, the label dropped
//!       failover_timeout: 30s           #   another takes over after this long without data
//! ```
//!
//! With `every_sample`, the job asks the leaf's `/federate` with a cursor
//! (`wasmfed_model::every_sample`) and stores each sample with the leaf's timestamp. It needs
//! those timestamps, so `honor_timestamps: false` is refused beside it.

use serde::Deserialize;

use super::duration::Duration;

/// One answer's budget unless configured.
pub const DEFAULT_MAX_SAMPLES_PER_REQUEST: u64 = 250_000;
/// The most a leaf grants one answer (its `max_samples` cap).
pub const MAX_SAMPLES_PER_REQUEST: u64 = 10_000_000;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// Ask for every sample since the last answer (cursor mode).
    #[serde(default)]
    pub every_sample: bool,
    /// The most samples one answer may hold.
    #[serde(default = "default_max_samples")]
    pub max_samples_per_request: u64,
    /// HA replica pairs: the label (a leaf's external label) telling replicas apart; empty for
    /// none. Series are stored without it, from one replica per cluster at a time.
    #[serde(default)]
    pub replica_label: String,
    /// The label naming a replica's cluster; series without it form one cluster.
    #[serde(default = "default_cluster_label")]
    pub cluster_label: String,
    /// How long the elected replica of a cluster may deliver nothing before another is elected.
    #[serde(default = "default_failover_timeout")]
    pub failover_timeout: Duration,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            every_sample: false,
            max_samples_per_request: DEFAULT_MAX_SAMPLES_PER_REQUEST,
            replica_label: String::new(),
            cluster_label: default_cluster_label(),
            failover_timeout: default_failover_timeout(),
        }
    }
}

fn default_max_samples() -> u64 {
    DEFAULT_MAX_SAMPLES_PER_REQUEST
}

fn default_cluster_label() -> String {
    "cluster".into()
}

/// Mimir's HA tracker default.
fn default_failover_timeout() -> Duration {
    Duration::from_secs(30)
}

impl FederationConfig {
    /// Checks the section against its job's other keys.
    pub(super) fn check(&self, job: &str, honor_timestamps: bool) -> Result<(), String> {
        if !(1..=MAX_SAMPLES_PER_REQUEST).contains(&self.max_samples_per_request) {
            return Err(format!(
                "federation.max_samples_per_request of scrape config with job name {job:?} must be from 1 to {MAX_SAMPLES_PER_REQUEST}"
            ));
        }
        let label_ok = |l: &str| {
            l.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        for (key, label) in [
            ("replica_label", &self.replica_label),
            ("cluster_label", &self.cluster_label),
        ] {
            if !label.is_empty() && !label_ok(label) {
                return Err(format!(
                    "federation.{key} of scrape config with job name {job:?}: {label:?} is not a valid label name"
                ));
            }
        }
        if !self.replica_label.is_empty() && self.replica_label == self.cluster_label {
            return Err(format!(
                "federation.replica_label and cluster_label of scrape config with job name {job:?} must differ"
            ));
        }
        if self.failover_timeout.is_zero() {
            return Err(format!(
                "federation.failover_timeout of scrape config with job name {job:?} must be positive"
            ));
        }
        if self.every_sample && !honor_timestamps {
            return Err(format!(
                "federation.every_sample of scrape config with job name {job:?} stores the leaf's \
                 timestamps: it cannot be used with honor_timestamps: false"
            ));
        }
        Ok(())
    }
}
