//! Metric metadata per target: what the `# TYPE`, `# HELP` and `# UNIT` lines of its scrapes
//! said, for `/api/v1/metadata` and `/api/v1/targets/metadata` (Grafana's metric browser reads
//! them for its hints).
//!
//! Kept as Prometheus' scrape cache keeps it: an entry per metric family name, updated by
//! every line as it is parsed (even in a scrape that then fails on a later line), and dropped
//! once ten successful scrapes have not mentioned it. The scrape loop holds the lock for a
//! scrape's parse, so a reader sees a scrape's metadata whole; readers are rare and brief.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::parse::MetricType;

/// What a target said of one metric family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricMetadata {
    pub kind: MetricType,
    pub help: String,
    pub unit: String,
}

struct Entry {
    metadata: MetricMetadata,
    /// The scrape that last mentioned it.
    last_seen: u64,
}

/// One target's metadata; see the module documentation.
#[derive(Default)]
pub struct TargetMetadata {
    entries: HashMap<String, Entry>,
    /// Successful scrapes so far.
    scrapes: u64,
}

/// A target's metadata, shared by its scrape loop and the API.
pub type SharedMetadata = Arc<Mutex<TargetMetadata>>;

/// Successful scrapes that may pass without mentioning a family before it is forgotten.
const KEPT_FOR_SCRAPES: u64 = 10;

impl TargetMetadata {
    pub fn set_type(&mut self, metric: &str, kind: MetricType) {
        self.entry(metric).kind = kind;
    }

    pub fn set_help(&mut self, metric: &str, help: &str) {
        let entry = self.entry(metric);
        if entry.help != help {
            entry.help = help.to_owned();
        }
    }

    pub fn set_unit(&mut self, metric: &str, unit: &str) {
        let entry = self.entry(metric);
        if entry.unit != unit {
            entry.unit = unit.to_owned();
        }
    }

    /// Ends a successful, non-empty scrape: families not mentioned for ten of them go.
    pub fn scrape_done(&mut self) {
        let now = self.scrapes;
        self.entries
            .retain(|_, e| now - e.last_seen <= KEPT_FOR_SCRAPES);
        self.scrapes += 1;
    }

    pub fn get(&self, metric: &str) -> Option<&MetricMetadata> {
        self.entries.get(metric).map(|e| &e.metadata)
    }

    /// Every family's metadata, by name.
    pub fn list(&self) -> impl Iterator<Item = (&str, &MetricMetadata)> {
        self.entries.iter().map(|(m, e)| (m.as_str(), &e.metadata))
    }

    fn entry(&mut self, metric: &str) -> &mut MetricMetadata {
        let now = self.scrapes;
        // A lookup by `&str` first: a steady scrape allocates nothing.
        if !self.entries.contains_key(metric) {
            self.entries.insert(
                metric.to_owned(),
                Entry {
                    metadata: MetricMetadata {
                        kind: MetricType::Unknown,
                        help: String::new(),
                        unit: String::new(),
                    },
                    last_seen: now,
                },
            );
        }
        let entry = self.entries.get_mut(metric).expect("inserted above");
        entry.last_seen = now;
        &mut entry.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_kept_for_ten_scrapes_after_their_last_mention() {
        let mut m = TargetMetadata::default();
        m.set_type("a", MetricType::Counter);
        m.set_help("a", "requests");
        m.set_help("b", "no type");
        m.set_unit("c", "seconds");
        m.scrape_done();
        let b = m.get("b").unwrap();
        assert_eq!((b.kind, b.help.as_str()), (MetricType::Unknown, "no type"));
        assert_eq!(m.get("c").unwrap().unit, "seconds");
        for scrape in 1..=KEPT_FOR_SCRAPES {
            m.set_help("a", "requests served");
            m.scrape_done();
            assert!(
                m.get("b").is_some(),
                "b kept after {scrape} scrapes without it"
            );
        }
        m.set_help("a", "requests served");
        m.scrape_done();
        assert!(m.get("b").is_none(), "b forgotten after 11");
        let a = m.get("a").unwrap();
        assert_eq!(
            (a.kind, a.help.as_str()),
            (MetricType::Counter, "requests served")
        );
        let mut names: Vec<&str> = m.list().map(|(n, _)| n).collect();
        names.sort_unstable();
        assert_eq!(names, ["a"]);
    }
}
