//! Label sets as the evaluator handles them: immutable, sorted by name, cheap to clone.
//!
//! Evaluation copies label sets constantly (every sample of every intermediate vector carries
//! one), so a set is a reference-counted slice of reference-counted strings: cloning a set, or
//! building a new set from parts of old ones (dropping the metric name, keeping the `by` labels),
//! never copies string bytes. Names and values repeat across series, so they are interned
//! ([`Interner`]).
//!
//! Ordering, equality and the text form (`{a="b", c="d"}` with Go quoting) follow Prometheus'
//! `labels.Labels`, because result order and error messages are part of PromQL's observable
//! behaviour.

use std::cmp::Ordering;
use std::fmt;
use std::rc::Rc;

use super::format::go_quote;
use super::numeric::FastSet;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// Labels that describe the metric rather than the series (`schema.IsMetadataLabel`); they go
/// away together whenever PromQL drops the metric name.
const METADATA_LABELS: [&str; 3] = [METRIC_NAME, "__type__", "__unit__"];

/// One label. Ordered by name, then value, as in Prometheus.
#[derive(Clone, Debug)]
pub struct Label {
    pub name: Rc<str>,
    pub value: Rc<str>,
}

/// Interned strings are usually the very same allocation: compare pointers before bytes.
fn same(a: &Rc<str>, b: &Rc<str>) -> bool {
    Rc::ptr_eq(a, b) || **a == **b
}

fn order(a: &Rc<str>, b: &Rc<str>) -> Ordering {
    if Rc::ptr_eq(a, b) {
        Ordering::Equal
    } else {
        a.cmp(b)
    }
}

impl PartialEq for Label {
    fn eq(&self, other: &Label) -> bool {
        same(&self.name, &other.name) && same(&self.value, &other.value)
    }
}

impl Eq for Label {}

impl std::hash::Hash for Label {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.value.hash(state);
    }
}

impl Ord for Label {
    fn cmp(&self, other: &Label) -> Ordering {
        order(&self.name, &other.name).then_with(|| order(&self.value, &other.value))
    }
}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Label) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A label set: sorted by name, names unique, no empty values.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Rc<[Label]>);

impl Labels {
    /// Where this set's labels live: the same for its clones, different for any other set
    /// alive at the same time.
    pub(crate) fn address(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// Builds a set from labels in any order; empty values are dropped and, for duplicate names,
    /// the last one wins (as Prometheus' `labels.Builder` does).
    pub fn from_labels(mut labels: Vec<Label>) -> Labels {
        let canonical = labels.windows(2).all(|w| w[0].name < w[1].name)
            && labels.iter().all(|l| !l.value.is_empty());
        if canonical {
            return Labels(labels.into());
        }
        labels.retain(|l| !l.value.is_empty());
        labels.reverse();
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        labels.dedup_by(|later, earlier| later.name == earlier.name);
        Labels(labels.into())
    }

    /// Builds a set from name/value pairs (convenient in tests and at boundaries).
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Labels {
        Labels::from_labels(
            pairs
                .iter()
                .map(|(n, v)| Label {
                    name: n.as_ref().into(),
                    value: v.as_ref().into(),
                })
                .collect(),
        )
    }

    pub fn empty() -> Labels {
        Labels::default()
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

    /// The value of `name`, or `None` when the set lacks it.
    pub fn get(&self, name: &str) -> Option<&str> {
        // Sets are short: a scan that compares lengths first beats a binary search's string
        // comparisons.
        self.0
            .iter()
            .find(|l| l.name.len() == name.len() && *l.name == *name)
            .map(|l| &*l.value)
    }

    /// The value of `name`, or `""` when the set lacks it (PromQL treats both alike).
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// The set without the metric name and the other metadata labels (`DropReserved`); the
    /// same allocation when there is nothing to drop.
    pub fn without_metric_name(&self) -> Labels {
        if !self.0.iter().any(|l| is_metadata(&l.name)) {
            return self.clone();
        }
        Labels(
            self.0
                .iter()
                .filter(|l| !is_metadata(&l.name))
                .cloned()
                .collect(),
        )
    }

    /// Only the labels named in `names`.
    pub fn keep(&self, names: &[String]) -> Labels {
        self.filter(|name| names.iter().any(|n| n == name))
    }

    /// The labels not named in `names`.
    pub fn drop(&self, names: &[String]) -> Labels {
        self.filter(|name| !names.iter().any(|n| n == name))
    }

    fn filter(&self, keep: impl Fn(&str) -> bool) -> Labels {
        if self.0.iter().all(|l| keep(&l.name)) {
            return self.clone();
        }
        Labels(self.0.iter().filter(|l| keep(&l.name)).cloned().collect())
    }

    /// The set with `name` set to `value` (removed when `value` is empty).
    pub fn with(&self, name: &str, value: &str) -> Labels {
        let mut labels: Vec<Label> = self
            .0
            .iter()
            .filter(|l| &*l.name != name)
            .cloned()
            .collect();
        if !value.is_empty() {
            let at = labels.partition_point(|l| &*l.name < name);
            labels.insert(
                at,
                Label {
                    name: name.into(),
                    value: value.into(),
                },
            );
        }
        Labels(labels.into())
    }

    /// Appends the identity of the labels selected by `names` to `buf`: with `on`, the labels
    /// named; otherwise the labels not named. Two sets agree on those labels exactly when
    /// their signatures are equal (a missing label and an absent one are the same, as label
    /// values are never empty).
    pub fn write_signature(&self, names: &[String], on: bool, buf: &mut Vec<u8>) {
        for l in self.0.iter() {
            if names.iter().any(|n| **n == *l.name) == on {
                buf.extend_from_slice(l.name.as_bytes());
                buf.push(0xff);
                buf.extend_from_slice(l.value.as_bytes());
                buf.push(0xff);
            }
        }
    }

    /// Appends the whole set's identity to `buf` (see [`Labels::write_signature`]).
    pub fn write_identity(&self, buf: &mut Vec<u8>) {
        for l in self.0.iter() {
            buf.extend_from_slice(l.name.as_bytes());
            buf.push(0xff);
            buf.extend_from_slice(l.value.as_bytes());
            buf.push(0xff);
        }
    }

    /// Name/value pairs as owned strings, for the boundary to the host.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect()
    }
}

fn is_metadata(name: &str) -> bool {
    METADATA_LABELS.contains(&name)
}

impl fmt::Display for Labels {
    /// Prometheus' `labels.Labels.String()`: `{a="b", c="d"}`, values Go-quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={}", l.name, go_quote(&l.value))?;
        }
        f.write_str("}")
    }
}

/// Shares one allocation per distinct label name and value: label values repeat across series
/// (every series of a job carries its name), so looking a string up costs less than
/// allocating and later freeing a copy. Series arrive in label order, so a label is most
/// often the same as the previous series' label at the same position, which is checked
/// before hashing.
#[derive(Default)]
pub struct Interner {
    strings: FastSet<Rc<str>>,
    previous: Vec<Label>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Rc<str> {
        if let Some(existing) = self.strings.get(s) {
            return existing.clone();
        }
        let s: Rc<str> = s.into();
        self.strings.insert(s.clone());
        s
    }

    /// Converts a label set from the data source, which may be unsorted.
    pub fn labels(&mut self, pairs: Vec<(String, String)>) -> Labels {
        let labels: Vec<Label> = pairs
            .into_iter()
            .enumerate()
            .map(|(i, (n, v))| match self.previous.get(i) {
                Some(p) if *p.name == *n && *p.value == *v => p.clone(),
                Some(p) if *p.name == *n => Label {
                    name: p.name.clone(),
                    value: self.intern(&v),
                },
                _ => Label {
                    name: self.intern(&n),
                    value: self.intern(&v),
                },
            })
            .collect();
        self.previous.clone_from(&labels);
        Labels::from_labels(labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_sorts_drops_empty_and_keeps_last_duplicate() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "{}"),
            (&[("b", "2"), ("a", "1")], r#"{a="1", b="2"}"#),
            (&[("a", ""), ("b", "x")], r#"{b="x"}"#),
            (&[("a", "1"), ("a", "2")], r#"{a="2"}"#),
            (&[("q", "say \"hi\"\n")], r#"{q="say \"hi\"\n"}"#),
        ];
        for (pairs, want) in cases {
            assert_eq!(Labels::from_pairs(pairs).to_string(), *want, "{pairs:?}");
        }
    }

    #[test]
    fn derived_sets() {
        let l = Labels::from_pairs(&[
            ("__name__", "x"),
            ("__type__", "counter"),
            ("job", "a"),
            ("i", "1"),
        ]);
        assert_eq!(l.without_metric_name().to_string(), r#"{i="1", job="a"}"#);
        assert_eq!(l.keep(&["job".into()]).to_string(), r#"{job="a"}"#);
        assert_eq!(
            l.drop(&["job".into(), "__type__".into()]).to_string(),
            r#"{__name__="x", i="1"}"#
        );
        assert_eq!(
            l.with("i", "").to_string(),
            r#"{__name__="x", __type__="counter", job="a"}"#
        );
        assert_eq!(l.with("k", "v").get("k"), Some("v"));
        assert_eq!(l.value("missing"), "");
    }

    #[test]
    fn signatures_agree_exactly_on_selected_labels() {
        let a = Labels::from_pairs(&[("__name__", "x"), ("job", "a"), ("i", "1")]);
        let b = Labels::from_pairs(&[("__name__", "y"), ("job", "a"), ("i", "2")]);
        let sig = |l: &Labels, names: &[&str], on: bool| {
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            let mut buf = Vec::new();
            l.write_signature(&names, on, &mut buf);
            buf
        };
        assert_eq!(sig(&a, &["job"], true), sig(&b, &["job"], true));
        assert_ne!(sig(&a, &["__name__"], false), sig(&b, &["__name__"], false));
        assert_eq!(
            sig(&a, &["__name__", "i"], false),
            sig(&b, &["__name__", "i"], false)
        );
    }

    #[test]
    fn order_is_prometheus_label_order() {
        let mut sets = [
            Labels::from_pairs(&[("a", "2")]),
            Labels::from_pairs(&[("a", "1"), ("b", "1")]),
            Labels::from_pairs(&[("a", "1")]),
        ];
        sets.sort();
        let text: Vec<String> = sets.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, [r#"{a="1"}"#, r#"{a="1", b="1"}"#, r#"{a="2"}"#]);
    }
}
