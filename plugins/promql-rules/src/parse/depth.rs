//! Refuses queries nested deeper than [`MAX_NESTING`] before promql-parser sees them.
//!
//! Prometheus has no such limit (goyacc's stack grows on the heap, Go's goroutine stacks up
//! to 1 GB), but this plugin runs in WebAssembly with a fixed stack of well under a MiB, and
//! the parser's tree building, the tree's drop and printing, and the evaluator all recurse
//! once per level of the tree. A trap there would fail every rule of the evaluation; a clear
//! `bad_data` error fails only the query that asked for it.
//!
//! The depth is estimated from the tokens, not the tree: every bracket opens a level, and
//! every operator (binary or unary) adds one to the level it is in, because a chain
//! `a + b + … + z` is a tree as deep as it is long. A comma starts a new argument, whose
//! operators count afresh. The estimate falls short of the tree's depth only for a subquery
//! of a parenthesised expression (`f((x)[1m:])`: three nodes, two brackets open at once), so
//! the tree of whatever passes is at most 3/2 as deep, within the limit the evaluator
//! enforces ([`crate::engine::MAX_DEPTH`]).

use crate::engine::{too_deep, MAX_DEPTH};
use promql_text::{Kind, Token};

/// The deepest nesting accepted, in the estimate's levels.
pub(crate) const MAX_NESTING: usize = MAX_DEPTH * 2 / 3;

pub(super) fn check(tokens: &[Token]) -> Result<(), String> {
    // Per open bracket: the bracket and the operators counted in it so far.
    let mut open: Vec<(&str, usize)> = Vec::new();
    let mut top_level_ops = 0;
    let mut depth = 0;
    for t in tokens.iter().filter(|t| t.significant()) {
        match (t.kind, t.text) {
            (Kind::Punct, "(" | "[" | "{") => {
                open.push((t.text, 0));
                depth += 1;
            }
            (Kind::Punct, ")" | "]" | "}") => {
                if let Some((_, ops)) = open.pop() {
                    depth -= 1 + ops;
                }
            }
            (Kind::Punct, ",") => {
                if let Some((_, ops)) = open.last_mut() {
                    depth -= *ops;
                    *ops = 0;
                }
            }
            _ if is_operator(t) => {
                let ops = match open.last_mut() {
                    // Matchers and durations: `=`, `!=`, `-` there are no tree nodes.
                    Some(("{" | "[", _)) => continue,
                    Some((_, ops)) => ops,
                    None => &mut top_level_ops,
                };
                *ops += 1;
                depth += 1;
            }
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(too_deep(MAX_NESTING));
        }
    }
    Ok(())
}

fn is_operator(t: &Token) -> bool {
    match t.kind {
        Kind::Punct => matches!(
            t.text,
            "+" | "-" | "*" | "/" | "%" | "^" | "==" | "!=" | "<=" | ">=" | "<" | ">"
        ),
        Kind::Word => ["and", "or", "unless", "atan2"]
            .iter()
            .any(|op| t.text.eq_ignore_ascii_case(op)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::MAX_NESTING;
    use crate::engine::{
        too_deep, Engine, Labels, Matcher, Options, Series, Source, Value, MAX_DEPTH,
    };

    /// The stack the plugin's code gets in WebAssembly: wasm-ld gives the shadow stack 1 MiB,
    /// wasmtime compiled frames 512 KiB (`max_wasm_stack`'s default). Half of that for an
    /// optimised build; 1 MiB for a debug build, whose frames are several times larger.
    const STACK: usize = if cfg!(debug_assertions) {
        1 << 20
    } else {
        1 << 18
    };

    struct Empty;

    impl Source for Empty {
        fn select(&mut self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<Series>, String> {
            Ok(vec![Series {
                labels: Labels::from_pairs(&[("__name__", "x")]).to_pairs(),
                timestamps_ms: vec![0],
                values: vec![1.0],
            }])
        }
    }

    /// Parses and evaluates `query` on a thread with [`STACK`] bytes of stack.
    fn run_small(query: String) -> Result<(), String> {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || {
                let engine = Engine::new(Options::default());
                let expr = engine.parse(&query)?;
                let out = engine
                    .instant(&expr, 0, &mut Empty)
                    .map_err(|e| e.to_string())?;
                assert!(!matches!(out.value, Value::String(_)));
                Ok(())
            })
            .expect("thread")
            .join()
            .expect("no stack overflow")
    }

    #[test]
    fn deep_queries_are_refused_before_they_can_overflow_the_stack() {
        let m = MAX_NESTING;
        // Each shape with how many levels one repetition adds.
        type Shape = fn(usize) -> String;
        let shapes: &[(&str, usize, Shape)] = &[
            ("parentheses", 1, |n| {
                format!("{}1{}", "(".repeat(n), ")".repeat(n))
            }),
            ("sum", 1, |n| {
                format!("{}x{}", "sum(".repeat(n), ")".repeat(n))
            }),
            ("unary minus", 1, |n| format!("{}1", "-".repeat(n))),
            ("binary chain", 1, |n| format!("1{}", " + 1".repeat(n))),
            ("power chain", 1, |n| format!("1{}", " ^ 1".repeat(n))),
            ("or chain", 1, |n| format!("x{}", " or x".repeat(n))),
            ("negated parentheses", 2, |n| {
                format!("{}x{}", "-(".repeat(n), ")".repeat(n))
            }),
            ("subqueries", 2, |n| {
                format!("{}x{}", "max_over_time((".repeat(n), ")[1m:])".repeat(n))
            }),
            ("functions", 1, |n| {
                format!("{}x{}", "abs(".repeat(n), ")".repeat(n))
            }),
        ];
        let refused = too_deep(m);
        for (name, per, shape) in shapes {
            let fits = m / per;
            assert_eq!(run_small(shape(fits)), Ok(()), "{name} x{fits}");
            assert_eq!(
                run_small(shape(fits + 1)),
                Err(refused.clone()),
                "{name} x{}",
                fits + 1
            );
            assert_eq!(
                run_small(shape(100_000)),
                Err(refused.clone()),
                "{name} x100000"
            );
        }
        // Long flat queries are not deep: arguments, matchers and durations count apart.
        let wide = [
            format!("x{{{}}}", vec!["a!=\"b\""; 1000].join(",")),
            format!(
                "label_join(x, \"d\", \",\", {})",
                vec!["\"a\""; 1000].join(", ")
            ),
            format!("x offset -5m + {}", vec!["sum(x - 1)"; m / 2].join(" * ")),
            format!(
                "{}1{} # {}",
                "(".repeat(m - 1),
                ")".repeat(m - 1),
                "(".repeat(1000)
            ),
        ];
        for query in wide {
            assert_eq!(run_small(query.clone()), Ok(()), "{query:.60}");
        }
    }

    #[test]
    fn the_evaluator_refuses_deep_trees_it_did_not_parse() {
        let m = MAX_DEPTH;
        let deep = |n| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        let expr = promql_parser::parser::parse(&deep(m + 1)).unwrap();
        let err = Engine::default().instant(&expr, 0, &mut Empty).unwrap_err();
        assert_eq!(err.to_string(), too_deep(m));
        // The evaluator's own limit fits in the stack too.
        let expr = promql_parser::parser::parse(&deep(m)).unwrap();
        let run = std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || Engine::default().instant(&expr, 0, &mut Empty).is_ok())
            .expect("thread");
        assert!(run.join().expect("no stack overflow"));
    }
}
