//! Numeric building blocks shared by aggregations and range functions, exactly as Prometheus
//! computes them: Kahan–Neumaier summation, quantiles over samples, the xxHash64 of a label
//! set (which decides `limit_ratio`'s sample); and the fast hasher of the evaluator's maps.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

use super::labels::Labels;
use super::order::{nan_low_ascending, sort_by_less};

/// `kahansum.Inc`: adds `inc` to `sum` with compensation `c`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Prometheus' `quantile`: linear interpolation between the closest ranks; NaN sorts first.
/// Sorts `values`.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    sort_by_less(values, |a, b| nan_low_ascending(*a, *b));
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Relative comparison with tolerance (`almost.Equal`).
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// `labels.Labels.Hash()`: xxHash64 over `name 0xff value 0xff …`.
pub(crate) fn labels_hash(labels: &Labels) -> u64 {
    let mut buf = Vec::new();
    labels.write_identity(&mut buf);
    xxh64(&buf)
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn merge_round(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default())
}

/// xxHash64 with seed 0, as `github.com/cespare/xxhash` computes it.
pub(crate) fn xxh64(input: &[u8]) -> u64 {
    let len = input.len();
    let mut i = 0;
    let mut h = if len >= 32 {
        let (mut v1, mut v2, mut v3, mut v4) =
            (P1.wrapping_add(P2), P2, 0u64, 0u64.wrapping_sub(P1));
        while i + 32 <= len {
            v1 = round(v1, u64_at(input, i));
            v2 = round(v2, u64_at(input, i + 8));
            v3 = round(v3, u64_at(input, i + 16));
            v4 = round(v4, u64_at(input, i + 24));
            i += 32;
        }
        let mut h = v1
            .rotate_left(1)
            .wrapping_add(v2.rotate_left(7))
            .wrapping_add(v3.rotate_left(12))
            .wrapping_add(v4.rotate_left(18));
        for v in [v1, v2, v3, v4] {
            h = merge_round(h, v);
        }
        h
    } else {
        P5
    };
    h = h.wrapping_add(len as u64);
    while i + 8 <= len {
        h ^= round(0, u64_at(input, i));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        i += 8;
    }
    if i + 4 <= len {
        let k = u32::from_le_bytes(input[i..i + 4].try_into().unwrap_or_default()) as u64;
        h ^= k.wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        i += 4;
    }
    for &b in &input[i..] {
        h ^= (b as u64).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

/// Maps and sets keyed by label bytes, hashed with rustc's FxHash: several times faster than
/// SipHash on short keys, and hash flooding is no concern inside a sandboxed, fuel-bounded
/// plugin.
pub(crate) type FastMap<K, V> = HashMap<K, V, FxBuild>;
pub(crate) type FastSet<K> = HashSet<K, FxBuild>;

#[derive(Clone, Copy, Default)]
pub(crate) struct FxBuild;

impl BuildHasher for FxBuild {
    type Hasher = Fx;

    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}

pub(crate) struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 56));
    }

    fn write_u8(&mut self, b: u8) {
        self.add(b as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxhash_reference_values() {
        let cases: &[(&[u8], u64)] = &[
            (b"", 0xEF46_DB37_51D8_E999),
            (b"a", 0xD24E_C4F1_A98C_6E5B),
            (b"abc", 0x44BC_2CF5_AD77_0999),
            (
                b"Nobody inspects the spammish repetition",
                0xFBCE_A83C_8A37_8BF1,
            ),
        ];
        for &(input, want) in cases {
            assert_eq!(xxh64(input), want, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn kahan_recovers_lost_low_bits() {
        let (mut sum, mut c) = (0.0, 0.0);
        for x in [1e100, 1.0, -1e100] {
            (sum, c) = kahan_inc(x, sum, c);
        }
        assert_eq!(sum + c, 1.0);
    }

    #[test]
    fn quantiles() {
        let cases: &[(f64, &[f64], f64)] = &[
            (0.5, &[1.0, 2.0, 3.0, 4.0], 2.5),
            (0.0, &[3.0, 1.0], 1.0),
            (1.0, &[3.0, 1.0], 3.0),
            (0.5, &[], f64::NAN),
            (-1.0, &[1.0], f64::NEG_INFINITY),
            (2.0, &[1.0], f64::INFINITY),
            (0.5, &[f64::NAN, 1.0, 2.0], 1.0),
        ];
        for &(q, values, want) in cases {
            let mut v = values.to_vec();
            let got = quantile(q, &mut v);
            assert!(almost_equal(got, want, 1e-12), "q={q} {values:?}: {got}");
        }
    }
}
