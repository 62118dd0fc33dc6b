//! `shard_handover:` in a scrape config, wasmfed's own: how a shard node lets go of a target
//! the target stage gave to another node (a resharding).
//!
//! ```yaml
//! scrape_configs:
//!   - job_name: node
//!     target_plugins: [{stock: hashmod-shard, config: {modulus: 4, shard: 1}}]
//!     shard_handover:
//!       peers: ['shard-0:9090', 'shard-2:9090', 'shard-3:9090']  # the other shard nodes
//!       max_wait: 5m     # let go after this long even if no peer has scraped it
//! ```
//!
//! A target the stage drops while it is still discovered is scraped on until a peer lists it
//! as an active target that is up and was scraped after the drop, or until `max_wait`: no
//! interval goes unscraped while the nodes reload one after the other.

use serde::Deserialize;

use super::duration::Duration;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverConfig {
    /// The other nodes' web addresses (`host:port`, or URLs with a scheme and route prefix).
    #[serde(default)]
    pub peers: Vec<String>,
    #[serde(default = "default_max_wait")]
    pub max_wait: Duration,
}

fn default_max_wait() -> Duration {
    Duration::from_secs(300)
}

impl HandoverConfig {
    pub(super) fn check(&self, job: &str) -> Result<(), String> {
        if self.max_wait.is_zero() {
            return Err(format!(
                "shard_handover.max_wait of scrape config with job name {job:?} must be positive"
            ));
        }
        if let Some(peer) = self
            .peers
            .iter()
            .find(|p| p.trim().is_empty() || p.contains(' '))
        {
            return Err(format!(
                "shard_handover.peers of scrape config with job name {job:?}: {peer:?} is not an address"
            ));
        }
        Ok(())
    }
}
