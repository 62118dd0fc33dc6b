//! The example's alert, to show a plugin raising alerts the host sends like the stock
//! plugin's: `CardinalityHigh{job="…"}` fires while a group (job) has more series than
//! `alert_over`, and is resolved once it has no more; a resolved alert is listed for 15
//! minutes more (as Prometheus keeps them), so the host sends its resolution.
//!
//! Plain Rust, tested natively; `lib.rs` turns it into the WIT `alerts` interface.

use std::collections::BTreeMap;

/// The alerting rule's name.
pub const ALERT: &str = "CardinalityHigh";

/// How long a resolved alert stays listed.
const RESOLVED_RETENTION_MS: i64 = 15 * 60_000;

/// One group's alert.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupAlert {
    /// Series of the group when last seen over the limit.
    pub series: u64,
    pub active_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
}

/// Every group's alert, by group value.
#[derive(Debug, Default)]
pub struct Alerts {
    by_group: BTreeMap<String, GroupAlert>,
}

impl Alerts {
    /// Moves every alert at `at_ms`, given each group's series (`totals`) and the limit.
    pub fn update(&mut self, limit: u64, totals: &BTreeMap<String, u64>, at_ms: i64) {
        for (group, &series) in totals.iter().filter(|(_, &n)| n > limit) {
            let fresh = GroupAlert {
                series,
                active_at_ms: at_ms,
                resolved_at_ms: None,
            };
            let alert = self.by_group.entry(group.clone()).or_insert(fresh.clone());
            if alert.resolved_at_ms.is_some() {
                *alert = fresh;
            }
            alert.series = series;
        }
        self.by_group.retain(|group, alert| {
            if totals.get(group).is_some_and(|&n| n > limit) {
                return true;
            }
            let resolved = *alert.resolved_at_ms.get_or_insert(at_ms);
            at_ms - resolved <= RESOLVED_RETENTION_MS
        });
    }

    /// Every alert, firing and recently resolved, by group.
    pub fn list(&self) -> &BTreeMap<String, GroupAlert> {
        &self.by_group
    }

    /// Takes over a previous instance's alerts.
    pub fn take_over(&mut self, alerts: impl IntoIterator<Item = (String, GroupAlert)>) {
        self.by_group.extend(alerts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(g, n)| (g.to_string(), *n)).collect()
    }

    #[test]
    fn an_alert_fires_over_the_limit_and_is_listed_resolved_for_a_while() {
        let mut alerts = Alerts::default();
        alerts.update(100, &totals(&[("a", 150), ("b", 50)]), 0);
        assert_eq!(
            alerts.list().iter().collect::<Vec<_>>(),
            [(
                &"a".to_string(),
                &GroupAlert {
                    series: 150,
                    active_at_ms: 0,
                    resolved_at_ms: None
                }
            )]
        );
        // Still over: same start, new count.
        alerts.update(100, &totals(&[("a", 170)]), 60_000);
        assert_eq!(alerts.list()["a"].active_at_ms, 0);
        assert_eq!(alerts.list()["a"].series, 170);
        // Under the limit: resolved, listed until 15 minutes later.
        alerts.update(100, &totals(&[("a", 90)]), 120_000);
        assert_eq!(alerts.list()["a"].resolved_at_ms, Some(120_000));
        alerts.update(100, &totals(&[("a", 90)]), 120_000 + 15 * 60_000);
        assert!(alerts.list().contains_key("a"));
        alerts.update(100, &totals(&[("a", 90)]), 121_000 + 15 * 60_000);
        assert!(alerts.list().is_empty());
        // Over again: a new alert.
        alerts.update(100, &totals(&[("a", 101)]), 2_000_000);
        assert_eq!(alerts.list()["a"].active_at_ms, 2_000_000);
    }
}
