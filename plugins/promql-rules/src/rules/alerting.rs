//! Alerting rules, as Prometheus 2.42's `AlertingRule.Eval` and `Group.RestoreForState` run
//! them, inside the sandbox with the recording rules of the same group.
//!
//! Each element of the expression's result is an alert, identified by its labels (the
//! element's, less the metric name, with the rule's labels over them and `alertname`). A new
//! alert is *pending* from the evaluation that first sees it; once it has been active for the
//! rule's `for` it is *firing*. An alert missing from the result is *inactive*: a pending one is
//! forgotten at once, a firing one is kept for 15 minutes as resolved (the notifier re-sends
//! it), or kept firing for `keep_firing_for` first. Every pending or firing alert writes
//! `ALERTS{alertstate=...} 1` and `ALERTS_FOR_STATE` (the Unix second it became active), which
//! the group's later rules see and the host stores like any rule output, with stale markers
//! when they end.
//!
//! After a restart, Prometheus evaluates a group twice without writing alert series, then
//! restores each active alert's start from the `ALERTS_FOR_STATE` it wrote before it went down
//! (within `--rules.alert.for-outage-tolerance`), so a `for` does not start over; an alert
//! close to firing waits at least `--rules.alert.for-grace-period`. The same happens here when
//! the host asks for it (a node's first start, not a reload).

use super::{Expander, Recorded, RuleConfig};
use crate::engine::{
    is_stale_marker, FastMap, Labels, MatchOp, Matcher, Sample, Source, METRIC_NAME,
};

/// The series holding each alert's state.
pub const ALERTS: &str = "ALERTS";
/// The series holding the second each alert became active.
pub const ALERTS_FOR_STATE: &str = "ALERTS_FOR_STATE";
const ALERT_NAME: &str = "alertname";
const ALERT_STATE: &str = "alertstate";

/// How long a resolved alert is remembered (and re-sent), as Prometheus' `resolvedRetention`.
const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// An alerting rule's own settings.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertConfig {
    /// `for`: how long an alert is pending before it fires.
    pub hold_ms: i64,
    /// `keep_firing_for`: how long a firing alert stays firing once its condition is gone.
    pub keep_firing_for_ms: i64,
    pub annotations: Vec<(String, String)>,
}

/// How alert state is restored after a restart: Prometheus' `--rules.alert.*` flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestoreOptions {
    /// `--rules.alert.for-outage-tolerance` (1h).
    pub outage_tolerance_ms: i64,
    /// `--rules.alert.for-grace-period` (10m).
    pub grace_period_ms: i64,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            outage_tolerance_ms: 3_600_000,
            grace_period_ms: 600_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub state: AlertState,
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
    /// The expression's value at the last evaluation.
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub keep_firing_since_ms: Option<i64>,
}

/// What one alerting rule remembers between evaluations.
#[derive(Debug)]
pub struct AlertingRule {
    active: FastMap<Labels, Alert>,
    /// Whether alert series are written: false from a start until the state is restored.
    restored: bool,
}

impl AlertingRule {
    /// A rule that writes its series at once (`restored`), or only once
    /// [`AlertingRule::restore`] ran.
    pub fn new(restored: bool) -> AlertingRule {
        AlertingRule {
            active: FastMap::default(),
            restored,
        }
    }

    /// Takes `alerts` (a previous instance's) as this rule's state, and writes alert series
    /// from now on.
    pub fn take_over(&mut self, alerts: impl IntoIterator<Item = Alert>) {
        for a in alerts {
            self.active.insert(a.labels.clone(), a);
        }
        self.restored = true;
    }

    /// The rule's pending, firing and recently resolved alerts, by labels.
    pub fn alerts(&self) -> Vec<&Alert> {
        let mut out: Vec<&Alert> = self.active.values().collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Moves every alert through its states at `ts` given the expression's result `vector`,
    /// and returns the alert series to write (none until restored). Fails, forgetting every
    /// alert, when two elements make the same alert or when more than `limit` (0: no limit)
    /// are pending or firing.
    pub fn eval(
        &mut self,
        rule: &RuleConfig,
        alert: &AlertConfig,
        vector: Vec<Sample>,
        ts: i64,
        limit: usize,
        templates: &mut Expander,
    ) -> Result<Vec<Recorded>, String> {
        let mut current: FastMap<Labels, Alert> = FastMap::default();
        for s in vector {
            let mut labels = s.metric.without_metric_name();
            for (name, value) in &rule.labels {
                let value = templates.expand(&rule.name, value, &s.metric, s.value, ts);
                labels = labels.with(name, &value);
            }
            let labels = labels.with(ALERT_NAME, &rule.name);
            let annotations = alert
                .annotations
                .iter()
                .map(|(name, value)| {
                    let value = templates.expand(&rule.name, value, &s.metric, s.value, ts);
                    (name.clone(), value)
                })
                .collect();
            let fresh = Alert {
                state: AlertState::Pending,
                labels: labels.clone(),
                annotations,
                value: s.value,
                active_at_ms: ts,
                fired_at_ms: None,
                resolved_at_ms: None,
                keep_firing_since_ms: None,
            };
            if current.insert(labels, fresh).is_some() {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
        }
        for (labels, fresh) in &current {
            match self.active.get_mut(labels) {
                Some(known) if known.state != AlertState::Inactive => {
                    known.value = fresh.value;
                    known.annotations = fresh.annotations.clone();
                }
                _ => {
                    self.active.insert(labels.clone(), fresh.clone());
                }
            }
        }
        let mut out = Vec::new();
        let mut pending_or_firing = 0;
        self.active.retain(|labels, a| {
            if !current.contains_key(labels) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && alert.keep_firing_for_ms > 0 {
                    let since = *a.keep_firing_since_ms.get_or_insert(ts);
                    keep_firing = ts - since < alert.keep_firing_for_ms;
                }
                let forget = a.state == AlertState::Pending
                    || a.resolved_at_ms
                        .is_some_and(|at| ts - at > RESOLVED_RETENTION_MS);
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ms = Some(ts);
                }
                if !keep_firing {
                    return !forget;
                }
                if forget {
                    return false;
                }
            } else {
                a.keep_firing_since_ms = None;
            }
            pending_or_firing += 1;
            if a.state == AlertState::Pending && ts - a.active_at_ms >= alert.hold_ms {
                a.state = AlertState::Firing;
                a.fired_at_ms = Some(ts);
            }
            true
        });
        if limit > 0 && pending_or_firing > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {pending_or_firing} alerts"
            ));
        }
        if self.restored {
            for a in self.alerts() {
                if a.state == AlertState::Inactive {
                    continue;
                }
                out.push(Recorded {
                    labels: a
                        .labels
                        .with(METRIC_NAME, ALERTS)
                        .with(ALERT_STATE, a.state.as_str()),
                    timestamp_ms: ts,
                    value: 1.0,
                });
                out.push(Recorded {
                    labels: a.labels.with(METRIC_NAME, ALERTS_FOR_STATE),
                    timestamp_ms: ts,
                    value: a.active_at_ms.div_euclid(1000) as f64,
                });
            }
        }
        Ok(out)
    }

    /// Restores, at `now_ms`, when each active alert became active from the
    /// `ALERTS_FOR_STATE` series written before a restart, then writes alert series from the
    /// next evaluation on. A rule whose `for` is shorter than the grace period is not restored.
    pub fn restore(
        &mut self,
        alert: &AlertConfig,
        now_ms: i64,
        opts: RestoreOptions,
        source: &mut dyn Source,
    ) -> Result<(), String> {
        self.restored = true;
        if alert.hold_ms < opts.grace_period_ms {
            return Ok(());
        }
        for a in self.active.values_mut() {
            let wanted = a.labels.with(METRIC_NAME, ALERTS_FOR_STATE);
            let matchers: Vec<Matcher> = wanted
                .iter()
                .map(|l| Matcher {
                    name: l.name.to_string(),
                    op: MatchOp::Equal,
                    value: l.value.to_string(),
                })
                .collect();
            let found = source.select(&matchers, now_ms - opts.outage_tolerance_ms, now_ms)?;
            // Prometheus takes the series with exactly the alert's labels.
            let Some(series) = found.iter().find(|s| same_labels(&s.labels, &wanted)) else {
                continue;
            };
            let (Some(&t), Some(&v)) = (series.timestamps_ms.last(), series.values.last()) else {
                continue;
            };
            if is_stale_marker(v) {
                continue; // the alert was not active
            }
            // Prometheus reads both at second precision.
            let down_at_ms = t.div_euclid(1000) * 1000;
            let mut active_at_ms = (v as i64) * 1000;
            let remaining = alert.hold_ms - (down_at_ms - active_at_ms);
            if remaining <= 0 {
                // It was firing: the next evaluation fires it again if it still holds.
            } else if remaining < opts.grace_period_ms {
                active_at_ms = now_ms + opts.grace_period_ms - alert.hold_ms;
            } else {
                active_at_ms += now_ms - down_at_ms;
            }
            a.active_at_ms = active_at_ms;
        }
        Ok(())
    }
}

fn same_labels(pairs: &[(String, String)], labels: &Labels) -> bool {
    pairs.len() == labels.len() && pairs.iter().all(|(n, v)| labels.get(n) == Some(v.as_str()))
}

#[cfg(test)]
#[path = "alerting/tests.rs"]
mod tests;
