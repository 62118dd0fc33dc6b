//! [`Labels`], a label set as a plugin reads and changes it.
//!
//! It wraps the WIT `labels` list as the host sends it (sorted by name, names unique), so
//! turning one into the other moves a vector and copies nothing. A set built by a plugin keeps
//! names unique ([`Labels::set`] replaces) but not sorted: the host sorts what it gets back.
//! Two sets are equal when they hold the same labels in any order.

use std::fmt;

use crate::Label;

/// A label set: a target's labels or a series' labels (`__name__` is the metric name).
#[derive(Clone, Debug, Default)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// An empty set.
    pub fn new() -> Labels {
        Labels::default()
    }

    /// The value of `name`, if the set has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }

    /// Whether the set has `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The metric name (`__name__`) of a series.
    pub fn metric_name(&self) -> Option<&str> {
        self.get("__name__")
    }

    /// Sets `name` to `value`, replacing its value if the set has it. (An empty value
    /// removes the label once the host has it, as in Prometheus.)
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.0.iter_mut().find(|l| l.name == name) {
            Some(label) => label.value = value,
            None => self.0.push(Label { name, value }),
        }
    }

    /// Removes `name`; its value, if the set had it.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let at = self.0.iter().position(|l| l.name == name)?;
        Some(self.0.remove(at).value)
    }

    /// Keeps only the labels for which `keep(name, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|l| keep(&l.name, &l.value));
    }

    /// `(name, value)` pairs, in the set's order (by name, as the host sends them).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|l| (l.name.as_str(), l.value.as_str()))
    }

    /// `(name, value)` pairs with the values changeable in place.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut String)> {
        self.0.iter_mut().map(|l| (l.name.as_str(), &mut l.value))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn sorted(&self) -> Vec<(&str, &str)> {
        let mut pairs: Vec<_> = self.iter().collect();
        pairs.sort_unstable();
        pairs
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        self.len() == other.len() && self.sorted() == other.sorted()
    }
}

impl Eq for Labels {}

impl From<Vec<Label>> for Labels {
    fn from(labels: Vec<Label>) -> Labels {
        Labels(labels)
    }
}

impl From<Labels> for Vec<Label> {
    fn from(labels: Labels) -> Vec<Label> {
        labels.0
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Labels {
    /// A later pair with an earlier pair's name replaces its value.
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Labels {
        let mut labels = Labels::new();
        for (name, value) in pairs {
            labels.set(name, value);
        }
        labels
    }
}

impl<N: Into<String>, V: Into<String>, const LEN: usize> From<[(N, V); LEN]> for Labels {
    fn from(pairs: [(N, V); LEN]) -> Labels {
        pairs.into_iter().collect()
    }
}

impl fmt::Display for Labels {
    /// Prometheus' notation, `name{a="1",b="2"}` (labels sorted by name), as fixtures and
    /// `/federate` write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric_name().unwrap_or(""))?;
        f.write_str("{")?;
        let mut first = true;
        for (name, value) in self.sorted() {
            if name == "__name__" {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{name}=\"")?;
            for c in value.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' => f.write_str("\\\"")?,
                    '\n' => f.write_str("\\n")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str, value: &str) -> Label {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn get_set_remove() {
        let mut labels = Labels::from(vec![label("__name__", "up"), label("job", "app")]);
        assert_eq!(labels.get("job"), Some("app"));
        assert_eq!(labels.metric_name(), Some("up"));
        assert_eq!(labels.get("instance"), None);
        labels.set("job", "db");
        labels.set("instance", "a:9100");
        assert_eq!(labels.len(), 3);
        assert_eq!(labels.get("job"), Some("db"));
        assert_eq!(labels.remove("job"), Some("db".into()));
        assert_eq!(labels.remove("job"), None);
        assert!(!labels.contains("job") && labels.contains("instance"));
        assert_eq!(
            Vec::<Label>::from(labels),
            vec![label("__name__", "up"), label("instance", "a:9100")]
        );
    }

    #[test]
    fn iterate_change_and_retain() {
        let mut labels = Labels::from([("a", "1"), ("b", "2"), ("__c", "3")]);
        for (name, value) in labels.iter_mut() {
            if name == "b" {
                value.push('0');
            }
        }
        labels.retain(|name, _| !name.starts_with("__"));
        assert_eq!(labels.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "20")]);
    }

    #[test]
    fn equality_ignores_order_and_building_keeps_names_unique() {
        let built: Labels = [("job", "x"), ("a", "1"), ("job", "app")].into();
        assert_eq!(built.len(), 2);
        assert_eq!(built, Labels::from([("a", "1"), ("job", "app")]));
        assert_ne!(built, Labels::from([("a", "1")]));
        assert_ne!(built, Labels::from([("a", "1"), ("job", "db")]));
        assert!(Labels::new().is_empty());
    }

    #[test]
    fn displays_in_prometheus_notation() {
        let labels = Labels::from([("job", "a\"b\\c\nd"), ("__name__", "up"), ("a", "1")]);
        assert_eq!(labels.to_string(), r#"up{a="1",job="a\"b\\c\nd"}"#);
        assert_eq!(Labels::from([("a", "1")]).to_string(), r#"{a="1"}"#);
    }
}
