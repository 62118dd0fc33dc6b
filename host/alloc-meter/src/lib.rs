//! How much heap a piece of code takes at its peak, for robustness tests that must show a
//! parser's memory is bounded by its input (issue #22: "no unbounded allocation"): a length
//! field damaged to claim gigabytes must be refused, not allocated.
//!
//! A test binary installs [`Meter`] as its global allocator; [`peak_during`] then answers the
//! most bytes live at once on the calling thread while a closure ran, above what was live
//! when it started. Counting is per thread, so tests running in parallel do not see each
//! other's allocations; memory freed by another thread than the one that took it is counted
//! where it was freed (the bound then only gets looser, never tighter).
//!
//! Test-only: it is a dev-dependency and nothing in the node uses it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting the calling thread's live bytes.
pub struct Meter;

thread_local! {
    // `const` initialisers: reading them never allocates, which an allocator must not do.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: isize) {
    // `try_with`: during thread teardown the slots may be gone; such bytes go uncounted.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + bytes;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counting touches only
// thread-local cells that never allocate.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Runs `f` and answers its result and the most heap bytes it had live at once on this thread
/// (0 unless [`Meter`] is the global allocator).
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get);
    (out, (peak - start).max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static METER: Meter = Meter;

    #[test]
    fn peaks_are_measured_and_released_memory_does_not_count() {
        let (_, peak) = peak_during(|| {
            let a = vec![0u8; 1 << 20];
            drop(a);
            let b = vec![0u8; 1 << 16];
            b.len()
        });
        assert!((1 << 20..(1 << 20) + 4096).contains(&peak), "{peak}");
        let (_, none) = peak_during(|| 1 + 1);
        assert_eq!(none, 0);
    }
}
