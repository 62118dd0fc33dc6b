//! Wall-clock time as Prometheus counts it: signed integers since the Unix epoch. Every stage
//! stamps samples, slots and reports this one way, so a scrape's timestamp, a rule's slot and
//! a retention cut agree to the millisecond.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch; negative before it.
pub fn unix_nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i64,
        Err(e) => -(e.duration().as_nanos() as i64),
    }
}

/// Milliseconds since the Unix epoch, rounded down (also before it).
pub fn unix_millis(t: SystemTime) -> i64 {
    unix_nanos(t).div_euclid(1_000_000)
}

/// Whole seconds since the Unix epoch, rounded down.
pub fn unix_seconds(t: SystemTime) -> i64 {
    unix_nanos(t).div_euclid(1_000_000_000)
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    unix_millis(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn times_round_down_on_both_sides_of_the_epoch() {
        let cases = [
            (UNIX_EPOCH, 0, 0, 0),
            (
                UNIX_EPOCH + Duration::from_nanos(1_999_999),
                1_999_999,
                1,
                0,
            ),
            (
                UNIX_EPOCH + Duration::from_millis(1_500),
                1_500_000_000,
                1_500,
                1,
            ),
            (UNIX_EPOCH - Duration::from_nanos(1), -1, -1, -1),
            (
                UNIX_EPOCH - Duration::from_millis(1_500),
                -1_500_000_000,
                -1_500,
                -2,
            ),
        ];
        for (t, ns, ms, s) in cases {
            assert_eq!(
                (unix_nanos(t), unix_millis(t), unix_seconds(t)),
                (ns, ms, s),
                "{t:?}"
            );
        }
    }
}
