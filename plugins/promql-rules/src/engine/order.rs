//! Prometheus' sample orderings, including its treatment of NaN and the order of ties.
//!
//! `topk`, `bottomk`, `sort` and `sort_desc` return samples in an order that is part of the
//! result. Prometheus builds it with Go's `container/heap` and `sort.Sort` over comparators in
//! which NaN sorts below every number; equal values keep whatever order those algorithms leave.
//! Go's `sort.Sort` is an insertion sort for up to 12 elements, so that and the heap operations
//! are reproduced exactly; longer inputs use a stable sort with the same comparator, which can
//! only differ from Go in the order of equal values.

use std::cmp::Ordering;

use super::value::Sample;

/// `vectorByValueHeap.Less`: NaN first, then ascending.
pub(crate) fn nan_low_ascending(a: f64, b: f64) -> bool {
    a.is_nan() || a < b
}

/// `vectorByReverseValueHeap.Less`: NaN first, then descending.
pub(crate) fn nan_low_descending(a: f64, b: f64) -> bool {
    a.is_nan() || a > b
}

/// `heap.Push`.
pub(crate) fn heap_push(h: &mut Vec<Sample>, s: Sample, less: fn(f64, f64) -> bool) {
    h.push(s);
    let last = h.len() - 1;
    up(h, last, less);
}

/// `heap.Pop`, the popped sample dropped: the last sample takes the top's place and sinks.
pub(crate) fn heap_pop(h: &mut Vec<Sample>, less: fn(f64, f64) -> bool) {
    let last = h.len() - 1;
    h.swap(0, last);
    down(&mut h[..last], 0, less);
    h.pop();
}

/// `heap.Fix`.
pub(crate) fn heap_fix(h: &mut [Sample], i: usize, less: fn(f64, f64) -> bool) {
    if !down(h, i, less) {
        up(h, i, less);
    }
}

fn up(h: &mut [Sample], mut j: usize, less: fn(f64, f64) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(h[j].value, h[i].value) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

fn down(h: &mut [Sample], i0: usize, less: fn(f64, f64) -> bool) -> bool {
    let n = h.len();
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        if j1 + 1 < n && less(h[j1 + 1].value, h[j1].value) {
            j = j1 + 1;
        }
        if !less(h[j].value, h[i].value) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    i > i0
}

/// `sort.Sort(sort.Reverse(x))` for a vector whose `Less` is `less`.
pub(crate) fn sort_reverse(v: &mut [Sample], less: fn(f64, f64) -> bool) {
    sort_by_less(v, |a, b| less(b.value, a.value));
}

/// `sort.Sort` with comparator `less`.
pub(crate) fn sort_by_less<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    if v.len() <= 12 {
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && less(&v[j], &v[j - 1]) {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        v.sort_by(|a, b| {
            if less(a, b) {
                Ordering::Less
            } else if less(b, a) {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::labels::Labels;

    fn samples(values: &[f64]) -> Vec<Sample> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| Sample {
                metric: Labels::from_pairs(&[("i", i.to_string())]),
                value,
                drop_name: false,
            })
            .collect()
    }

    fn values(v: &[Sample]) -> Vec<String> {
        v.iter().map(|s| format!("{}", s.value)).collect()
    }

    #[test]
    fn reverse_sort_puts_nan_last() {
        let mut v = samples(&[1.0, f64::NAN, 3.0, 2.0]);
        // sort(): reverse of the descending order, so ascending with NaN last.
        sort_reverse(&mut v, nan_low_descending);
        assert_eq!(values(&v), ["1", "2", "3", "NaN"]);
        let mut v = samples(&[1.0, f64::NAN, 3.0, 2.0]);
        sort_reverse(&mut v, nan_low_ascending);
        assert_eq!(values(&v), ["3", "2", "1", "NaN"]);
    }

    #[test]
    fn heap_keeps_smallest_on_top() {
        let mut h = Vec::new();
        for s in samples(&[5.0, 3.0, 8.0, 1.0]) {
            heap_push(&mut h, s, nan_low_ascending);
        }
        assert_eq!(h[0].value, 1.0);
        h[0].value = 9.0;
        heap_fix(&mut h, 0, nan_low_ascending);
        assert_eq!(h[0].value, 3.0);
        heap_pop(&mut h, nan_low_ascending);
        assert_eq!((h.len(), h[0].value), (3, 5.0));
    }
}
