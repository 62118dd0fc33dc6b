//! The features this engine leaves out, and how to recognise a test case that needs one.
//! A case is skipped only for a reason listed here; everything else must pass.

use promql_parser::parser::Expr;
use promql_rules::engine::selector_matchers;

use super::script::Eval;
use super::storage::Storage;

/// A reason to skip a case: its category (for the summary) and the case's particulars.
pub struct Skip {
    pub reason: &'static str,
    pub detail: String,
}

/// Expressions Prometheus parses but this engine's parser refuses, by file and line, with
/// why. Any other parse error of a case that expects success is a failure.
const PARSE_REJECTIONS: &[(&str, usize, &str)] = &[];

/// Functions the engine does not implement, with why.
const UNSUPPORTED_FUNCTIONS: &[(&str, &str)] = &[(
    "info",
    "experimental info() (joins info metrics; not needed by recording rules)",
)];

pub fn reason(
    file: &str,
    eval: &Eval,
    parsed: &Result<Expr, String>,
    storage: &Storage,
) -> Option<Skip> {
    if eval.native_syntax {
        return Some(Skip {
            reason: "native histograms: expected values use {{…}} syntax",
            detail: String::new(),
        });
    }
    if raw_byte_escape(&eval.query) {
        return Some(Skip {
            reason: "string escapes of non-UTF-8 bytes (\\xNN above 7f): promql-parser decodes them as characters, Go keeps the invalid bytes",
            detail: String::new(),
        });
    }
    let expr = match parsed {
        Ok(e) => e,
        Err(e) => {
            return PARSE_REJECTIONS
                .iter()
                .find(|(f, line, _)| *f == file && *line == eval.line)
                .map(|(_, _, why)| Skip {
                    reason: why,
                    detail: e.clone(),
                })
        }
    };
    let mut found = None;
    walk(expr, &mut |e| {
        if found.is_some() {
            return;
        }
        match e {
            Expr::Call(c) => {
                if let Some((_, why)) = UNSUPPORTED_FUNCTIONS
                    .iter()
                    .find(|(n, _)| *n == c.func.name)
                {
                    found = Some(Skip {
                        reason: why,
                        detail: String::new(),
                    });
                }
            }
            Expr::VectorSelector(vs) => found = native_reads(storage, vs),
            Expr::MatrixSelector(ms) => found = native_reads(storage, &ms.vs),
            _ => {}
        }
    });
    found
}

/// A `\xNN` escape with NN ≥ 0x80 in the query.
fn raw_byte_escape(query: &str) -> bool {
    query.match_indices("\\x").any(|(i, _)| {
        query
            .get(i + 2..i + 4)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .is_some_and(|b| b >= 0x80)
    })
}

fn native_reads(storage: &Storage, vs: &promql_parser::parser::VectorSelector) -> Option<Skip> {
    let matchers = selector_matchers(vs).ok()?;
    storage.selects_native(&matchers).then(|| Skip {
        reason: "native histograms: the query reads series holding native histogram samples",
        detail: vs.to_string(),
    })
}

/// Calls `f` on every node of `e`, parents first.
pub fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                walk(p, f);
            }
            walk(&a.expr, f);
        }
        Expr::Unary(u) => walk(&u.expr, f),
        Expr::Binary(b) => {
            walk(&b.lhs, f);
            walk(&b.rhs, f);
        }
        Expr::Paren(p) => walk(&p.expr, f),
        Expr::Subquery(s) => walk(&s.expr, f),
        Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, f)),
        _ => {}
    }
}
