//! A tenant's durability: replaying its write-ahead log into its head at start (sealed chunks
//! going to `chunks_head/` beside the log), and retention cutting head and log together
//! afterwards.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::sync::watch;

use wasmfed_model::clock::unix_millis;
use wasmfed_storage::wal::{Retention, Wal, WalOptions};
use wasmfed_storage::Head;
use wasmfed_telemetry::Telemetry;

/// How often retention runs at most and at least: four times per retention period in between,
/// so a short retention (as in tests) is kept about as well as a long one.
const RETENTION_CHECK_MAX: Duration = Duration::from_secs(60);
const RETENTION_CHECK_MIN: Duration = Duration::from_secs(1);

/// Replays the WAL in `dir` into `head` and drops what is past retention, off the async
/// threads. The first checkpoint is [`enforce_retention`]'s first step.
pub(super) async fn open_wal(
    head: &Arc<Head>,
    telemetry: &Arc<Telemetry>,
    dir: PathBuf,
    options: WalOptions,
    retention: Retention,
) -> anyhow::Result<Arc<Wal>> {
    let (head, metrics) = (head.clone(), telemetry.wal.clone());
    tokio::task::spawn_blocking(move || {
        // Beside the log: `<storage>/chunks_head`, as Prometheus names it.
        let chunks = dir.with_file_name("chunks_head");
        head.keep_sealed_chunks_in(&chunks)
            .with_context(|| format!("opening the chunk files in {}", chunks.display()))?;
        tracing::info!(dir = %dir.display(), "replaying the write-ahead log");
        let (wal, report) = Wal::open(&dir, &head, options, metrics)?;
        tracing::info!(
            dir = %dir.display(),
            files = report.files,
            checkpoint = report.checkpoint,
            records = report.records,
            series = report.series,
            samples = report.samples,
            out_of_order = report.out_of_order,
            duplicates = report.duplicates,
            unknown_series = report.unknown_series,
            damaged = report.damage.len(),
            truncated = report.truncated.len(),
            duration_ms = report.duration.as_millis() as u64,
            "write-ahead log replayed"
        );
        let now = unix_millis(SystemTime::now());
        head.truncate_before(now - retention.time.as_millis() as i64);
        Ok(Arc::new(wal))
    })
    .await?
}

/// Checkpoints the log just replayed, then cuts `head` (and its log) to `retention`
/// periodically until `stopped` says so or its sender is dropped. A stop waits for the step
/// under way, so once this returns nothing but the head's own appends touches the log.
pub(super) async fn enforce_retention(
    head: Arc<Head>,
    wal: Option<Arc<Wal>>,
    retention: Retention,
    mut stopped: watch::Receiver<bool>,
) {
    if let Some(wal) = &wal {
        // The first checkpoint is written while the node already scrapes and serves (a quarter
        // of start-up time when it was written first): appends go on during a checkpoint
        // anyway, and a crash before it ends replays the same segments again. A failed
        // checkpoint is not fatal (it is logged): the segments it would replace stay.
        let (head, wal) = (head.clone(), wal.clone());
        let _ = tokio::task::spawn_blocking(move || {
            let _ = wal.checkpoint(&head);
            head.evict_sealed_chunks();
        })
        .await;
    }
    let every = (retention.time / 4).clamp(RETENTION_CHECK_MIN, RETENTION_CHECK_MAX);
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped.changed() => return,
        }
        let now = unix_millis(SystemTime::now());
        let Some(wal) = &wal else {
            let removed = head.truncate_before(now - retention.time.as_millis() as i64);
            if removed > 0 {
                tracing::info!(removed, "retention removed series");
            }
            continue;
        };
        let (head, wal) = (head.clone(), wal.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            let report = wal.enforce_retention(&head, &retention, now);
            // Queries since the last pass may have read sealed chunks back into memory.
            head.evict_sealed_chunks();
            report
        })
        .await;
        match outcome {
            Ok(Ok(report)) => {
                if report.removed_series > 0 || report.size_cutoff_ms.is_some() {
                    tracing::info!(
                        removed = report.removed_series,
                        size_cutoff_ms = report.size_cutoff_ms,
                        wal_bytes = report.bytes,
                        "retention removed series"
                    );
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "retention failed"),
            Err(e) => tracing::error!(error = %e, "retention task failed"),
        }
    }
}
