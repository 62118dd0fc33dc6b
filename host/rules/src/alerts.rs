//! From the alerts a rule plugin raises to the alerts sent to Alertmanager, as Prometheus'
//! `AlertingRule.sendAlerts` and `rules.SendAlerts` decide.
//!
//! The plugin owns each alert's state (pending, firing, resolved); the host owns sending, so
//! that a plugin of any author is re-sent and resolved alike. After each evaluation, an alert
//! that is firing is sent if it was never sent or was last sent at least
//! `--rules.alert.resend-delay` ago; a resolved one once more, when it was resolved after it
//! was last sent (and every resend delay while the plugin still lists it). A pending alert is
//! never sent. What is sent says how long it holds: `startsAt` is when it fired, `endsAt` when
//! it was resolved or, while firing, four resend delays (or intervals, if longer) from now, so
//! Alertmanager resolves it by itself when the node stops sending.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;

use wasmfed_model::Labels;
use wasmfed_plugin::{AlertState, RaisedAlert};

/// An alert on its way to Alertmanager: Prometheus' `notifier.Alert`.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub generator_url: String,
}

/// Where a rule manager hands the alerts to send (the node's notifier).
pub trait AlertSink: Send + Sync {
    /// Queues `alerts` for every Alertmanager; never blocks on the network.
    fn send(&self, alerts: Vec<Notification>);
}

/// How alerts are re-sent: Prometheus' `--rules.alert.resend-delay` and `--web.external-url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendOptions {
    pub resend_delay: Duration,
    /// The node's external URL, which `generatorURL` starts with.
    pub external_url: String,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            resend_delay: Duration::from_secs(60),
            external_url: String::new(),
        }
    }
}

/// When each of a group's alerts was last sent (by labels, which name the alert's rule), so
/// that a firing alert is re-sent only every resend delay.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    last_ms: Mutex<HashMap<Labels, i64>>,
}

impl Sent {
    /// Takes over `older`'s memory (the same group before a reload).
    pub(crate) fn take_from(&self, older: &Sent) {
        *self.last_ms.lock() = std::mem::take(&mut *older.last_ms.lock());
    }

    /// The alerts of one evaluation at `at_ms` that are due, as notifications; `exprs` holds
    /// each rule's expression (for `generatorURL`), by position.
    pub(crate) fn due(
        &self,
        alerts: &[RaisedAlert],
        at_ms: i64,
        interval: Duration,
        exprs: &[String],
        opts: &SendOptions,
    ) -> Vec<Notification> {
        let resend_ms = opts.resend_delay.as_millis() as i64;
        let valid_for_ms = 4 * resend_ms.max(interval.as_millis() as i64);
        let mut last = self.last_ms.lock();
        let mut kept: HashMap<Labels, i64> = HashMap::with_capacity(alerts.len());
        let mut out = Vec::new();
        for a in alerts {
            let key = a.labels.clone();
            let sent = last.remove(&key);
            let needs = match (a.state, sent) {
                (AlertState::Pending, _) => false,
                (_, None) => true,
                (_, Some(sent)) => {
                    a.resolved_at_ms.is_some_and(|r| r > sent) || sent + resend_ms < at_ms
                }
            };
            if !needs {
                if let Some(sent) = sent {
                    kept.insert(key, sent);
                }
                continue;
            }
            kept.insert(key, at_ms);
            let expr = exprs.get(a.rule).map_or("", String::as_str);
            out.push(Notification {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at_ms: a.fired_at_ms.unwrap_or(a.active_at_ms),
                ends_at_ms: a.resolved_at_ms.unwrap_or(at_ms + valid_for_ms),
                generator_url: format!(
                    "{}/graph?g0.expr={}&g0.tab=1",
                    opts.external_url.trim_end_matches('/'),
                    query_escape(expr)
                ),
            });
        }
        *last = kept;
        out
    }
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, every other byte `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(state: AlertState, fired: Option<i64>, resolved: Option<i64>) -> RaisedAlert {
        RaisedAlert {
            rule: 0,
            labels: Labels::from_pairs([("alertname", "Down"), ("job", "x")]),
            annotations: vec![("summary".into(), "down".into())],
            state,
            value: 0.0,
            active_at_ms: 1_000,
            fired_at_ms: fired,
            resolved_at_ms: resolved,
            keep_firing_since_ms: None,
        }
    }

    fn opts() -> SendOptions {
        SendOptions {
            resend_delay: Duration::from_secs(60),
            external_url: "http://node:9090/".into(),
        }
    }

    #[test]
    fn firing_alerts_are_sent_then_resent_every_resend_delay_and_once_more_resolved() {
        let sent = Sent::default();
        let exprs = vec!["up == 0".to_string()];
        let every = Duration::from_secs(15);
        let pending = [alert(AlertState::Pending, None, None)];
        assert!(sent.due(&pending, 0, every, &exprs, &opts()).is_empty());
        let firing = [alert(AlertState::Firing, Some(15_000), None)];
        let first = sent.due(&firing, 15_000, every, &exprs, &opts());
        assert_eq!(
            first,
            [Notification {
                labels: firing[0].labels.clone(),
                annotations: firing[0].annotations.clone(),
                starts_at_ms: 15_000,
                // Four resend delays (longer than four intervals).
                ends_at_ms: 15_000 + 240_000,
                generator_url: "http://node:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1".into(),
            }]
        );
        // Not again until the resend delay has passed (strictly, as Prometheus' Before).
        for at in [30_000, 60_000, 75_000] {
            assert!(
                sent.due(&firing, at, every, &exprs, &opts()).is_empty(),
                "{at}"
            );
        }
        assert_eq!(sent.due(&firing, 90_000, every, &exprs, &opts()).len(), 1);
        // Resolved after the last send: sent at once, with endsAt the resolution.
        let resolved = [alert(AlertState::Inactive, Some(15_000), Some(105_000))];
        let out = sent.due(&resolved, 105_000, every, &exprs, &opts());
        assert_eq!(out[0].ends_at_ms, 105_000);
        assert!(sent
            .due(&resolved, 120_000, every, &exprs, &opts())
            .is_empty());
        // An alert the plugin forgot is forgotten: it starts over when it comes back.
        assert!(sent.due(&[], 135_000, every, &exprs, &opts()).is_empty());
        assert_eq!(sent.due(&firing, 150_000, every, &exprs, &opts()).len(), 1);
    }

    #[test]
    fn query_escape_is_go_s() {
        assert_eq!(
            query_escape(r#"rate(x{a="b"}[5m]) > 0.5 * 2~"#),
            "rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29+%3E+0.5+%2A+2~"
        );
        assert_eq!(query_escape("é"), "%C3%A9");
    }
}
