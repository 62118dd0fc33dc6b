//! Binary operators: arithmetic, comparison and set operators between scalars and vectors,
//! with Prometheus' vector matching (`on`/`ignoring`, `group_left`/`group_right`, `bool`,
//! `fill`).
//!
//! A port of `VectorBinop`, `VectorAnd`/`Or`/`Unless`, `VectorscalarBinop` and `resultMetric`
//! from Prometheus' `promql/engine.go`, on one evaluation step. Matching works on signatures:
//! each sample's matching labels as bytes, looked up in a map that lives for the step, so a
//! step costs O(n) hash lookups and allocates only for distinct signatures.

use promql_parser::parser::token::TokenType;
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD,
    T_MUL, T_NEQ, T_POW, T_SUB,
};
use promql_parser::parser::{BinModifier, LabelModifier, VectorMatchCardinality};

use super::labels::{Labels, METRIC_NAME};
use super::numeric::{FastMap, FastSet};
use super::value::Sample;
use super::{Compat, EvalError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub fn from_token(op: TokenType) -> Result<BinOp, EvalError> {
        Ok(match op.id() {
            T_ADD => BinOp::Add,
            T_SUB => BinOp::Sub,
            T_MUL => BinOp::Mul,
            T_DIV => BinOp::Div,
            T_MOD => BinOp::Mod,
            T_POW => BinOp::Pow,
            T_ATAN2 => BinOp::Atan2,
            T_EQLC => BinOp::Eq,
            T_NEQ => BinOp::Ne,
            T_GTR => BinOp::Gt,
            T_LSS => BinOp::Lt,
            T_GTE => BinOp::Ge,
            T_LTE => BinOp::Le,
            T_LAND => BinOp::And,
            T_LOR => BinOp::Or,
            T_LUNLESS => BinOp::Unless,
            _ => return Err(EvalError::Unsupported(format!("binary operator {op}"))),
        })
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le
        )
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// Arithmetic changes what the metric means, so its name goes (`shouldDropMetricName`);
    /// 2.42 keeps it after `atan2`, which 3.0 added to the list.
    fn changes_metric_schema(self, compat: Compat) -> bool {
        match self {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow | BinOp::Mod => true,
            BinOp::Atan2 => compat == Compat::V3,
            _ => false,
        }
    }

    /// The value and whether to keep the element (`vectorElemBinop` for floats): comparisons
    /// keep the left value when true.
    fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            BinOp::Add => (l + r, true),
            BinOp::Sub => (l - r, true),
            BinOp::Mul => (l * r, true),
            BinOp::Div => (l / r, true),
            BinOp::Mod => (l % r, true),
            BinOp::Pow => (l.powf(r), true),
            BinOp::Atan2 => (l.atan2(r), true),
            BinOp::Eq => (l, l == r),
            BinOp::Ne => (l, l != r),
            BinOp::Gt => (l, l > r),
            BinOp::Lt => (l, l < r),
            BinOp::Ge => (l, l >= r),
            BinOp::Le => (l, l <= r),
            BinOp::And | BinOp::Or | BinOp::Unless => (l, true),
        }
    }
}

/// Between two scalars; comparisons (which the parser only allows with `bool`) give 0 or 1.
pub(crate) fn scalar_binop(op: BinOp, l: f64, r: f64) -> f64 {
    let (v, keep) = op.apply(l, r);
    if op.is_comparison() {
        f64::from(u8::from(keep))
    } else {
        v
    }
}

/// Between a vector and a scalar; `swap` when the scalar is on the left.
pub(crate) fn vector_scalar(
    op: BinOp,
    vector: Vec<Sample>,
    scalar: f64,
    swap: bool,
    return_bool: bool,
    delayed_name_removal: bool,
    compat: Compat,
) -> Vec<Sample> {
    let mut out = Vec::with_capacity(vector.len());
    for mut sample in vector {
        let (l, r) = if swap {
            (scalar, sample.value)
        } else {
            (sample.value, scalar)
        };
        let (mut value, mut keep) = op.apply(l, r);
        // A comparison keeps the vector's value whichever side it is on.
        if op.is_comparison() && swap {
            value = r;
        }
        if return_bool {
            value = f64::from(u8::from(keep));
            keep = true;
        }
        if !keep {
            continue;
        }
        sample.value = value;
        if op.changes_metric_schema(compat) || return_bool {
            if !delayed_name_removal {
                sample.metric = sample.metric.without_metric_name();
            }
            sample.drop_name = true;
        }
        out.push(sample);
    }
    out
}

/// How two vectors' samples are paired.
pub(crate) struct Matching {
    card: Card,
    /// `on(...)` rather than `ignoring(...)`.
    on: bool,
    /// The `on`/`ignoring` labels.
    labels: Vec<String>,
    /// The labels signatures are built from: for `ignoring`, the metric name too. Sorted.
    sig_labels: Vec<String>,
    /// The `group_left`/`group_right` labels copied from the "one" side.
    include: Vec<String>,
    fill_lhs: Option<f64>,
    fill_rhs: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

impl Matching {
    pub fn new(modifier: Option<&BinModifier>, set_op: bool) -> Matching {
        let (card, include) = match modifier.map(|m| &m.card) {
            Some(VectorMatchCardinality::ManyToOne(l)) => (Card::ManyToOne, l.labels.clone()),
            Some(VectorMatchCardinality::OneToMany(l)) => (Card::OneToMany, l.labels.clone()),
            Some(VectorMatchCardinality::ManyToMany) => (Card::ManyToMany, vec![]),
            _ if set_op => (Card::ManyToMany, vec![]),
            _ => (Card::OneToOne, vec![]),
        };
        let (on, labels) = match modifier.and_then(|m| m.matching.as_ref()) {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, vec![]),
        };
        let mut sig_labels = labels.clone();
        if !on {
            sig_labels.push(METRIC_NAME.to_string());
        }
        sig_labels.sort();
        sig_labels.dedup();
        let fill = modifier.map(|m| &m.fill_values);
        Matching {
            card,
            on,
            labels,
            sig_labels,
            include,
            fill_lhs: fill.and_then(|f| f.lhs),
            fill_rhs: fill.and_then(|f| f.rhs),
        }
    }

    fn signature(&self, metric: &Labels, buf: &mut Vec<u8>) {
        buf.clear();
        metric.write_signature(&self.sig_labels, self.on, buf);
    }

    /// The labels the signature is built from (`MatchLabels`).
    fn matched_labels(&self, metric: &Labels) -> Labels {
        if self.on {
            metric.keep(&self.sig_labels)
        } else {
            metric.drop(&self.sig_labels)
        }
    }
}

/// Assigns each sample of both sides the ordinal of its signature.
fn ordinals(
    matching: &Matching,
    lhs: &[Sample],
    rhs: &[Sample],
) -> (Vec<usize>, Vec<usize>, usize) {
    let mut by_sig: FastMap<Vec<u8>, usize> = FastMap::default();
    let mut buf = Vec::new();
    let mut assign = |side: &[Sample]| -> Vec<usize> {
        side.iter()
            .map(|s| {
                matching.signature(&s.metric, &mut buf);
                let next = by_sig.len();
                match by_sig.get(buf.as_slice()) {
                    Some(&ord) => ord,
                    None => {
                        by_sig.insert(buf.clone(), next);
                        next
                    }
                }
            })
            .collect()
    };
    let l = assign(lhs);
    let r = assign(rhs);
    let n = by_sig.len();
    (l, r, n)
}

/// `and`, `or`, `unless`.
pub(crate) fn set_op(
    op: BinOp,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    matching: &Matching,
) -> Vec<Sample> {
    match op {
        BinOp::And if lhs.is_empty() || rhs.is_empty() => return vec![],
        BinOp::Or if lhs.is_empty() => return rhs,
        BinOp::Or | BinOp::Unless if rhs.is_empty() => return lhs,
        BinOp::Unless if lhs.is_empty() => return vec![],
        _ => {}
    }
    let (lo, ro, n) = ordinals(matching, &lhs, &rhs);
    match op {
        BinOp::Or => {
            let mut left_present = vec![false; n];
            for &o in &lo {
                left_present[o] = true;
            }
            let mut out = lhs;
            out.extend(
                rhs.into_iter()
                    .zip(ro)
                    .filter(|(_, o)| !left_present[*o])
                    .map(|(s, _)| s),
            );
            out
        }
        _ => {
            let mut right_present = vec![false; n];
            for &o in &ro {
                right_present[o] = true;
            }
            let want = op == BinOp::And;
            lhs.into_iter()
                .zip(lo)
                .filter(|(_, o)| right_present[*o] == want)
                .map(|(s, _)| s)
                .collect()
        }
    }
}

/// Arithmetic and comparison between two vectors (`VectorBinop`).
pub(crate) fn vector_vector(
    op: BinOp,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    matching: &Matching,
    return_bool: bool,
    delayed_name_removal: bool,
    compat: Compat,
) -> Result<Vec<Sample>, EvalError> {
    let no_fill = matching.fill_lhs.is_none() && matching.fill_rhs.is_none();
    if (lhs.is_empty() && rhs.is_empty()) || ((lhs.is_empty() || rhs.is_empty()) && no_fill) {
        return Ok(vec![]);
    }
    let swapped = matching.card == Card::OneToMany;
    // From here on the right side is the "one" side.
    let (lhs, rhs) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let (lo, ro, n) = ordinals(matching, &lhs, &rhs);

    let mut right: Vec<Option<usize>> = vec![None; n];
    for (j, &o) in ro.iter().enumerate() {
        if let Some(prev) = right[o] {
            return Err(duplicate_on_one_side(
                matching, &rhs[j], &rhs[prev], swapped,
            ));
        }
        right[o] = Some(j);
    }

    let mut pair = Pairing {
        op,
        matching,
        return_bool,
        drop_metric_name: !delayed_name_removal && return_bool,
        compat,
        swapped,
        matched_one: vec![false; n],
        matched_many: vec![None; n],
        out: Vec::with_capacity(lhs.len()),
    };
    for (i, l) in lhs.iter().enumerate() {
        let o = lo[i];
        match right[o] {
            Some(j) => pair.combine(l, &rhs[j], o)?,
            None => {
                if let Some(fill) = matching.fill_rhs {
                    let filler = fill_sample(matching, l, fill);
                    pair.combine(l, &filler, o)?;
                }
            }
        }
    }
    if let Some(fill) = matching.fill_lhs {
        for (j, r) in rhs.iter().enumerate() {
            let o = ro[j];
            let matched = match matching.card {
                Card::OneToOne => pair.matched_one[o],
                _ => pair.matched_many[o].as_ref().is_some_and(|s| !s.is_empty()),
            };
            if !matched {
                let filler = fill_sample(matching, r, fill);
                pair.combine(&filler, r, o)?;
            }
        }
    }
    Ok(pair.out)
}

fn fill_sample(matching: &Matching, other: &Sample, value: f64) -> Sample {
    Sample {
        metric: matching.matched_labels(&other.metric),
        value,
        drop_name: false,
    }
}

fn duplicate_on_one_side(matching: &Matching, a: &Sample, b: &Sample, swapped: bool) -> EvalError {
    let side = if swapped { "left" } else { "right" };
    let (mut d1, mut d2) = (a.metric.to_string(), b.metric.to_string());
    if d1 > d2 {
        std::mem::swap(&mut d1, &mut d2);
    }
    EvalError::Query(format!(
        "found duplicate series for the match group {} on the {side} hand-side of the operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side",
        matching.matched_labels(&a.metric)
    ))
}

/// The state of one `VectorBinop` step.
struct Pairing<'m> {
    op: BinOp,
    matching: &'m Matching,
    return_bool: bool,
    drop_metric_name: bool,
    compat: Compat,
    swapped: bool,
    matched_one: Vec<bool>,
    /// Per signature, the result label sets already produced (many-to-one).
    matched_many: Vec<Option<FastSet<Labels>>>,
    out: Vec<Sample>,
}

impl Pairing<'_> {
    /// `doBinOp`: `many` is the many (or left) side, `one` the one (or right) side.
    fn combine(&mut self, many: &Sample, one: &Sample, ordinal: usize) -> Result<(), EvalError> {
        let (l, r) = if self.swapped {
            (one.value, many.value)
        } else {
            (many.value, one.value)
        };
        let (mut value, keep) = self.op.apply(l, r);
        if self.return_bool {
            value = f64::from(u8::from(keep));
        }
        // 2.42 looks for duplicate matches only among the pairs a comparison keeps.
        if self.compat == Compat::V2 && !keep && !self.return_bool {
            return Ok(());
        }
        let metric = self.result_metric(&many.metric, &one.metric);
        if self.matching.card == Card::OneToOne {
            if self.matched_one[ordinal] {
                return Err(EvalError::Query(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
            self.matched_one[ordinal] = true;
        } else {
            let seen = self.matched_many[ordinal].get_or_insert_with(FastSet::default);
            if !seen.insert(metric.clone()) {
                return Err(EvalError::Query(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                        .into(),
                ));
            }
        }
        if keep || self.return_bool {
            self.out.push(Sample {
                metric,
                value,
                drop_name: self.return_bool,
            });
        }
        Ok(())
    }

    /// `resultMetric`.
    fn result_metric(&self, many: &Labels, one: &Labels) -> Labels {
        let mut metric = if self.drop_metric_name || self.op.changes_metric_schema(self.compat) {
            many.without_metric_name()
        } else {
            many.clone()
        };
        if self.matching.card == Card::OneToOne {
            metric = if self.matching.on {
                metric.keep(&self.matching.labels)
            } else {
                metric.drop(&self.matching.labels)
            };
        }
        for name in &self.matching.include {
            metric = metric.with(name, one.value(name));
        }
        metric
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            metric: Labels::from_pairs(pairs),
            value,
            drop_name: false,
        }
    }

    fn text(v: &[Sample]) -> Vec<String> {
        v.iter()
            .map(|s| format!("{} {}", s.metric, s.value))
            .collect()
    }

    #[test]
    fn scalar_ops() {
        let cases = [
            (BinOp::Add, 1.0, 2.0, 3.0),
            (BinOp::Mod, -7.0, 3.0, -1.0),
            (BinOp::Pow, 2.0, 10.0, 1024.0),
            (BinOp::Gt, 2.0, 1.0, 1.0),
            (BinOp::Le, 2.0, 1.0, 0.0),
        ];
        for (op, l, r, want) in cases {
            assert_eq!(scalar_binop(op, l, r), want, "{op:?}");
        }
    }

    #[test]
    fn vector_scalar_comparison_keeps_vector_value_and_name() {
        let v = vec![
            s(&[("__name__", "x"), ("a", "1")], 5.0),
            s(&[("__name__", "x"), ("a", "2")], 1.0),
        ];
        let out = vector_scalar(BinOp::Lt, v.clone(), 3.0, true, false, false, Compat::V3);
        assert_eq!(text(&out), [r#"{__name__="x", a="1"} 5"#]);
        let out = vector_scalar(BinOp::Mul, v, 2.0, false, false, false, Compat::V3);
        assert_eq!(text(&out), [r#"{a="1"} 10"#, r#"{a="2"} 2"#]);
    }

    #[test]
    fn atan2_drops_the_name_from_3_0() {
        let v = vec![s(&[("__name__", "x")], 0.0)];
        let cases = [(Compat::V2, r#"{__name__="x"} 0"#), (Compat::V3, "{} 0")];
        for (compat, want) in cases {
            let out = vector_scalar(BinOp::Atan2, v.clone(), 1.0, false, false, false, compat);
            assert_eq!(text(&out), [want], "{compat:?}");
        }
    }

    #[test]
    fn one_to_one_ignores_metric_name() {
        let m = Matching::new(None, false);
        let l = vec![
            s(&[("__name__", "a"), ("i", "1")], 6.0),
            s(&[("__name__", "a"), ("i", "2")], 1.0),
        ];
        let r = vec![s(&[("__name__", "b"), ("i", "1")], 2.0)];
        let out = vector_vector(BinOp::Div, l, r, &m, false, false, Compat::V3).unwrap();
        assert_eq!(text(&out), [r#"{i="1"} 3"#]);
    }

    #[test]
    fn duplicate_on_the_one_side_is_an_error() {
        let modifier = BinModifier::default().with_matching(Some(LabelModifier::include(vec![])));
        let m = Matching::new(Some(&modifier), false);
        let l = vec![s(&[("__name__", "s")], 3.0)];
        let r = vec![
            s(&[("__name__", "d"), ("l", "b")], 1.0),
            s(&[("__name__", "d"), ("l", "a")], 1.0),
        ];
        let err = vector_vector(BinOp::Gt, l, r, &m, false, false, Compat::V3).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"found duplicate series for the match group {} on the right hand-side of the operation: [{__name__="d", l="a"}, {__name__="d", l="b"}];many-to-many matching not allowed: matching labels must be unique on one side"#
        );
    }

    /// Two left samples match one right sample `on()`: an error, unless (in 2.42) the
    /// comparison filters out all but one of the pairs.
    #[test]
    fn many_matches_of_one_are_counted_after_the_filter_in_2_42() {
        let modifier = BinModifier::default().with_matching(Some(LabelModifier::include(vec![])));
        let m = Matching::new(Some(&modifier), false);
        let l = vec![s(&[("l", "a")], 1.0), s(&[("l", "b")], 5.0)];
        let r = vec![s(&[("r", "x")], 2.0)];
        let v2 = vector_vector(
            BinOp::Lt,
            l.clone(),
            r.clone(),
            &m,
            false,
            false,
            Compat::V2,
        );
        assert_eq!(text(&v2.unwrap()), ["{} 1"]);
        for (op, compat) in [(BinOp::Lt, Compat::V3), (BinOp::Add, Compat::V2)] {
            let err = vector_vector(op, l.clone(), r.clone(), &m, false, false, compat);
            assert!(err.is_err(), "{op:?} {compat:?}");
        }
    }

    #[test]
    fn set_operators() {
        let m = Matching::new(None, true);
        let l = vec![
            s(&[("__name__", "a"), ("i", "1")], 1.0),
            s(&[("__name__", "a"), ("i", "2")], 2.0),
        ];
        let r = vec![
            s(&[("__name__", "b"), ("i", "2")], 9.0),
            s(&[("__name__", "b"), ("i", "3")], 9.0),
        ];
        assert_eq!(
            text(&set_op(BinOp::And, l.clone(), r.clone(), &m)),
            [r#"{__name__="a", i="2"} 2"#]
        );
        assert_eq!(
            text(&set_op(BinOp::Unless, l.clone(), r.clone(), &m)),
            [r#"{__name__="a", i="1"} 1"#]
        );
        assert_eq!(
            text(&set_op(BinOp::Or, l, r, &m)),
            [
                r#"{__name__="a", i="1"} 1"#,
                r#"{__name__="a", i="2"} 2"#,
                r#"{__name__="b", i="3"} 9"#
            ]
        );
    }
}
