//! A tenant's durability: its blocks opened and its write-ahead log replayed into its head at
//! start (sealed chunks going to `chunks_head/` beside the log), then, periodically, the head
//! cut into blocks and retention applied to head, log and blocks.
//!
//! The layout is Prometheus': blocks, `wal/` and `chunks_head/` side by side in the storage
//! path (a tenant other than the node's own under `tenants/<name>/`). Pointed at a Prometheus
//! data directory, wasmfed opens its blocks as they are; Prometheus' log is set aside
//! (renamed, not read: see `written_by_prometheus`), so the samples only in it (Prometheus'
//! last ~2 hours, not yet in a block) are not served, but are not lost either.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::sync::watch;

use wasmfed_model::clock::unix_millis;
use wasmfed_storage::blocks::BlockMetrics;
use wasmfed_storage::wal::{written_by_prometheus, Retention, Wal, WalOptions};
use wasmfed_storage::{Blocks, Head};
use wasmfed_telemetry::Telemetry;

/// How often retention runs at most and at least: four times per retention period in between,
/// so a short retention (as in tests) is kept about as well as a long one.
const RETENTION_CHECK_MAX: Duration = Duration::from_secs(60);
const RETENTION_CHECK_MIN: Duration = Duration::from_secs(1);

/// Opens the blocks beside the WAL in `dir`, then replays the WAL into `head` (samples the
/// blocks hold already are not replayed) and drops what is past retention, off the async
/// threads. The first checkpoint is [`enforce_retention`]'s first step.
pub(super) async fn open_wal(
    head: &Arc<Head>,
    blocks: &Arc<Blocks>,
    telemetry: &Arc<Telemetry>,
    dir: PathBuf,
    options: WalOptions,
    retention: Retention,
) -> anyhow::Result<Arc<Wal>> {
    let (head, blocks, telemetry) = (head.clone(), blocks.clone(), telemetry.clone());
    tokio::task::spawn_blocking(move || {
        let storage = dir.parent().unwrap_or(Path::new(".")).to_path_buf();
        std::fs::create_dir_all(&storage)
            .with_context(|| format!("creating {}", storage.display()))?;
        set_aside_prometheus_wal(&dir)?;
        let opened = telemetry
            .blocks
            .track(&blocks, || blocks.load(&storage))
            .with_context(|| format!("opening the blocks in {}", storage.display()))?;
        if let Some(end) = blocks.max_time() {
            head.set_min_valid_time(end);
        }
        tracing::info!(dir = %storage.display(), blocks = opened, "blocks opened");
        // Beside the log: `<storage>/chunks_head`, as Prometheus names it.
        let chunks = dir.with_file_name("chunks_head");
        head.keep_sealed_chunks_in(&chunks)
            .with_context(|| format!("opening the chunk files in {}", chunks.display()))?;
        tracing::info!(dir = %dir.display(), "replaying the write-ahead log");
        let (wal, report) = Wal::open(&dir, &head, options, telemetry.wal.clone())?;
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

/// Renames a log Prometheus wrote (and its `chunks_head/`, which wasmfed would empty) to
/// `*.prometheus`, so wasmfed starts a log of its own beside Prometheus' untouched one.
fn set_aside_prometheus_wal(dir: &Path) -> anyhow::Result<()> {
    if !written_by_prometheus(dir).with_context(|| format!("reading {}", dir.display()))? {
        return Ok(());
    }
    for name in ["wal", "chunks_head"] {
        let from = dir.with_file_name(name);
        if !from.exists() {
            continue;
        }
        let to = free_name(&dir.with_file_name(format!("{name}.prometheus")));
        std::fs::rename(&from, &to).with_context(|| format!("setting {} aside", from.display()))?;
        tracing::warn!(
            from = %from.display(),
            to = %to.display(),
            "this is Prometheus' write-ahead log: its blocks are served, but the samples only \
             in its log (not yet in a block) are not read; it is kept, renamed"
        );
    }
    Ok(())
}

/// `path`, or `path.1`, `path.2`... whichever does not exist yet.
fn free_name(path: &Path) -> PathBuf {
    let mut candidate = path.to_path_buf();
    let mut n = 0;
    while candidate.exists() {
        n += 1;
        candidate = PathBuf::from(format!("{}.{n}", path.display()));
    }
    candidate
}

/// What the periodic storage task works on: one tenant's head, log and blocks.
pub(super) struct TenantStorage {
    pub head: Arc<Head>,
    pub wal: Option<Arc<Wal>>,
    pub blocks: Arc<Blocks>,
    pub metrics: BlockMetrics,
}

/// Checkpoints the log just replayed, then periodically cuts the head into blocks of the first
/// of `ranges` (compacting them into the larger ones) and applies `retention` to head, log and
/// blocks, until `stopped` says so or its sender is dropped. A stop waits for the step under way, so once this returns nothing
/// but the head's own appends touches the log.
pub(super) async fn enforce_retention(
    storage: TenantStorage,
    retention: Retention,
    ranges: Vec<i64>,
    mut stopped: watch::Receiver<bool>,
) {
    let block_range = Duration::from_millis(ranges.first().copied().unwrap_or(i64::MAX) as u64);
    let TenantStorage {
        head,
        wal,
        blocks,
        metrics,
    } = storage;
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
    let every = (retention.time / 4)
        .min(block_range / 4)
        .clamp(RETENTION_CHECK_MIN, RETENTION_CHECK_MAX);
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
        let (head, wal, blocks, metrics, ranges) = (
            head.clone(),
            wal.clone(),
            blocks.clone(),
            metrics.clone(),
            ranges.clone(),
        );
        let outcome = tokio::task::spawn_blocking(move || {
            cut_blocks(&head, &wal, &blocks, &metrics, &ranges);
            let retention_ms = retention.time.as_millis() as i64;
            let (by_time, by_size) = metrics.track(&blocks, || {
                blocks.apply_retention(retention_ms, retention.size, wal.size_bytes())
            });
            metrics.time_retentions.inc_by(by_time.len() as u64);
            metrics.size_retentions.inc_by(by_size.len() as u64);
            for (meta, why) in by_time.iter().map(|m| (m, "time")).chain(by_size.iter().map(|m| (m, "size"))) {
                tracing::info!(ulid = %meta.ulid, max_time = meta.max_time, retention = why, "deleted a block");
            }
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

/// Writes the head's completed ranges as blocks, then checkpoints the log so it holds the
/// head's range only, then compacts blocks as far as the plan goes. A failure is logged and
/// counted; the head (or the parent blocks) keep the samples and the next pass tries again.
fn cut_blocks(head: &Head, wal: &Wal, blocks: &Blocks, metrics: &BlockMetrics, ranges: &[i64]) {
    let Some(&range) = ranges.first() else {
        return;
    };
    match metrics.track(blocks, || blocks.cut_head(head, range)) {
        Ok(written) if written.is_empty() => {}
        Ok(written) => {
            metrics.written.inc_by(written.len() as u64);
            if let Err(e) = wal.checkpoint(head) {
                tracing::error!(error = %e, "checkpoint after writing blocks");
            }
        }
        Err(e) => {
            metrics.write_failures.inc();
            tracing::error!(error = %e, "writing a block from the head");
        }
    }
    loop {
        match metrics.track(blocks, || blocks.compact(ranges)) {
            Ok(true) => metrics.compactions.inc(),
            Ok(false) => return,
            Err(e) => {
                metrics.compaction_failures.inc();
                tracing::error!(error = %e, "compacting blocks");
                return;
            }
        };
    }
}
