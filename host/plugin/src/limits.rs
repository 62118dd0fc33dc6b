//! The budget every plugin call runs under, and the store limiter that enforces its memory part.
//!
//! CPU is bounded with wasmtime *fuel* rather than an epoch deadline: fuel counts guest work,
//! not wall time, so the same batch passes or fails the same way on an idle machine and on a
//! loaded one. That matters because series-stage answers are cached as pure functions of their
//! input, and because these machines are shared (an epoch deadline would fail batches whenever
//! the node is busy). Fuel also needs no ticker thread and yields "fuel used" per call for
//! free. The overhead of either is within noise on real plugin calls (measured in
//! `benches/plugin.rs`, figures in `plugin/mod.rs`).
//!
//! Memory is capped over all linear memories of a store together (a component may have
//! several), and growing past the cap traps at once instead of letting `memory.grow` return
//! -1: a guest that handles a failed allocation itself would otherwise report something
//! misleading. The limiter remembers that it refused, which is how a call is classified as a
//! memory failure whatever shape the failure took afterwards.

use wasmtime::ResourceLimiter;

/// Limits for one plugin; every call gets the full budget afresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PluginLimits {
    /// Fuel for one call (and for `init`): about one unit per WebAssembly instruction.
    pub fuel_per_call: u64,
    /// Cap on the guest's linear memory, all memories of the instance together.
    pub memory_bytes: usize,
    /// Cap on the labels one call may return, over all returned sets.
    pub max_output_labels: usize,
    /// Cap on the host memory one call's result may take while it is copied out of the guest
    /// (wasmtime's "hostcall fuel": 48 bytes per label plus string bytes). It bounds what a
    /// guest can make the host allocate by returning the same data many times over.
    pub max_output_bytes: usize,
    /// Cap on the samples one rule evaluation or query may return.
    pub max_output_samples: usize,
}

impl Default for PluginLimits {
    /// 64 MiB of memory; at most 1M samples from a rule or query; fuel for about 50 ms of guest work (straight-line WebAssembly burns
    /// ~7 fuel/ns here; a bare `loop br`, the cheapest way to spin, ~2 fuel/ns and is stopped
    /// after ~200 ms); 10M labels and 256 MiB of output. The identity plugin spends ~9M fuel
    /// on 1,000 series of 10 labels, so a batch of a few thousand series of a relabeling
    /// plugin fits; larger series batches should be split by the caller.
    fn default() -> Self {
        PluginLimits {
            fuel_per_call: 350_000_000,
            memory_bytes: 64 << 20,
            max_output_labels: 10_000_000,
            max_output_bytes: 256 << 20,
            max_output_samples: 1_000_000,
        }
    }
}

impl PluginLimits {
    /// The default for rule and query plugins, which read whole stores rather than one batch
    /// of labels: fuel for a few seconds of guest work (the stock `promql-rules` evaluates 20
    /// typical rules over 100k series in well under a second) and 1 GiB of memory, which also
    /// caps what one `store.select` may return.
    pub fn rules() -> Self {
        PluginLimits {
            fuel_per_call: 20_000_000_000,
            memory_bytes: 1 << 30,
            ..PluginLimits::default()
        }
    }
}

/// Fuel for one second of ordinary guest work (straight-line WebAssembly burns ~7 fuel/ns
/// here, see [`PluginLimits::default`]).
pub const FUEL_PER_SECOND: u64 = 7_000_000_000;

impl PluginLimits {
    /// The query plugin's: as [`PluginLimits::rules`], with fuel for `timeout` of guest work
    /// (so a query that runs out of fuel is one that would have run out of time, whatever its
    /// size) and as many samples out as `--query.max-samples` lets a query hold.
    pub fn query(timeout: std::time::Duration, max_samples: u64) -> Self {
        let rules = PluginLimits::rules();
        let for_timeout = (timeout.as_secs_f64() * FUEL_PER_SECOND as f64) as u64;
        PluginLimits {
            fuel_per_call: rules.fuel_per_call.max(for_timeout),
            max_output_samples: usize::try_from(max_samples)
                .unwrap_or(usize::MAX)
                .max(rules.max_output_samples),
            ..rules
        }
    }

    /// These limits with a tenant's overrides (memory, fuel, output) applied.
    pub fn for_tenant(self, tenant: &wasmfed_config::TenantLimits) -> Self {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        PluginLimits {
            fuel_per_call: tenant.plugin_fuel.unwrap_or(self.fuel_per_call),
            memory_bytes: tenant.plugin_memory.map_or(self.memory_bytes, size),
            max_output_labels: tenant
                .plugin_max_output_labels
                .map_or(self.max_output_labels, size),
            ..self
        }
    }
}

/// Table slots a guest may have (8 bytes of host memory each); real guests use hundreds.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The store's resource limiter: a total memory cap that records whether it ever said no.
pub(crate) struct MemoryCap {
    cap: usize,
    used: usize,
    /// The last growth granted, taken back if the grow then failed for another reason.
    last_grant: usize,
    denied: bool,
}

impl MemoryCap {
    pub(crate) fn new(cap: usize) -> Self {
        MemoryCap {
            cap,
            used: 0,
            last_grant: 0,
            denied: false,
        }
    }

    /// Bytes of memory (and tables) granted so far.
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// Whether a grow was refused since the last call to this method.
    pub(crate) fn take_denied(&mut self) -> bool {
        std::mem::take(&mut self.denied)
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Beyond the memory's own declared maximum the grow fails as the spec says (-1),
        // which is the guest's business, not a breach of our cap.
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        let grow = desired.saturating_sub(current);
        match self.used.checked_add(grow) {
            Some(total) if total <= self.cap => {
                self.used = total;
                self.last_grant = grow;
                Ok(true)
            }
            _ => {
                self.denied = true;
                Err(wasmtime::format_err!(
                    "plugin memory cap of {} bytes reached (asked for {desired} bytes in one memory, {} in use)",
                    self.cap,
                    self.used
                ))
            }
        }
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.used -= std::mem::take(&mut self.last_grant);
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 64 << 10;

    #[test]
    fn memory_cap_counts_all_memories_together() {
        // (current, desired, maximum) grows in order, and whether each is granted.
        let steps: [(usize, usize, Option<usize>, bool); 5] = [
            (0, 2 * PAGE, None, true),
            (0, PAGE, None, true),        // a second memory: 3 pages in use
            (PAGE, 2 * PAGE, None, true), // 4 pages: exactly the cap
            (2 * PAGE, 3 * PAGE, None, false), // 5 pages: refused
            (0, 9 * PAGE, Some(PAGE), false), // beyond its own maximum: refused, not a breach
        ];
        let mut cap = MemoryCap::new(4 * PAGE);
        let mut denials = Vec::new();
        for (current, desired, maximum, granted) in steps {
            let got = matches!(cap.memory_growing(current, desired, maximum), Ok(true));
            assert_eq!(got, granted, "{current} -> {desired}");
            denials.push(cap.take_denied());
        }
        assert_eq!(denials, [false, false, false, true, false]);
    }

    #[test]
    fn a_failed_grant_is_taken_back() {
        let mut cap = MemoryCap::new(2 * PAGE);
        assert!(cap.memory_growing(0, 2 * PAGE, None).unwrap());
        cap.memory_grow_failed(wasmtime::format_err!("mmap failed"))
            .unwrap();
        assert!(cap.memory_growing(0, 2 * PAGE, None).unwrap());
    }

    #[test]
    fn tables_are_capped() {
        let mut cap = MemoryCap::new(PAGE);
        assert!(cap.table_growing(0, 100, None).unwrap());
        assert!(!cap.table_growing(0, MAX_TABLE_ELEMENTS + 1, None).unwrap());
        assert!(!cap.table_growing(0, 100, Some(10)).unwrap());
    }
}
