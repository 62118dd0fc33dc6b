//! When a rule group evaluates: at fixed slots of its interval, shifted by a phase taken from
//! the group's identity, exactly as Prometheus' `Group.EvalTimestamp` places them.
//!
//! The phase is `hash(file, name) % interval`, where the hash is Prometheus' label-set hash
//! (XXH64 of `file\xff<file>\xffname\xff<name>\xff`, the "slice labels" encoding Prometheus 2.x
//! hashes; Prometheus 3's default string-labels build hashes another encoding, so its phases
//! differ). The same group in wasmfed and in the Prometheus it replaces therefore evaluates at
//! the same instants, which is what lets their recorded series be compared point by point,
//! and different groups spread over the interval instead of all firing at once.

use std::time::Duration;

use xxhash_rust::xxh64::xxh64;

/// A rule group's identity: the file it came from and its name (Prometheus' `GroupKey`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub file: String,
    pub name: String,
}

impl GroupKey {
    /// Prometheus' `rule_group` label value: `file;name`.
    pub fn label(&self) -> String {
        format!("{};{}", self.file, self.name)
    }

    /// Prometheus' `Group.hash`: the hash of the label set `{file=…, name=…}`.
    fn hash(&self) -> u64 {
        let mut bytes = Vec::with_capacity(self.file.len() + self.name.len() + 12);
        for (name, value) in [("file", &self.file), ("name", &self.name)] {
            bytes.extend_from_slice(name.as_bytes());
            bytes.push(0xff);
            bytes.extend_from_slice(value.as_bytes());
            bytes.push(0xff);
        }
        xxh64(&bytes, 0)
    }
}

/// The group's slots: `phase + k * interval`, in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slots {
    interval_ns: i64,
    phase_ns: i64,
}

impl Slots {
    pub fn new(key: &GroupKey, interval: Duration) -> Slots {
        let interval_ns = interval.as_nanos().clamp(1, i64::MAX as u128) as i64;
        Slots {
            interval_ns,
            phase_ns: (key.hash() % interval_ns as u64) as i64,
        }
    }

    pub fn interval_ns(&self) -> i64 {
        self.interval_ns
    }

    /// The latest slot at or before `now_ns` (Prometheus' `EvalTimestamp`).
    pub fn at_or_before(&self, now_ns: i64) -> i64 {
        let adjusted = now_ns - self.phase_ns;
        adjusted - adjusted.rem_euclid(self.interval_ns) + self.phase_ns
    }

    /// The slot after `slot` to evaluate at, given the time is `now_ns`: the next one, or, when
    /// evaluations fell behind, the latest one that has passed, with how many were skipped
    /// (Prometheus counts them as missed iterations).
    pub fn next_after(&self, slot: i64, now_ns: i64) -> (i64, u64) {
        let behind = (now_ns - slot) / self.interval_ns - 1;
        let missed = behind.max(0);
        (slot + (missed + 1) * self.interval_ns, missed as u64)
    }
}

/// An evaluation time in milliseconds, as rules see it: Prometheus evaluates at the slot's
/// time truncated to milliseconds.
pub fn slot_ms(slot_ns: i64) -> i64 {
    slot_ns.div_euclid(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(file: &str, name: &str) -> GroupKey {
        GroupKey {
            file: file.into(),
            name: name.into(),
        }
    }

    #[test]
    fn the_hash_is_xxh64_of_the_label_set_bytes() {
        // XXH64 of the empty input with seed 0 is the published test vector.
        assert_eq!(xxh64(b"", 0), 0xef46db3751d8e999);
        let k = key("rules.yml", "node");
        assert_eq!(k.hash(), xxh64(b"file\xffrules.yml\xffname\xffnode\xff", 0));
        assert_ne!(k.hash(), key("rules.yml", "other").hash());
        assert_eq!(k.label(), "rules.yml;node");
    }

    #[test]
    fn slots_are_phase_shifted_multiples_of_the_interval() {
        let k = key("/etc/prometheus/node.rules", "node");
        let interval = Duration::from_secs(15);
        let slots = Slots::new(&k, interval);
        let phase = (k.hash() % 15_000_000_000) as i64;
        assert_eq!(slots.phase_ns, phase);
        let now = 1_700_000_000_123_456_789i64;
        let slot = slots.at_or_before(now);
        assert!(slot <= now && now - slot < 15_000_000_000, "{slot} {now}");
        assert_eq!((slot - phase).rem_euclid(15_000_000_000), 0);
        // A slot is its own latest slot.
        assert_eq!(slots.at_or_before(slot), slot);
        assert_eq!(slots.at_or_before(slot - 1), slot - 15_000_000_000);
    }

    #[test]
    fn falling_behind_skips_to_the_latest_passed_slot() {
        let slots = Slots::new(&key("f", "g"), Duration::from_secs(10));
        let s = slots.at_or_before(1_000_000_000_000);
        let i = 10_000_000_000;
        let cases = [
            // (now, next slot, missed)
            (s + 1, s + i, 0),
            (s + i + 5, s + i, 0),
            (s + 2 * i + 5, s + 2 * i, 1),
            (s + 5 * i, s + 5 * i, 4),
        ];
        for (now, next, missed) in cases {
            assert_eq!(
                slots.next_after(s, now),
                (next, missed),
                "now = s + {}",
                now - s
            );
        }
    }
}
