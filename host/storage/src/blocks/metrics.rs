//! The blocks' own metrics on `/metrics`, shared (cheap clones) by every tenant's cutting and
//! retention task and the node's telemetry; the gauges sum over tenants.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Default)]
pub struct BlockMetrics {
    pub loaded: Gauge,
    pub bytes: Gauge,
    pub written: Counter,
    pub write_failures: Counter,
    pub compactions: Counter,
    pub compaction_failures: Counter,
    pub time_retentions: Counter,
    pub size_retentions: Counter,
}

impl BlockMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "wasmfed_blocks_loaded",
            "Blocks open for queries (Prometheus' prometheus_tsdb_blocks_loaded).",
            self.loaded.clone(),
        );
        registry.register(
            "wasmfed_blocks_bytes",
            "Bytes of the open blocks' index and chunk files.",
            self.bytes.clone(),
        );
        registry.register(
            "wasmfed_blocks_written",
            "Blocks written from the head.",
            self.written.clone(),
        );
        registry.register(
            "wasmfed_block_write_failures",
            "Failed attempts to write a block from the head; the head keeps the samples.",
            self.write_failures.clone(),
        );
        registry.register(
            "wasmfed_block_compactions",
            "Compactions run: blocks merged into a larger one.",
            self.compactions.clone(),
        );
        registry.register(
            "wasmfed_block_compaction_failures",
            "Failed compactions; the parent blocks stay and are tried again.",
            self.compaction_failures.clone(),
        );
        registry.register(
            "wasmfed_block_time_retentions",
            "Blocks deleted by time retention.",
            self.time_retentions.clone(),
        );
        registry.register(
            "wasmfed_block_size_retentions",
            "Blocks deleted by size retention.",
            self.size_retentions.clone(),
        );
    }

    /// Runs `change` on one tenant's `blocks` and moves the gauges by what it changed, so
    /// they add up over all tenants.
    pub fn track<T>(&self, blocks: &super::Blocks, change: impl FnOnce() -> T) -> T {
        let (len, size) = (blocks.len() as i64, blocks.size() as i64);
        let out = change();
        self.loaded.inc_by(blocks.len() as i64 - len);
        self.bytes.inc_by(blocks.size() as i64 - size);
        out
    }
}
