//! Storage: the in-memory head of series, their index and their compressed samples.
//!
//! Shaped after Prometheus' TSDB head, trimmed to what a federation node needs:
//! - `head`: the store itself — sharded series, a catalog of identities, retention;
//! - `series`: one series' chunks and the append rules (out of order, duplicates);
//! - [`chunk`] over `bstream`: Gorilla XOR chunks, byte-compatible with Prometheus'; full
//!   ones packed into shared pages, in `chunks_head/` files when there is a storage path;
//! - `symbols`, `index` and `lookup`: interned label strings, the inverted index for
//!   matchers, and the label-set hash map that finds a series by its labels;
//! - [`matcher`] and [`selector`]: label matchers and PromQL series-selector parsing.
//!
//! - [`blocks`]: the immutable blocks (Prometheus' format) that hold what is older than the
//!   head, cut from it by `head::persist` or found in a Prometheus data directory;
//! - [`wal`]: the write-ahead log that makes the head survive a restart — the head hands it
//!   every new series and stored sample, and it replays them into a fresh head at start-up.

pub mod blocks;
mod bstream;
pub mod chunk;
pub mod every;
mod head;
mod index;
pub mod latest;
mod lookup;
pub mod matcher;
pub mod metadata;
pub mod selector;
mod series;
mod symbols;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod wal;

/// Robustness tests bound the heap a damaged log or a selector may take.
#[cfg(test)]
#[global_allocator]
static METER: wasmfed_alloc_meter::Meter = wasmfed_alloc_meter::Meter;

pub use blocks::Blocks;
pub use head::batch::{BatchOutcome, BatchRefused};
pub use head::federation::{LatestSamples, LatestSeries};
pub use head::{
    Appender, ChunkTail, Floor, Head, HeadStats, Mark, SeriesHandle, SeriesRef, Stat, StoreClock,
    SHARDS,
};
pub use matcher::{MatchOp, Matcher};
pub use selector::{parse_selector, SelectorError};
pub use series::AppendError;
