//! A discovery source run by its own task, refreshed at a fixed interval (HTTP, DNS) or as
//! changes arrive (Kubernetes' WATCHes): the task hands over the groups it found when they
//! changed, and the job takes them when it polls.
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

/// Where a source's task hands over the groups it found.
#[derive(Clone)]
pub(super) struct Publisher(Arc<Mutex<Latest>>);

impl Publisher {
    /// Hands over `groups`; the job sees a change only if they differ from the last ones.
    pub(super) fn publish(&self, groups: Vec<TargetGroup>) {
        let mut latest = self.0.lock();
        if latest.version == 0 || latest.groups != groups {
            latest.groups = groups;
            latest.version += 1;
        }
    }
}

impl PolledSource {
    /// Runs `refresh` at once and then every `interval` (inside a Tokio runtime); `what` names
    /// the source in logs, `counters` count its refreshes and failures.
    ///
    /// `refresh_interval: 0s` passes Prometheus' configuration checks and then panics its
    /// refresh ticker; here it refreshes once, and the log says so.
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
        PolledSource::spawn(move |publisher| async move {
            let mut ticker = (!interval.is_zero()).then(|| {
                let mut ticker = tokio::time::interval(interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticker
            });
            if ticker.is_none() {
                tracing::warn!(source = %what, "refresh_interval is 0s: discovering once, never again (Prometheus stops with a panic on it); set an interval above 0s to follow changes");
            }
            loop {
                if let Some(ticker) = &mut ticker {
                    ticker.tick().await;
                }
                counters.refreshes.inc();
                match refresh().await {
                    Ok(groups) => publisher.publish(groups),
                    Err(e) => {
                        counters.failures.inc();
                        tracing::error!(source = %what, error = %e, "discovery failed; keeping the previous targets");
                    }
                }
                if ticker.is_none() {
                    return;
                }
            }
        })
    }

    /// Runs `task` (inside a Tokio runtime), which publishes groups as it finds them, until
    /// the source is dropped.
    pub(super) fn spawn<F, Fut>(task: F) -> PolledSource
    where
        F: FnOnce(Publisher) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let latest = Arc::new(Mutex::new(Latest::default()));
        let task = tokio::spawn(task(Publisher(latest.clone())));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> TargetGroup {
        TargetGroup {
            targets: vec!["a:9100".into()],
            target_labels: Vec::new(),
            labels: Default::default(),
            source: "test".into(),
        }
    }

    #[tokio::test]
    async fn a_zero_refresh_interval_discovers_once_and_ends() {
        let counters = Counters {
            refreshes: Counter::default(),
            failures: Counter::default(),
        };
        let mut source =
            PolledSource::start("test".into(), Duration::ZERO, counters.clone(), || async {
                Ok(vec![group()])
            });
        let task = source.task.take().expect("a running task");
        task.await
            .expect("the refresh task ends instead of panicking");
        assert!(source.refresh());
        assert_eq!(source.groups, vec![group()]);
        assert_eq!(counters.refreshes.get(), 1);
    }
}
