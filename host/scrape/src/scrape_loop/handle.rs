//! Starting, stopping and reloading a target's loop.
//!
//! A stop ends the target: every series it wrote gets a stale marker. A *reload* (its job's
//! configuration changed, the target did not) ends nothing: the loop hands its state (series
//! cache, scrape grid, health) to the loop that replaces it under the new settings, which
//! scrapes at the same phase, so the series go on without a gap or a stale marker. This is
//! Prometheus' `scrapePool.reload`, which disables the old loop's end-of-run staleness
//! markers and passes its cache on, unless the change may label or keep series differently
//! (anything but the interval, timeout, sample limit and HTTP client): then the series'
//! decisions are taken again ([`Carried::decide_again`]), and series the new configuration
//! drops end with the next scrape.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::{report_series, LoopContext, LoopSettings, ScrapeLoop, TargetHealth};
use crate::capture::InputCapture;
use crate::every_sample::EveryTarget;
use crate::ingest::SeriesCache;
use crate::metadata::SharedMetadata;
use crate::target::Target;

/// What a loop is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Signal {
    Run,
    Stop,
    Reload,
}

/// A loop's state, handed from a loop to the one replacing it at a reload.
pub struct Carried {
    cache: SeriesCache,
    health: Arc<Mutex<TargetHealth>>,
    aligned_ms: Option<i64>,
}

impl Carried {
    /// The new configuration may label or keep series differently: its loop takes each
    /// series' decision again (and counts the series as added, as Prometheus' new cache does).
    pub fn decide_again(&mut self) {
        self.cache.decide_again();
    }
}

impl ScrapeLoop {
    pub(super) fn carry(self) -> Carried {
        Carried {
            cache: self.cache,
            health: self.health,
            aligned_ms: self.aligned_ms,
        }
    }
}

/// A running loop; stopping it writes the end-of-target stale markers before it returns.
pub struct LoopHandle {
    signal: watch::Sender<Signal>,
    task: tokio::task::JoinHandle<Option<Carried>>,
    pub health: Arc<Mutex<TargetHealth>>,
    pub metadata: SharedMetadata,
    pub capture: Arc<InputCapture>,
}

impl LoopHandle {
    /// Starts a loop for `target`, going on from `carried` (a reload) if given.
    pub fn spawn(
        target: Arc<Target>,
        settings: Arc<LoopSettings>,
        ctx: LoopContext,
        carried: Option<Carried>,
    ) -> LoopHandle {
        let (signal, signalled) = watch::channel(Signal::Run);
        let (cache, health, aligned_ms) = match carried {
            Some(Carried {
                cache,
                health,
                aligned_ms,
            }) => (cache, health, aligned_ms),
            None => (SeriesCache::default(), Arc::default(), None),
        };
        let metadata = cache.metadata().clone();
        let capture = Arc::new(InputCapture::default());
        let every = settings.every_sample.map(|max| {
            // The book has the cursor a loop before this one left.
            let mut every = EveryTarget::new(&settings.job, &target.url, max, &ctx.cursors);
            if let Some(ha) = &settings.ha {
                // Far enough back to reach before a silent replica's last delivery.
                every.keep_history(ha.failover_timeout() + 4 * target.interval);
            }
            every
        });
        let scrape_loop = ScrapeLoop {
            every,
            report_series: report_series(&ctx.head, &target.public),
            target,
            settings,
            ctx,
            cache,
            health: health.clone(),
            capture: capture.clone(),
            aligned_ms,
        };
        let task = tokio::spawn(scrape_loop.run(signalled));
        LoopHandle {
            signal,
            task,
            health,
            metadata,
            capture,
        }
    }

    /// Ends the target: stale markers for every series it wrote.
    pub async fn stop(self) {
        let _ = self.signal.send(Signal::Stop);
        let _ = self.task.await;
    }

    /// Stops the loop without ending anything, for a loop under new settings to go on from.
    pub async fn reload(self) -> Option<Carried> {
        let _ = self.signal.send(Signal::Reload);
        self.task.await.ok().flatten()
    }
}
