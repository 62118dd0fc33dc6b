//! Scrape timestamps on a fixed grid: a timer tick a millisecond or two off its slot is
//! written at the slot, as Prometheus writes it, so steady targets compress as well as in
//! Prometheus' chunks.

/// Scrape times this close to the ideal grid are snapped to it, as Prometheus does: timer jitter
/// would otherwise cost delta-of-delta bits on every sample.
const ALIGN_TOLERANCE_MS: i64 = 2;

/// Snaps `now_ms` to the grid `aligned_ms + k * interval_ms` when within the tolerance (and the
/// interval is long enough for 2 ms to be negligible), advancing the grid past skipped ticks.
///
/// The tolerance holds on both sides of a grid point. Prometheus snaps late ticks only, its
/// grid starting just before its ticker so Go's ticks are never early; wasmfed's grid starts at
/// the first scrape, itself up to a timer tick late, so a later tick may come a millisecond
/// *before* its grid point. Snapping only late ticks left a quarter of timestamps 1 ms off
/// (999/1001 ms apart): delta-of-delta bits on every sample, 15% more chunk bytes than
/// Prometheus on node_exporter's mostly constant values (bench/block_bytes.py).
pub(super) fn aligned_scrape_time(aligned_ms: &mut i64, now_ms: i64, interval_ms: i64) -> i64 {
    if interval_ms <= 100 * ALIGN_TOLERANCE_MS {
        return now_ms;
    }
    while now_ms - *aligned_ms >= interval_ms - ALIGN_TOLERANCE_MS {
        *aligned_ms += interval_ms;
    }
    if now_ms - *aligned_ms <= ALIGN_TOLERANCE_MS {
        *aligned_ms
    } else {
        now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_times_snap_to_the_grid_within_tolerance() {
        let mut grid = 10_000;
        for (now, want) in [
            (10_000, 10_000),
            (11_001, 11_000),
            (12_002, 12_000),
            (13_003, 13_003),
            (15_001, 15_000), // a skipped tick
            (15_999, 16_000), // a tick a little early
            (16_998, 17_000),
            (17_997, 17_997),
            (19_500, 19_500),
            (19_999, 20_000),
        ] {
            assert_eq!(aligned_scrape_time(&mut grid, now, 1000), want, "at {now}");
        }
        let mut grid = 0;
        assert_eq!(
            aligned_scrape_time(&mut grid, 101, 100),
            101,
            "short intervals are not snapped"
        );
    }
}
