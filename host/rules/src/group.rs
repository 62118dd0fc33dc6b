//! One rule group at work: its plugin evaluates, the results go into the head, series a rule
//! stopped producing get stale markers.
//!
//! Staleness follows Prometheus' rule manager: each rule remembers the series its last
//! successful evaluation wrote; a series missing from the next one gets a stale marker at the
//! new evaluation time, so `/federate` and queries stop showing it at once instead of after
//! the lookback. A rule that failed writes nothing and keeps its memory (its series stay as they
//! were). Rules are matched to what they wrote by name, first to first, as Prometheus'
//! `CopyState` matches them, so a reloaded group whose rules moved still marks the right
//! series.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;

use wasmfed_model::{Labels, STALE_NAN};
use wasmfed_plugin::{Plugin, PluginError, RaisedAlert, RuleEvaluation, RuleResult};
use wasmfed_storage::{AppendError, Head};

use super::alerts::{AlertSink, SendOptions, Sent};
use super::metrics::GroupStats;
use super::schedule::GroupKey;
use super::setup::RuleInfo;

/// A loaded group: its identity, interval and plugin, and what its rules wrote last.
pub struct Group {
    pub key: GroupKey,
    pub interval: std::time::Duration,
    /// Tells a reloaded configuration's group from this one: interval, plugin bytes, config.
    pub fingerprint: String,
    pub plugin: Arc<Plugin>,
    head: Arc<Head>,
    /// Per rule, in the plugin's order: its name and the series it last wrote.
    previous: Mutex<Vec<(String, HashSet<Labels>)>>,
    pub stats: GroupStats,
    /// The rules as configured (empty for a plugin of the operator's), for the API and for
    /// alerts' `generatorURL`.
    pub rules: Vec<RuleInfo>,
    /// The group's `limit` (0: none), for the API.
    pub limit: u64,
    status: Mutex<GroupStatus>,
    sending: Option<Sending>,
}

/// Where the group's alerts go and when each was sent.
struct Sending {
    sink: Arc<dyn AlertSink>,
    options: SendOptions,
    exprs: Vec<String>,
    sent: Sent,
}

/// The group's last evaluation, as `/api/v1/rules` and `/api/v1/alerts` show it.
#[derive(Clone, Debug, Default)]
pub struct GroupStatus {
    /// `None` before the first evaluation.
    pub last_evaluation_ms: Option<i64>,
    pub evaluation_time: std::time::Duration,
    /// Per rule, in the plugin's order: its name and why it failed, if it did.
    pub rules: Vec<(String, Option<String>)>,
    /// Pending, firing and recently resolved alerts (shared: every evaluation hands them to
    /// the plugin call, in case its instance is a fresh one).
    pub alerts: Arc<Vec<RaisedAlert>>,
}

/// What one evaluation did.
#[derive(Debug, Default, PartialEq)]
pub struct Evaluated {
    pub samples: usize,
    pub stale_markers: usize,
    /// Rules that failed: name and reason.
    pub rule_failures: Vec<(String, String)>,
    /// Samples the head refused (out of order, duplicate timestamp).
    pub rejected: usize,
}

impl Group {
    pub fn new(
        key: GroupKey,
        interval: std::time::Duration,
        fingerprint: String,
        plugin: Arc<Plugin>,
        head: Arc<Head>,
    ) -> Group {
        Group {
            key,
            interval,
            fingerprint,
            plugin,
            head,
            previous: Mutex::new(Vec::new()),
            stats: GroupStats::default(),
            rules: Vec::new(),
            limit: 0,
            status: Mutex::new(GroupStatus::default()),
            sending: None,
        }
    }

    /// The group's configured rules and limit, for the API.
    pub fn with_rules(mut self, rules: Vec<RuleInfo>, limit: u64) -> Group {
        self.rules = rules;
        self.limit = limit;
        self
    }

    /// Sends the alerts the plugin raises to `sink`.
    pub fn sending_to(mut self, sink: Arc<dyn AlertSink>, options: SendOptions) -> Group {
        self.sending = Some(Sending {
            sink,
            options,
            exprs: self.rules.iter().map(|r| r.query.clone()).collect(),
            sent: Sent::default(),
        });
        self
    }

    /// What the last evaluation did.
    pub fn status(&self) -> GroupStatus {
        self.status.lock().clone()
    }

    /// Takes over what `older` (the same group before a reload) remembers: the series it
    /// wrote, its alerts (each moved to the first rule of the same name, as Prometheus'
    /// `CopyState` matches rules; those of rules that are gone are dropped), and when each
    /// alert was last sent.
    pub fn inherit(&self, older: &Group) {
        *self.previous.lock() = std::mem::take(&mut *older.previous.lock());
        let before = older.status();
        if before.last_evaluation_ms.is_some() {
            let name_of = |i: usize| {
                older
                    .rules
                    .get(i)
                    .map(|r| r.name.as_str())
                    .or_else(|| before.rules.get(i).map(|(n, _)| n.as_str()))
            };
            let alerts = before
                .alerts
                .iter()
                .filter_map(|a| {
                    // A plugin of the operator's has no configured rules: same positions.
                    if self.rules.is_empty() {
                        return Some(a.clone());
                    }
                    let name = name_of(a.rule)?;
                    let rule = self
                        .rules
                        .iter()
                        .position(|r| r.name == name && r.alert.is_some())?;
                    Some(RaisedAlert { rule, ..a.clone() })
                })
                .collect();
            let mut status = self.status.lock();
            status.last_evaluation_ms = before.last_evaluation_ms;
            status.alerts = Arc::new(alerts);
        }
        if let (Some(mine), Some(theirs)) = (&self.sending, &older.sending) {
            mine.sent.take_from(&theirs.sent);
        }
    }

    /// Evaluates at `at_ms` and writes the results. Blocks for the plugin call.
    pub fn evaluate(&self, at_ms: i64) -> Result<Evaluated, PluginError> {
        let started = std::time::Instant::now();
        let previous = {
            let before = self.status.lock();
            before.last_evaluation_ms.map(|_| before.alerts.clone())
        };
        let evaluated = self
            .plugin
            .evaluate(at_ms, previous.as_deref().map(Vec::as_slice));
        let took = started.elapsed();
        let mut status = GroupStatus {
            last_evaluation_ms: Some(at_ms),
            evaluation_time: took,
            ..GroupStatus::default()
        };
        let outcome = match evaluated {
            Ok(RuleEvaluation { rules, alerts }) => {
                status.rules = rules
                    .iter()
                    .map(|r| (r.name.clone(), r.outcome.as_ref().err().cloned()))
                    .collect();
                let done = self.write(rules, at_ms);
                if let Some(sending) = &self.sending {
                    let due = sending.sent.due(
                        &alerts,
                        at_ms,
                        self.interval,
                        &sending.exprs,
                        &sending.options,
                    );
                    if !due.is_empty() {
                        sending.sink.send(due);
                    }
                }
                status.alerts = Arc::new(alerts);
                Ok(done)
            }
            Err(e) => {
                // Every rule failed with the call; alerts are as they were.
                let why = e.to_string();
                let before = self.status.lock();
                let names: Vec<&String> = if before.rules.is_empty() {
                    self.rules.iter().map(|r| &r.name).collect()
                } else {
                    before.rules.iter().map(|(name, _)| name).collect()
                };
                status.rules = names
                    .into_iter()
                    .map(|name| (name.clone(), Some(why.clone())))
                    .collect();
                status.alerts = before.alerts.clone();
                drop(before);
                Err(e)
            }
        };
        *self.status.lock() = status;
        self.stats.record(at_ms, took, &outcome);
        outcome
    }

    fn write(&self, results: Vec<RuleResult>, at_ms: i64) -> Evaluated {
        let mut done = Evaluated::default();
        self.stats.record_rules(results.len());
        let mut previous = self.previous.lock();
        let mut old = std::mem::take(&mut *previous);
        for result in results {
            // The first remembered rule of the same name, as Prometheus' `CopyState` matches.
            let remembered = old
                .iter()
                .position(|(name, _)| *name == result.name)
                .map(|i| old.remove(i).1);
            let samples = match result.outcome {
                Err(why) => {
                    done.rule_failures.push((result.name.clone(), why));
                    previous.push((result.name, remembered.unwrap_or_default()));
                    continue;
                }
                Ok(samples) => samples,
            };
            let mut current = HashSet::with_capacity(samples.len());
            for s in samples {
                match self.append(&s.labels, s.timestamp_ms, s.value) {
                    Ok(()) => done.samples += 1,
                    Err(_) => done.rejected += 1,
                }
                current.insert(s.labels);
            }
            for gone in remembered
                .iter()
                .flatten()
                .filter(|l| !current.contains(*l))
            {
                if self.append(gone, at_ms, STALE_NAN).is_ok() {
                    done.stale_markers += 1;
                }
            }
            previous.push((result.name, current));
        }
        // Rules that are gone from the plugin's answer: their series end here too.
        for (_, series) in old {
            for gone in &series {
                if self.append(gone, at_ms, STALE_NAN).is_ok() {
                    done.stale_markers += 1;
                }
            }
        }
        done
    }

    /// Ends every series the group wrote, when the group is removed by a reload.
    pub fn mark_stale(&self, at_ms: i64) -> usize {
        let previous = std::mem::take(&mut *self.previous.lock());
        previous
            .iter()
            .flat_map(|(_, series)| series)
            .filter(|labels| self.append(labels, at_ms, STALE_NAN).is_ok())
            .count()
    }

    fn append(&self, labels: &Labels, at_ms: i64, value: f64) -> Result<(), AppendError> {
        let (series, _) = self.head.get_or_create(labels);
        self.head.append(series, at_ms, value)
    }
}
