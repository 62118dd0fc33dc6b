//! The label set that relabel rules read and rewrite, kept apart from the generated WIT types so
//! that the rules can be tested natively and the glue only moves strings between the two.
//!
//! It behaves like Prometheus' `labels.Builder`: a missing label reads as the empty string, and
//! setting a label to the empty string deletes it. It stays sorted by name at all times (a label
//! set has about ten labels, so a binary search plus a shifting insert is cheaper than any map),
//! which also makes every result come out in the order the host wants.

/// One label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Label {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A label set: sorted by name, names unique, no empty values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSet {
    labels: Vec<Label>,
}

impl LabelSet {
    /// Takes labels in any order. Empty values are dropped (they mean "absent" in Prometheus);
    /// of a name given twice the last one stays, as if each had been set in turn.
    pub fn new(mut labels: Vec<Label>) -> LabelSet {
        labels.retain(|l| !l.value.is_empty());
        if !labels.is_sorted_by(|a, b| a.name < b.name) {
            // Stable, so that among equal names the last given comes last and survives dedup.
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            labels.dedup_by(|later, earlier| {
                if later.name == earlier.name {
                    std::mem::swap(later, earlier);
                    true
                } else {
                    false
                }
            });
        }
        LabelSet { labels }
    }

    /// Builds a set from `(name, value)` pairs; for tests and examples.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> LabelSet {
        LabelSet::new(pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect())
    }

    /// The value of `name`, or `""` when there is none.
    pub fn get(&self, name: &str) -> &str {
        match self.position(name) {
            Ok(i) => &self.labels[i].value,
            Err(_) => "",
        }
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: &str, value: String) {
        if value.is_empty() {
            return self.delete(name);
        }
        match self.position(name) {
            Ok(i) => self.labels[i].value = value,
            Err(i) => self.labels.insert(
                i,
                Label {
                    name: name.to_owned(),
                    value,
                },
            ),
        }
    }

    pub fn delete(&mut self, name: &str) {
        if let Ok(i) = self.position(name) {
            self.labels.remove(i);
        }
    }

    /// Keeps the labels for which `keep(name)` holds.
    pub fn retain_names(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.labels.retain(|l| keep(&l.name));
    }

    /// The labels in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Label> {
        self.labels.iter()
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The labels in name order.
    pub fn into_vec(self) -> Vec<Label> {
        self.labels
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.labels.binary_search_by(|l| l.name.as_str().cmp(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(set: &LabelSet) -> Vec<(&str, &str)> {
        set.iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect()
    }

    #[test]
    fn new_sorts_drops_empty_values_and_keeps_the_last_duplicate() {
        for (input, want) in [
            (vec![("b", "2"), ("a", "1")], vec![("a", "1"), ("b", "2")]),
            (vec![("a", "1"), ("b", "")], vec![("a", "1")]),
            (
                vec![("b", "x"), ("a", "1"), ("b", "y")],
                vec![("a", "1"), ("b", "y")],
            ),
            (vec![], vec![]),
        ] {
            let set = LabelSet::from_pairs(input.clone());
            assert_eq!(pairs(&set), want, "{input:?}");
        }
    }

    #[test]
    fn get_set_delete() {
        let mut set = LabelSet::from_pairs([("b", "2"), ("d", "4")]);
        assert_eq!(set.get("b"), "2");
        assert_eq!(set.get("c"), "");
        set.set("c", "3".into());
        set.set("a", "1".into());
        set.set("e", "5".into());
        set.set("b", "two".into());
        assert_eq!(
            pairs(&set),
            [("a", "1"), ("b", "two"), ("c", "3"), ("d", "4"), ("e", "5")]
        );
        set.set("c", String::new());
        set.delete("a");
        set.delete("missing");
        assert_eq!(pairs(&set), [("b", "two"), ("d", "4"), ("e", "5")]);
        set.retain_names(|n| n != "d");
        assert_eq!(pairs(&set), [("b", "two"), ("e", "5")]);
        assert_eq!(set.len(), 2);
        assert!(!set.is_empty());
    }
}
