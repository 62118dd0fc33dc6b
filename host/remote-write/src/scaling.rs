//! How many shards a queue runs: Prometheus' calculation (`calculateDesiredShards` in
//! `storage/remote/queue_manager.go`), which sizes the shards to the rate samples come in at
//! plus a twentieth of the backlog per second, measured by how long sending a sample takes.
//! Prometheus estimates the backlog from the newest timestamp appended and the newest sent;
//! wasmfed counts it: the log's unread bytes at the bytes per sample read so far, plus what the
//! shards hold. The rate in is the log's (samples written to it), not the queue's reading,
//! which a slow receiver holds back.
//!
//! Rates are exponentially weighted moving averages over 10-second ticks (weight 0.2), as
//! Prometheus' `ewmaRate`. A change within 30% of the current count is not worth a reshard
//! (which waits for every shard to drain), and a queue more than 10 s behind never shrinks.

/// Prometheus' `shardUpdateDuration`.
pub(crate) const UPDATE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
const EWMA_WEIGHT: f64 = 0.2;
const TOLERANCE: f64 = 0.3;
const CATCHUP_SHARE: f64 = 0.05;
const NO_SHRINK_BEHIND_S: f64 = 10.0;

/// An exponentially weighted rate of a counter, updated once per tick.
#[derive(Debug, Default)]
pub(crate) struct Ewma {
    rate: Option<f64>,
    last: f64,
}

impl Ewma {
    /// Feeds the counter's current total, `elapsed_s` after the previous tick.
    pub fn tick(&mut self, total: f64, elapsed_s: f64) {
        let instant = (total - self.last).max(0.0) / elapsed_s.max(1e-3);
        self.last = total;
        self.rate = Some(match self.rate {
            None => instant,
            Some(r) => r + EWMA_WEIGHT * (instant - r),
        });
    }

    pub fn rate(&self) -> f64 {
        self.rate.unwrap_or(0.0)
    }
}

/// What one tick measured.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rates {
    /// Samples written to the log per second.
    pub samples_in: f64,
    /// Samples sent per second.
    pub samples_out: f64,
    /// Samples dropped by relabeling per second.
    pub samples_dropped: f64,
    /// Seconds spent sending per second, summed over shards.
    pub send_seconds: f64,
    /// Samples logged and not yet sent.
    pub pending: f64,
}

/// The shards the queue wants (as a float, for `shards_desired`) and the count to run:
/// `None` to keep the current one.
pub(crate) fn desired_shards(
    r: &Rates,
    current: usize,
    min: usize,
    max: usize,
) -> (f64, Option<usize>) {
    if r.samples_out <= 0.0 {
        return (current as f64, None);
    }
    let kept = r.samples_out / (r.samples_out + r.samples_dropped);
    let time_per_sample = r.send_seconds / r.samples_out;
    let pending = r.pending.max(0.0) * kept;
    let desired = time_per_sample * (r.samples_in * kept + CATCHUP_SHARE * pending);
    let behind_s = match r.samples_in > 0.0 {
        true => pending / (r.samples_in * kept),
        false => 0.0,
    };
    let (lower, upper) = (
        current as f64 * (1.0 - TOLERANCE),
        current as f64 * (1.0 + TOLERANCE),
    );
    if (lower..=upper).contains(&desired) {
        return (desired, None);
    }
    let mut shards = desired.ceil() as usize;
    if shards < current && behind_s > NO_SHRINK_BEHIND_S {
        return (desired, None);
    }
    shards = shards.clamp(min.max(1), max.max(min).max(1));
    (desired, (shards != current).then_some(shards))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `behind_s`: the backlog, in seconds of samples coming in.
    fn rates(samples_in: f64, send_seconds: f64, behind_s: f64) -> Rates {
        Rates {
            samples_in,
            samples_out: samples_in,
            samples_dropped: 0.0,
            send_seconds,
            pending: behind_s * samples_in,
        }
    }

    #[test]
    fn shards_follow_the_time_sending_takes_and_the_backlog() {
        // (rates, current, min, max) -> new count
        let cases = [
            // 10k samples/s, sending takes 1 shard-second per second: one shard is right.
            (rates(10_000.0, 1.0, 1.0), 1, 1, 200, None),
            // Sending takes 4 shard-seconds per second: four shards (five a second behind).
            (rates(10_000.0, 4.0, 0.0), 1, 1, 200, Some(4)),
            (rates(10_000.0, 4.0, 1.0), 1, 1, 200, Some(5)),
            // A minute behind adds 5% of the backlog per second: 4 * (1 + 0.05 * 60) = 16.
            (rates(10_000.0, 4.0, 60.0), 4, 1, 200, Some(16)),
            // Capped at max_shards.
            (rates(10_000.0, 4.0, 60.0), 4, 1, 8, Some(8)),
            // Idle: 10 shards want 0.5: down to min_shards.
            (rates(1_000.0, 0.05, 1.0), 10, 2, 200, Some(2)),
            // Behind by more than 10 s: never fewer.
            (rates(1_000.0, 0.05, 30.0), 10, 1, 200, None),
            // Within 30%: no reshard.
            (rates(10_000.0, 3.5, 0.0), 3, 1, 200, None),
        ];
        for (r, current, min, max, want) in cases {
            let (_, got) = desired_shards(&r, current, min, max);
            assert_eq!(got, want, "{r:?} current {current}");
        }
    }

    #[test]
    fn nothing_sent_keeps_the_count() {
        assert_eq!(desired_shards(&Rates::default(), 3, 1, 10), (3.0, None));
    }

    #[test]
    fn rates_are_smoothed() {
        let mut e = Ewma::default();
        e.tick(100.0, 10.0);
        assert_eq!(e.rate(), 10.0);
        e.tick(300.0, 10.0);
        assert!((e.rate() - 12.0).abs() < 1e-9);
    }
}
