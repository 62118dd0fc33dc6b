//! What the query language itself lets through, by [`Compat`]: the functions and aggregations
//! each release knows, experimental ones behind their switch, and the UTF-8 syntax (quoted
//! metric and label names) that only Prometheus 3 reads.
//!
//! promql-parser follows a recent Prometheus and knows neither `holt_winters` nor a switch
//! for experimental functions, so both checks happen around it: on the tokens before parsing
//! (quoted names, whose quotes the tree forgets; `holt_winters`, which the parser would
//! refuse) and on the tree after.

use promql_parser::parser::Expr;

use crate::engine::{Compat, Options};
use promql_text::{Kind, Token};

/// The functions of Prometheus 2.42 (`promql/parser/functions.go` at v2.42.0), with
/// `double_exponential_smoothing` standing for `holt_winters`, which the tokens pass renames
/// (the two are the same function).
const PROMETHEUS_2_FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "exp",
    "floor",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_sum",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Aggregations Prometheus 3 keeps behind `promql-experimental-functions` (and 2.42 lacks).
const EXPERIMENTAL_AGGREGATIONS: &[&str] = &["limitk", "limit_ratio"];

fn unknown_function(name: &str) -> String {
    format!("unknown function with name {name:?}")
}

/// Checks on the tokens, then the text promql-parser gets: in 2.x mode `holt_winters` becomes
/// `double_exponential_smoothing`, and the latter as written is unknown.
pub(super) fn check_tokens(tokens: &[Token], compat: Compat) -> Result<(), String> {
    if compat == Compat::V3 {
        return Ok(());
    }
    let significant: Vec<&Token> = tokens.iter().filter(|t| t.significant()).collect();
    // Which bracket each position is in: a string right after `{` or `,` in braces, or in
    // the parentheses of `by`/`on`/…, is a quoted name, not a matcher's value.
    let mut open: Vec<(&str, bool)> = Vec::new();
    for (i, t) in significant.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| significant[p]);
        match (t.kind, t.text) {
            (Kind::Punct, "{") => open.push(("{", false)),
            (Kind::Punct, "(") => {
                let grouping = prev.is_some_and(|p| {
                    p.kind == Kind::Word
                        && [
                            "by",
                            "without",
                            "on",
                            "ignoring",
                            "group_left",
                            "group_right",
                        ]
                        .contains(&p.text.to_ascii_lowercase().as_str())
                });
                open.push(("(", grouping));
            }
            (Kind::Punct, "[") => open.push(("[", false)),
            (Kind::Punct, "}" | ")" | "]") => {
                open.pop();
            }
            (Kind::Str { .. }, text) => {
                let after_separator = prev.is_some_and(|p| matches!(p.text, "{" | "," | "("));
                match open.last() {
                    Some(("{", _)) if after_separator => {
                        return Err(format!(
                            "unexpected string {text:?} in label matching, expected identifier or \"}}\""
                        ))
                    }
                    Some(("(", true)) if after_separator => {
                        return Err(format!(
                            "unexpected string {text:?} in grouping opts, expected label"
                        ))
                    }
                    _ => {}
                }
            }
            (Kind::Word, "double_exponential_smoothing")
                if significant.get(i + 1).is_some_and(|n| n.text == "(") =>
            {
                return Err(unknown_function(t.text))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The name 2.x mode gives promql-parser for a token that is a call to `holt_winters`.
pub(super) fn renamed<'a>(tokens: &[Token<'a>], i: usize, compat: Compat) -> Option<&'a str> {
    let t = tokens[i];
    let calls = || {
        tokens[i + 1..]
            .iter()
            .find(|n| n.significant())
            .is_some_and(|n| n.text == "(")
    };
    (compat == Compat::V2 && t.kind == Kind::Word && t.text == "holt_winters" && calls())
        .then_some("double_exponential_smoothing")
}

/// Checks on the parsed tree: functions and aggregations the release does not have or keeps
/// behind the experimental switch.
pub(super) fn check_expr(expr: &Expr, opts: &Options) -> Result<(), String> {
    let mut err = None;
    visit(expr, &mut |e| {
        if err.is_some() {
            return;
        }
        match (e, opts.compat) {
            (Expr::Call(c), Compat::V2) if !PROMETHEUS_2_FUNCTIONS.contains(&c.func.name) => {
                err = Some(unknown_function(c.func.name));
            }
            (Expr::Call(c), Compat::V3) if c.func.experimental && !opts.experimental_functions => {
                err = Some(format!("function {:?} is not enabled", c.func.name));
            }
            (Expr::Aggregate(a), compat) => {
                let op = a.op.to_string();
                if !EXPERIMENTAL_AGGREGATIONS.contains(&op.as_str()) {
                    return;
                }
                err = match compat {
                    Compat::V2 => Some(unknown_function(&op)),
                    Compat::V3 if !opts.experimental_functions => Some(format!(
                        "{op}() is experimental and must be enabled with --enable-feature=promql-experimental-functions"
                    )),
                    Compat::V3 => None,
                };
            }
            _ => {}
        }
    });
    err.map_or(Ok(()), Err)
}

/// Calls `f` on every node of `e`, parents first.
pub(super) fn visit(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                visit(p, f);
            }
            visit(&a.expr, f);
        }
        Expr::Unary(u) => visit(&u.expr, f),
        Expr::Binary(b) => {
            visit(&b.lhs, f);
            visit(&b.rhs, f);
        }
        Expr::Paren(p) => visit(&p.expr, f),
        Expr::Subquery(s) => visit(&s.expr, f),
        Expr::Call(c) => c.args.args.iter().for_each(|a| visit(a, f)),
        Expr::MatrixSelector(_)
        | Expr::VectorSelector(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::Extension(_) => {}
    }
}
