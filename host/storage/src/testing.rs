//! Test helpers for this crate's tests and for the crates above it (the `test-util`
//! feature, enabled only by their dev-dependencies): heads built from literal series.

use wasmfed_model::Labels;

use crate::Head;

/// A series' labels and the samples appended to it, for [`Head::with_series`].
pub type TestSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

impl Head {
    /// A head holding `series`, for tests here and in the crates above.
    pub fn with_series(series: &[TestSeries]) -> Head {
        let head = Head::new();
        for (labels, samples) in series {
            let (r, _) = head.get_or_create(&Labels::from_pairs(labels.iter().copied()));
            for &(t, v) in samples.iter() {
                head.append(r, t, v).unwrap();
            }
        }
        head
    }
}
