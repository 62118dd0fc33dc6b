//! Label sets: the identity of a series and of a target.
//!
//! A `Labels` value is always sorted by name with unique names, so equality, hashing and
//! ordering of two sets are plain slice operations, and `/federate` can write labels in the order
//! Prometheus does without sorting again. Empty values are kept by the type (relabeling needs to
//! tell "absent" from "empty" for a moment) but [`Labels::without_empty`] drops them, as storage
//! does before a series is created.

use std::fmt;

/// The reserved label that carries the metric name.
pub const METRIC_NAME: &str = "__name__";
/// Label naming the scrape job of a target.
pub const JOB: &str = "job";
/// Label naming the scraped endpoint of a target.
pub const INSTANCE: &str = "instance";

/// One name/value pair.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A label set sorted by name, names unique.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<Label>);

impl Labels {
    pub fn new() -> Self {
        Labels(Vec::new())
    }

    /// Builds a set from pairs in any order; a later pair with the same name wins.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<String>,
        V: Into<String>,
    {
        let mut labels = Labels::new();
        for (name, value) in pairs {
            labels.set(name, value);
        }
        labels
    }

    /// Wraps a vector the caller guarantees is sorted by name with unique names.
    pub fn from_sorted(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Labels(labels)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).ok().map(|i| self.0[i].value.as_str())
    }

    /// The metric name, or "" for a set without one.
    pub fn metric_name(&self) -> &str {
        self.get(METRIC_NAME).unwrap_or("")
    }

    /// Sets `name` to `value`, replacing any previous value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.position(&name) {
            Ok(i) => self.0[i].value = value,
            Err(i) => self.0.insert(i, Label { name, value }),
        }
    }

    /// Removes `name`, returning its value if it was present.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.position(name).ok().map(|i| self.0.remove(i).value)
    }

    /// Keeps only the labels for which `keep` answers true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Label) -> bool) {
        self.0.retain(|l| keep(l));
    }

    /// The same set without labels whose value is empty: an empty label is an absent label.
    pub fn without_empty(mut self) -> Self {
        self.0.retain(|l| !l.value.is_empty());
        self
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|l| l.name.as_str().cmp(name))
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Writes `{a="1", b="2"}` the way Prometheus prints label sets in messages.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`. One rule for the host and the
/// relabel plugin: it lives in `relabel-config`, the lowest crate both are built with (that
/// crate is shared with the guests' workspace, so it cannot depend on this one).
pub use relabel_config::is_valid_label_name;

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_sorted_and_last_wins() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("b", "3")]);
        let names: Vec<_> = l
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(names, [("a", "1"), ("b", "3")]);
    }

    #[test]
    fn empty_values_are_dropped_on_request() {
        let l = Labels::from_pairs([("a", ""), ("b", "x")]).without_empty();
        assert_eq!(l.to_string(), r#"{b="x"}"#);
    }

    #[test]
    fn name_validity() {
        for (name, label_ok, metric_ok) in [
            ("abc", true, true),
            ("_a1", true, true),
            ("a:b", false, true),
            ("1a", false, false),
            ("", false, false),
            ("a-b", false, false),
        ] {
            assert_eq!(is_valid_label_name(name), label_ok, "{name}");
            assert_eq!(is_valid_metric_name(name), metric_ok, "{name}");
        }
    }
}
