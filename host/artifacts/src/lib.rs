//! Components for wasmfed's tests: hostile and probing test guests, and the custom-plugin
//! examples as users build them. Only tests depend on this crate, so a release build of the
//! node builds the stock plugins alone.

/// Passes label sets through, except `drop_me` (dropped), `fail_me` (fails the call),
/// `loop_me` and `grow_me` (never return / allocate forever). Series and target worlds.
pub const IDENTITY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/identity.wasm"));
/// Built for wasm32-wasip2 as users' default tooling does; reports what the sandbox lets it see.
pub const PROBE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/probe.wasm"));
/// A rule plugin that misbehaves on request (traps, loops, floods its answer).
pub const RULE_HOSTILE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/rule-hostile.wasm"));
/// `examples/rendezvous-shard`: a target plugin choosing shards by rendezvous hashing.
pub const RENDEZVOUS_SHARD: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/rendezvous-shard.wasm"));
/// `examples/cardinality-report`: a rule plugin reporting the largest metrics.
pub const CARDINALITY_REPORT: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cardinality-report.wasm"));
