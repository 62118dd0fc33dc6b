//! Which group an aggregation's input sample belongs to: `by (...)`/`without (...)`
//! ([`Grouping`]), the groups of one step in order of first appearance ([`Groups`]), and, for
//! the `sum`-like operators, groups remembered by an aggregation node across the steps of a
//! range query ([`NodeGroups`]).
//!
//! A step's input is mostly the very label sets of the step before (a selection's series,
//! shared by reference), so a node finds their group by the label set's address, without
//! hashing its labels again; an address is remembered with the set itself, which keeps it from
//! being reused by another set. Label sets made afresh at each step (by `label_replace`, say)
//! stop being remembered past a bound, and are grouped by their signature's bytes as before.

use promql_parser::parser::LabelModifier;

use super::labels::{Labels, METRIC_NAME};
use super::numeric::FastMap;

/// `by (...)` or `without (...)`, labels sorted.
pub(super) struct Grouping {
    pub(super) without: bool,
    /// For `by`, the labels kept; for `without`, the labels dropped, the metric name included.
    pub(super) labels: Vec<String>,
}

impl Grouping {
    pub(super) fn new(modifier: &Option<LabelModifier>) -> Grouping {
        let (without, mut labels) = match modifier {
            Some(LabelModifier::Include(l)) => (false, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (true, l.labels.clone()),
            None => (false, vec![]),
        };
        if without {
            labels.push(METRIC_NAME.to_string());
        }
        labels.sort();
        labels.dedup();
        Grouping { without, labels }
    }

    pub(super) fn key(&self, metric: &Labels, buf: &mut Vec<u8>) {
        buf.clear();
        metric.write_signature(&self.labels, !self.without, buf);
    }

    pub(super) fn labels_of(&self, metric: &Labels) -> Labels {
        if self.without {
            metric.drop(&self.labels)
        } else {
            metric.keep(&self.labels)
        }
    }
}

/// Maps samples to groups in order of first appearance.
pub(super) struct Groups {
    index: FastMap<Vec<u8>, usize>,
    buf: Vec<u8>,
}

impl Groups {
    pub(super) fn new() -> Groups {
        Groups {
            index: FastMap::default(),
            buf: Vec::new(),
        }
    }

    /// The group of `metric` and whether it is new.
    pub(super) fn of(&mut self, grouping: &Grouping, metric: &Labels) -> (usize, bool) {
        grouping.key(metric, &mut self.buf);
        if let Some(&g) = self.index.get(self.buf.as_slice()) {
            return (g, false);
        }
        let g = self.index.len();
        self.index.insert(self.buf.clone(), g);
        (g, true)
    }
}

/// An aggregation node's groups across steps; see the module documentation.
#[derive(Default)]
pub(crate) struct NodeGroups {
    /// Label set address → the set (kept alive) and its group.
    by_address: FastMap<usize, (Labels, usize)>,
    by_signature: FastMap<Vec<u8>, usize>,
    /// Each group's output labels.
    labels: Vec<Labels>,
    buf: Vec<u8>,
    /// Most addresses remembered: a few steps' worth of the largest input seen.
    address_limit: usize,
}

/// The aggregation nodes' groups of one evaluation, by node.
#[derive(Default)]
pub(crate) struct GroupMemo(FastMap<usize, NodeGroups>);

impl GroupMemo {
    /// The groups of the node at `node` (an `AggregateExpr`'s address), for an input of `len`.
    pub(super) fn node(&mut self, node: usize, len: usize) -> &mut NodeGroups {
        let groups = self.0.entry(node).or_default();
        groups.address_limit = groups.address_limit.max(4 * len + 1024);
        groups
    }
}

impl NodeGroups {
    /// The group of `metric`, numbered across the node's steps.
    pub(super) fn group(&mut self, grouping: &Grouping, metric: &Labels) -> usize {
        if let Some((_, g)) = self.by_address.get(&metric.address()) {
            return *g;
        }
        grouping.key(metric, &mut self.buf);
        let g = match self.by_signature.get(self.buf.as_slice()) {
            Some(&g) => g,
            None => {
                let g = self.labels.len();
                self.by_signature.insert(self.buf.clone(), g);
                self.labels.push(grouping.labels_of(metric));
                g
            }
        };
        if self.by_address.len() < self.address_limit {
            self.by_address
                .insert(metric.address(), (metric.clone(), g));
        }
        g
    }

    /// Group `g`'s output labels.
    pub(super) fn labels(&self, g: usize) -> Labels {
        self.labels[g].clone()
    }

    pub(super) fn len(&self) -> usize {
        self.labels.len()
    }
}
