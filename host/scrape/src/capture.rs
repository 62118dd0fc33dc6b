//! A target's series-stage input, captured from its next scrape on request: what a live
//! node's plugin fixture of a target is recorded from (`GET /api/v1/plugins/{name}/fixture`).
//!
//! A steady scrape never builds its series' label sets (the series cache maps their raw text
//! to stored series), and keeping a copy of every scrape for the rare recording would cost
//! memory for every target all the time. So a recording asks: it raises the target's flag
//! and waits; the target's loop, at its next scrape, decodes that scrape's series as the
//! series stage gets them (with the same function ingesting uses), hands them over and
//! lowers the flag. A scrape that fails hands over why.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::ingest::{stage_input, IngestError, IngestSettings};
use crate::parse::{Entry, Format, MetricType};
use wasmfed_model::Labels;

/// One scrape's series as the series stage gets them, or why the scrape failed.
pub type CapturedInput = Result<Vec<Labels>, String>;

/// A target's capture point, shared by its loop and the web API.
#[derive(Default)]
pub struct InputCapture {
    wanted: AtomicBool,
    last: Mutex<Option<Arc<CapturedInput>>>,
    ready: Notify,
}

impl InputCapture {
    /// The series of the target's next scrape (the caller bounds the wait).
    pub async fn next_scrape(&self) -> Arc<CapturedInput> {
        loop {
            // Registered before the flag goes up, so the loop's answer cannot be missed.
            let ready = self.ready.notified();
            self.wanted.store(true, Ordering::Release);
            ready.await;
            if let Some(input) = self.last.lock().expect("capture lock").clone() {
                return input;
            }
        }
    }

    /// Whether a recording waits for this scrape.
    pub(crate) fn wanted(&self) -> bool {
        self.wanted.load(Ordering::Acquire)
    }

    /// Hands a scrape's input to whoever waits.
    pub(crate) fn put(&self, input: CapturedInput) {
        *self.last.lock().expect("capture lock") = Some(Arc::new(input));
        self.wanted.store(false, Ordering::Release);
        self.ready.notify_waiters();
    }
}

/// Every distinct series of one scrape as the series stage would get it, in the exposition's
/// order. Stores nothing.
pub fn series_stage_input(
    settings: &IngestSettings<'_>,
    body: &[u8],
    format: Format,
) -> Result<Vec<Labels>, IngestError> {
    let text = std::str::from_utf8(body).map_err(|e| IngestError::NotUtf8(e.valid_up_to()))?;
    let parser = settings.parser(text, format);
    let mut kind = MetricType::Unknown;
    let mut seen = HashSet::new();
    let mut input = Vec::new();
    for entry in parser {
        match entry? {
            Entry::Sample(raw) if seen.insert(raw.series) => {
                input.push(stage_input(raw.series, kind, settings)?.0);
            }
            Entry::Type { kind: declared, .. } => kind = declared,
            _ => {}
        }
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::GuardedStage;
    use wasmfed_config::NameRules;
    use wasmfed_model::compat::Compat;
    use wasmfed_plugin::World;

    #[test]
    fn a_scrape_becomes_its_distinct_series_with_the_target_s_labels() {
        let target = Labels::from_pairs([("instance", "a:1"), ("job", "app")]);
        let stage = GuardedStage::empty(World::Series);
        let settings = IngestSettings {
            target_labels: &target,
            honor_labels: false,
            honor_timestamps: true,
            sample_limit: 0,
            series_stage: &stage,
            known_only: false,
            compat: Compat::V3,
            names: NameRules::default(),
            every_sample: false,
            ha: None,
        };
        let body = b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1\"} 2\nup{job=\"x\",e=\"\"} 1\n";
        let input = series_stage_input(&settings, body, Format::PrometheusText).unwrap();
        assert_eq!(
            input,
            vec![
                Labels::from_pairs([
                    ("__name__", "h_bucket"),
                    ("instance", "a:1"),
                    ("job", "app"),
                    ("le", "1.0"),
                ]),
                Labels::from_pairs([
                    ("__name__", "up"),
                    ("exported_job", "x"),
                    ("instance", "a:1"),
                    ("job", "app"),
                ]),
            ]
        );
        assert!(series_stage_input(&settings, b"up{", Format::PrometheusText).is_err());
    }

    #[tokio::test]
    async fn a_waiting_recording_gets_the_next_scrape() {
        let capture = Arc::new(InputCapture::default());
        assert!(!capture.wanted());
        let waiting = tokio::spawn({
            let capture = capture.clone();
            async move { capture.next_scrape().await }
        });
        while !capture.wanted() {
            tokio::task::yield_now().await;
        }
        capture.put(Err("connection refused".into()));
        assert_eq!(*waiting.await.unwrap(), Err("connection refused".into()));
        assert!(!capture.wanted());
    }
}
