//! Keeping a tenant's every-sample cursors on disk (`wasmfed_scrape::every_sample`): once a
//! second, the cursors advanced since are written after an fsync of the tenant's log, so the
//! file never names a cursor whose samples a crash could still lose. A stop writes them a last
//! time before the log closes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use wasmfed_scrape::every_sample::CursorBook;
use wasmfed_storage::wal::Wal;
use wasmfed_telemetry::Telemetry;

const PERSIST_EVERY: Duration = Duration::from_secs(1);

/// Runs until `stopped` says so (or its sender is dropped), then persists once more.
pub(super) async fn keep_cursors(
    book: Arc<CursorBook>,
    wal: Arc<Wal>,
    telemetry: Arc<Telemetry>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(PERSIST_EVERY);
    loop {
        let last = tokio::select! {
            _ = ticker.tick() => false,
            _ = stopped.changed() => true,
        };
        let (book, wal) = (book.clone(), wal.clone());
        let persisted = tokio::task::spawn_blocking(move || {
            book.persist(|| wal.sync().map_err(std::io::Error::other))
        })
        .await;
        match persisted {
            Ok(Ok(true)) => {
                telemetry.federation.cursors_persisted.inc();
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "writing every-sample cursors"),
            Err(e) => tracing::error!(error = %e, "writing every-sample cursors"),
        }
        if last {
            return;
        }
    }
}
