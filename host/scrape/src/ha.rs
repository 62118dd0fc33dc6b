//! HA replica pairs on a global: two (or more) leaves scrape the same targets and differ only in
//! a replica label; the global stores one replica's series per cluster, without that label, so
//! `sum()` is never doubled, and elects another when the one it stores stops delivering.
//!
//! The choice is Mimir's HA tracker, not Thanos' query-time deduplication: one replica is
//! elected per cluster and its samples are stored; the others' are dropped at ingest. Storing
//! one copy costs half the storage and no query-time merging, and the answer to "which replica
//! is this sample from" is simple. The price is fail-over time: with plain `/federate` a dead
//! elected replica leaves a gap of up to `failover_timeout` plus an interval. In every-sample
//! mode there is no gap: the new replica's cursor is set back to before the old one stopped
//! (`every_sample`), and its samples after the last stored one fill the hole. Thanos' penalty
//! algorithm has no such gap in either mode but keeps both copies forever.
//!
//! Election is by delivery: the elected replica renews its term with every scrape that brings
//! samples of the cluster; a replica scraped while the elected one has been silent for
//! `failover_timeout` takes over. A standby's scrape still succeeds (`up` is 1): only its
//! samples are dropped, counted per job.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use wasmfed_config::FederationConfig;
use wasmfed_model::Labels;

/// Which replica of a cluster a series came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Replica {
    pub cluster: String,
    pub replica: String,
}

/// What the tracker makes of a scrape that brought samples of a replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The replica is the cluster's elected one (it may just have been elected, the first).
    Elected,
    /// The replica was just elected because the one before it went silent.
    TookOver { from: String },
    /// Another replica is elected and delivering: drop these samples.
    Standby,
}

/// The elected replica of every cluster of one job.
pub struct HaTracker {
    replica_label: String,
    cluster_label: String,
    timeout: Duration,
    elected: Mutex<HashMap<String, (String, Instant)>>,
}

impl HaTracker {
    /// A tracker for a job, if its `federation` section names a replica label.
    pub fn new(cfg: &FederationConfig) -> Option<HaTracker> {
        (!cfg.replica_label.is_empty()).then(|| HaTracker {
            replica_label: cfg.replica_label.clone(),
            cluster_label: cfg.cluster_label.clone(),
            timeout: cfg.failover_timeout.as_std(),
            elected: Mutex::default(),
        })
    }

    pub fn failover_timeout(&self) -> Duration {
        self.timeout
    }

    /// Takes the replica label off a series' labels; answers whose replica it was, if it had
    /// the label.
    pub fn split(&self, labels: &mut Labels) -> Option<Replica> {
        let replica = labels.get(&self.replica_label)?.to_string();
        labels.remove(&self.replica_label);
        let cluster = labels.get(&self.cluster_label).unwrap_or("").to_string();
        Some(Replica { cluster, replica })
    }

    /// Notes that `replica` delivered samples at `now`, and whether they are to be stored.
    pub fn observe(&self, replica: &Replica, now: Instant) -> Verdict {
        let mut elected = self.elected.lock();
        let Some((current, renewed)) = elected.get_mut(&replica.cluster) else {
            elected.insert(replica.cluster.clone(), (replica.replica.clone(), now));
            return Verdict::Elected;
        };
        if *current == replica.replica {
            *renewed = now;
            return Verdict::Elected;
        }
        if now.saturating_duration_since(*renewed) < self.timeout {
            return Verdict::Standby;
        }
        let from = std::mem::replace(current, replica.replica.clone());
        *renewed = now;
        Verdict::TookOver { from }
    }

    /// Every cluster's elected replica, by cluster.
    pub fn elected(&self) -> Vec<Replica> {
        let mut out: Vec<Replica> = self
            .elected
            .lock()
            .iter()
            .map(|(cluster, (replica, _))| Replica {
                cluster: cluster.clone(),
                replica: replica.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(timeout_s: u64) -> HaTracker {
        HaTracker::new(&FederationConfig {
            replica_label: "replica".into(),
            failover_timeout: wasmfed_config::Duration::from_secs(timeout_s),
            ..FederationConfig::default()
        })
        .unwrap()
    }

    fn of(cluster: &str, replica: &str) -> Replica {
        Replica {
            cluster: cluster.into(),
            replica: replica.into(),
        }
    }

    #[test]
    fn one_replica_per_cluster_until_it_goes_silent() {
        let ha = tracker(30);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(ha.observe(&of("eu", "a"), at(0)), Verdict::Elected);
        assert_eq!(ha.observe(&of("eu", "b"), at(1)), Verdict::Standby);
        assert_eq!(
            ha.observe(&of("us", "b"), at(1)),
            Verdict::Elected,
            "per cluster"
        );
        assert_eq!(ha.observe(&of("eu", "a"), at(20)), Verdict::Elected);
        assert_eq!(
            ha.observe(&of("eu", "b"), at(49)),
            Verdict::Standby,
            "a renewed at 20"
        );
        assert_eq!(
            ha.observe(&of("eu", "b"), at(50)),
            Verdict::TookOver { from: "a".into() }
        );
        assert_eq!(
            ha.observe(&of("eu", "a"), at(51)),
            Verdict::Standby,
            "a came back"
        );
        assert_eq!(ha.elected(), [of("eu", "b"), of("us", "b")]);
    }

    #[test]
    fn the_replica_label_is_taken_off_and_the_cluster_read() {
        let ha = tracker(30);
        let mut labels =
            Labels::from_pairs([("__name__", "up"), ("cluster", "eu"), ("replica", "a")]);
        assert_eq!(ha.split(&mut labels), Some(of("eu", "a")));
        assert_eq!(
            labels,
            Labels::from_pairs([("__name__", "up"), ("cluster", "eu")])
        );
        let mut plain = Labels::from_pairs([("__name__", "up"), ("replica", "b")]);
        assert_eq!(ha.split(&mut plain), Some(of("", "b")));
        let mut none = Labels::from_pairs([("__name__", "up")]);
        assert_eq!(ha.split(&mut none), None);
        assert!(HaTracker::new(&FederationConfig::default()).is_none());
    }
}
