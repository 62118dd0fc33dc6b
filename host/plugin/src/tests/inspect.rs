//! `PluginRuntime::inspect` on real components: the identity guest fits the target and series
//! stages and is refused for rules and queries with the reason; the stock PromQL plugin fits
//! rules and queries; a core module is refused with what to do.

use super::{runtime, IDENTITY};
use crate::{stock, World};

#[test]
fn each_stage_is_accepted_or_refused_with_the_reason() {
    let identity = runtime().inspect(IDENTITY).unwrap();
    assert_eq!(identity.bytes, IDENTITY.len());
    assert_eq!(identity.sha256.len(), 64);
    assert_eq!(identity.accepted(), [World::Target, World::Series]);
    let (_, rule) = &identity.stages[2];
    assert!(
        rule.as_deref().unwrap_or_default().contains("rule"),
        "{rule:?}"
    );
    assert!(
        identity
            .exports
            .iter()
            .any(|e| e.starts_with("wasmfed:plugin/")),
        "{:?}",
        identity.exports
    );

    let promql = runtime().inspect(stock::PROMQL_RULES).unwrap();
    assert_eq!(promql.accepted(), [World::Rule, World::Query]);
    assert!(
        promql
            .imports
            .iter()
            .any(|i| i.starts_with("wasmfed:plugin/store")),
        "{:?}",
        promql.imports
    );

    let core = runtime().inspect(b"\0asm\x01\0\0\0").unwrap_err();
    assert!(core.to_string().contains("not a component"), "{core}");
}
