//! Per-plugin counters, kept as plain atomics so calls from many threads never contend on them
//! and an exporter (the node's `/metrics`) can read them at any time without a lock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::error::FailureKind;

#[derive(Debug, Default)]
pub struct PluginStats {
    calls: AtomicU64,
    failures: [AtomicU64; FailureKind::ALL.len()],
    call_nanos: AtomicU64,
    fuel_used: AtomicU64,
    instantiations: AtomicU64,
    init_failures: AtomicU64,
    swaps: AtomicU64,
    swap_refusals: AtomicU64,
}

impl PluginStats {
    /// Calls of `process`, failed ones included.
    pub fn calls(&self) -> u64 {
        self.calls.load(Relaxed)
    }

    /// Failed calls of `process` of one kind.
    pub fn failures(&self, kind: FailureKind) -> u64 {
        self.failures[kind.index()].load(Relaxed)
    }

    /// Wall time spent in `process`, including waiting for and making instances.
    pub fn call_time(&self) -> Duration {
        Duration::from_nanos(self.call_nanos.load(Relaxed))
    }

    /// Fuel consumed by `process` and `init` calls, including failed ones.
    pub fn fuel_used(&self) -> u64 {
        self.fuel_used.load(Relaxed)
    }

    /// Instances created, the first one included; each failed call costs one more.
    pub fn instantiations(&self) -> u64 {
        self.instantiations.load(Relaxed)
    }

    /// Instances that could not be started (instantiation or `init` failed), at load or when
    /// replacing a failed instance.
    pub fn init_failures(&self) -> u64 {
        self.init_failures.load(Relaxed)
    }

    /// Components swapped in (hot-loaded or promoted from the shadow).
    pub fn swaps(&self) -> u64 {
        self.swaps.load(Relaxed)
    }

    /// Components refused at a swap (their instance or `init` failed).
    pub fn swap_refusals(&self) -> u64 {
        self.swap_refusals.load(Relaxed)
    }

    pub(crate) fn record_swap(&self) {
        self.swaps.fetch_add(1, Relaxed);
    }

    pub(crate) fn record_swap_refused(&self) {
        self.swap_refusals.fetch_add(1, Relaxed);
    }

    pub(crate) fn record_call(&self, elapsed: Duration, failure: Option<FailureKind>) {
        self.calls.fetch_add(1, Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.call_nanos.fetch_add(nanos, Relaxed);
        if let Some(kind) = failure {
            self.failures[kind.index()].fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn record_fuel(&self, fuel: u64) {
        self.fuel_used.fetch_add(fuel, Relaxed);
    }

    pub(crate) fn record_instantiation(&self, ok: bool) {
        self.instantiations.fetch_add(1, Relaxed);
        if !ok {
            self.init_failures.fetch_add(1, Relaxed);
        }
    }
}
