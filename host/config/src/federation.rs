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
//! ```
//!
//! With `every_sample`, the job asks the leaf's `/federate` with a cursor
//! (`wasmfed_model::every_sample`) and stores each sample with the leaf's timestamp. It needs
//! those timestamps, so `honor_timestamps: false` is refused beside it.

use serde::Deserialize;

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
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            every_sample: false,
            max_samples_per_request: DEFAULT_MAX_SAMPLES_PER_REQUEST,
        }
    }
}

fn default_max_samples() -> u64 {
    DEFAULT_MAX_SAMPLES_PER_REQUEST
}

impl FederationConfig {
    /// Checks the section against its job's other keys.
    pub(super) fn check(&self, job: &str, honor_timestamps: bool) -> Result<(), String> {
        if !(1..=MAX_SAMPLES_PER_REQUEST).contains(&self.max_samples_per_request) {
            return Err(format!(
                "federation.max_samples_per_request of scrape config with job name {job:?} must be from 1 to {MAX_SAMPLES_PER_REQUEST}"
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
