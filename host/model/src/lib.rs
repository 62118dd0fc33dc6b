//! The vocabulary every stage shares: label sets, samples, the staleness marker and the clock.
//!
//! Kept free of I/O and of any stage's concerns so that scraping, storage, plugins and the web
//! layer can all speak it without depending on one another.

pub mod clock;
pub mod compat;
pub mod escaping;
pub mod every_sample;
pub mod expfmt;
pub mod gofloat;
pub mod labels;
pub mod sample;

pub use labels::{Label, Labels};
pub use sample::{is_stale_nan, Sample, STALE_NAN};
