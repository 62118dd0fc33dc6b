//! Scraping: from configured jobs to samples in storage.
//!
//! `discovery` finds a job's target groups, `target` turns each into labels and a URL,
//! `manager` keeps one `scrape_loop` running per target, `fetch` does the HTTP, `parse` reads
//! the exposition, `honor` merges target labels into series labels, `ingest` stores the
//! result with its stale markers, `every_sample` asks a wasmfed leaf for every sample, and `metadata` keeps what the `# TYPE`/`# HELP` lines said.

pub mod capture;
pub mod discovery;
pub mod every_sample;
pub mod fetch;
pub mod ha;
pub mod handover;
pub mod honor;
pub mod ingest;
pub mod manager;
pub mod metadata;
pub mod parse;
pub mod recording;
pub mod relabel_debug;
pub mod remote_read;
pub mod scrape_loop;
pub mod stages;
pub mod target;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use manager::{ActiveTarget, ScrapeManager, TargetsView};
pub use scrape_loop::{Health, LoopContext};
