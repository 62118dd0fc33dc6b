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
//!       remote_read: true               # a stock Prometheus leaf: every sample through its
//!       read_overlap: 1m                #   /api/v1/read, each pull reaching back this far
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
    /// Pull every sample from a stock Prometheus through its remote-read API (`metrics_path`
    /// its `/api/v1/read`, the selectors the `match[]` params), instead of `/federate`.
    #[serde(default)]
    pub remote_read: bool,
    /// How far back before the end of the last pull each pull starts: a Prometheus stores a
    /// scrape's samples at its end with its start as their time, so a pull must reach back
    /// over the longest scrape (or rule evaluation) of the leaf.
    #[serde(default = "default_read_overlap")]
    pub read_overlap: Duration,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            every_sample: false,
            max_samples_per_request: DEFAULT_MAX_SAMPLES_PER_REQUEST,
            replica_label: String::new(),
            cluster_label: default_cluster_label(),
            failover_timeout: default_failover_timeout(),
            remote_read: false,
            read_overlap: default_read_overlap(),
        }
    }
}

fn default_max_samples() -> u64 {
    DEFAULT_MAX_SAMPLES_PER_REQUEST
}

fn default_cluster_label() -> String {
    "cluster".into()
}

fn default_read_overlap() -> Duration {
    Duration::from_secs(60)
}

/// Mimir's HA tracker default.
fn default_failover_timeout() -> Duration {
    Duration::from_secs(30)
}

impl FederationConfig {
    /// Whether the job stores every sample of its targets (from `/federate` or remote read).
    pub fn every_sample_mode(&self) -> bool {
        self.every_sample || self.remote_read
    }

    /// Checks the section against its job's other keys.
    pub(super) fn check(
        &self,
        job: &str,
        honor_timestamps: bool,
        params: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<(), String> {
        if self.remote_read && params.get("match[]").is_none_or(Vec::is_empty) {
            return Err(format!(
                "federation.remote_read of scrape config with job name {job:?} reads the series of \
                 its 'match[]' params: there are none"
            ));
        }
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
        for (key, on) in [
            ("every_sample", self.every_sample),
            ("remote_read", self.remote_read),
        ] {
            if on && !honor_timestamps {
                return Err(format!(
                    "federation.{key} of scrape config with job name {job:?} stores the leaf's \
                     timestamps: it cannot be used with honor_timestamps: false"
                ));
            }
        }
        Ok(())
    }
}
