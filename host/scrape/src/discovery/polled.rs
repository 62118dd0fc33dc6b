//! A discovery source refreshed by its own task at a fixed interval (HTTP, DNS): the task
//! hands over the groups it found when they changed, and the job takes them when it polls.
//! A failed refresh keeps the previous groups and is logged, as in Prometheus.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use wasmfed_config::TargetGroup;
use wasmfed_telemetry::{MechanismLabel, Telemetry};

/// A source's refresh counters (`wasmfed_sd_refreshes_total` and
/// `wasmfed_sd_refresh_failures_total` for its mechanism).
#[derive(Clone)]
pub(super) struct Counters {
    pub refreshes: Counter,
    pub failures: Counter,
}

impl Counters {
    pub(super) fn of(telemetry: &Telemetry, mechanism: &str) -> Counters {
        let label = MechanismLabel {
            mechanism: mechanism.to_owned(),
        };
        Counters {
            refreshes: telemetry.sd_refreshes.get_or_create(&label).clone(),
            failures: telemetry.sd_refresh_failures.get_or_create(&label).clone(),
        }
    }
}

pub(super) struct PolledSource {
    latest: Arc<Mutex<Latest>>,
    /// The version of `latest` the job last took.
    taken: u64,
    pub(super) groups: Vec<TargetGroup>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Default)]
struct Latest {
    version: u64,
    groups: Vec<TargetGroup>,
}

impl PolledSource {
    /// Runs `refresh` at once and then every `interval` (inside a Tokio runtime); `what` names
    /// the source in logs, `counters` count its refreshes and failures.
    pub(super) fn start<F, Fut>(
        what: String,
        interval: Duration,
        counters: Counters,
        mut refresh: F,
    ) -> PolledSource
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<TargetGroup>, String>> + Send,
    {
        let latest = Arc::new(Mutex::new(Latest::default()));
        let shared = latest.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                counters.refreshes.inc();
                match refresh().await {
                    Ok(groups) => {
                        let mut latest = shared.lock();
                        if latest.version == 0 || latest.groups != groups {
                            latest.groups = groups;
                            latest.version += 1;
                        }
                    }
                    Err(e) => {
                        counters.failures.inc();
                        tracing::error!(source = %what, error = %e, "discovery failed; keeping the previous targets");
                    }
                }
            }
        });
        PolledSource {
            latest,
            taken: 0,
            groups: Vec::new(),
            task: Some(task),
        }
    }

    /// A source holding `groups`, never refreshed (for one-off tools).
    pub(super) fn fixed(groups: Vec<TargetGroup>) -> PolledSource {
        PolledSource {
            latest: Arc::new(Mutex::new(Latest::default())),
            taken: 0,
            groups,
            task: None,
        }
    }

    /// Takes the groups the task found since the last call; true if they changed.
    pub(super) fn refresh(&mut self) -> bool {
        let latest = self.latest.lock();
        if latest.version == self.taken {
            return false;
        }
        self.taken = latest.version;
        self.groups = latest.groups.clone();
        true
    }
}

impl Drop for PolledSource {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
