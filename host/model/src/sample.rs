//! Samples and Prometheus' staleness marker.
//!
//! Prometheus marks "this series ended" with one particular NaN bit pattern. Ordinary NaNs are
//! valid sample values, so the marker must be compared by bits, never with `is_nan`.

/// The bit pattern of Prometheus' stale marker (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The stale marker as a float. Never compare it with `==`: use [`is_stale_nan`].
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is the stale marker (and not just any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One value at one time, timestamps in milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub timestamp_ms: i64,
    pub value: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_told_apart_from_other_nans() {
        assert!(is_stale_nan(STALE_NAN));
        assert!(!is_stale_nan(f64::NAN));
        assert!(!is_stale_nan(1.0));
    }
}
