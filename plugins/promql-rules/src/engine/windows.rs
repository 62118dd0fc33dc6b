//! What a range function reads of one series at one step: its window (`Window`: the times,
//! closed or open on the left by generation) and the samples in it (`Samples`), borrowed from
//! the series or, when stale markers must be left out, copied into reused room (`Scratch`).

use super::prefetch::StoredSeries;
use super::value::{is_stale_marker, Point};
use super::Compat;

/// The window a step reads: `(from, end]`, in ms, and the evaluation time. `start` is
/// `end` minus the range, what `rate` extrapolates to; `from` is `start`, or 1 ms before it in
/// 2.x mode, whose windows are closed on the left.
#[derive(Clone, Copy)]
pub(super) struct Window {
    pub(super) t: i64,
    pub(super) from: i64,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) compat: Compat,
}

impl Window {
    pub(super) fn new(t: i64, start: i64, end: i64, compat: Compat) -> Window {
        Window {
            t,
            from: start - compat.left_closed_ms(),
            start,
            end,
            compat,
        }
    }

    pub(super) fn range_secs(&self) -> f64 {
        (self.end - self.start) as f64 / 1000.0
    }
}

/// One series' samples in a window, as parallel columns, oldest first.
#[derive(Clone, Copy)]
pub(super) struct Samples<'a> {
    pub(super) ts: &'a [i64],
    pub(super) vs: &'a [f64],
}

impl Samples<'_> {
    pub(super) fn len(&self) -> usize {
        self.ts.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub(super) fn first(&self) -> (i64, f64) {
        (self.ts[0], self.vs[0])
    }

    pub(super) fn last(&self) -> (i64, f64) {
        let n = self.len() - 1;
        (self.ts[n], self.vs[n])
    }
}

/// Room for windows that cannot be borrowed from their series as they are.
#[derive(Default)]
pub(super) struct Scratch {
    ts: Vec<i64>,
    vs: Vec<f64>,
}

impl Scratch {
    /// The samples of `s` in `(start, end]`: borrowed, unless stale markers must be left out.
    pub(super) fn stored<'a>(
        &'a mut self,
        s: StoredSeries<'a>,
        start: i64,
        end: i64,
    ) -> Samples<'a> {
        let lo = s.ts.partition_point(|&t| t <= start);
        let hi = s.ts.partition_point(|&t| t <= end).max(lo);
        let (ts, vs) = (&s.ts[lo..hi], &s.vals[lo..hi]);
        if !vs.iter().any(|v| is_stale_marker(*v)) {
            return Samples { ts, vs };
        }
        self.ts.clear();
        self.vs.clear();
        for (&t, &v) in ts.iter().zip(vs) {
            if !is_stale_marker(v) {
                self.ts.push(t);
                self.vs.push(v);
            }
        }
        Samples {
            ts: &self.ts,
            vs: &self.vs,
        }
    }

    /// The points of a computed series in `(start, end]`.
    pub(super) fn points(&mut self, p: &[Point], start: i64, end: i64) -> Samples<'_> {
        let lo = p.partition_point(|x| x.t <= start);
        let hi = p.partition_point(|x| x.t <= end).max(lo);
        self.ts.clear();
        self.vs.clear();
        self.ts.extend(p[lo..hi].iter().map(|x| x.t));
        self.vs.extend(p[lo..hi].iter().map(|x| x.v));
        Samples {
            ts: &self.ts,
            vs: &self.vs,
        }
    }
}
