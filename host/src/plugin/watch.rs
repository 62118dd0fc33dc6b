//! Hot-loading from disk: component files of live plugins are polled, and a changed file is
//! swapped into every plugin loaded from it (`PluginRuntime::swap`, all or none).
//!
//! Polling (size and modification time, then the content's sha256) rather than inotify keeps
//! this portable and immune to editors that replace files by renaming; a poll every second or
//! two costs a `stat` per file. A file caught half-written fails to compile, is refused (logged,
//! counted) and is tried again when it next changes; a file whose content equals what runs
//! (touched, or rewritten identically) changes nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::metrics::PluginMetrics;
use super::{Plugin, PluginRuntime};

/// What a file looked like when last read.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Seen {
    len: u64,
    modified: Option<SystemTime>,
}

/// Polls the live plugins' files every `every` until `stopped`.
pub async fn watch_files(
    runtime: Arc<PluginRuntime>,
    live: PluginMetrics,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped.changed() => return,
        }
        let mut by_file: HashMap<PathBuf, Vec<Arc<Plugin>>> = HashMap::new();
        for plugin in live.find(|p| p.file().is_some()) {
            let file = plugin.file().expect("filtered on file").to_path_buf();
            by_file.entry(file).or_default().push(plugin);
        }
        seen.retain(|path, _| by_file.contains_key(path));
        for (path, plugins) in by_file {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue; // gone for now: keep running what was loaded
            };
            let now = Seen {
                len: meta.len(),
                modified: meta.modified().ok(),
            };
            if seen.get(&path) == Some(&now) {
                continue;
            }
            seen.insert(path.clone(), now);
            let runtime = runtime.clone();
            let swapped =
                tokio::task::spawn_blocking(move || swap_if_changed(&runtime, &path, &plugins));
            let _ = swapped.await;
        }
    }
}

/// Reads `path` and swaps it into those of `plugins` not already running it.
fn swap_if_changed(runtime: &PluginRuntime, path: &std::path::Path, plugins: &[Arc<Plugin>]) {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(file = %path.display(), "reading plugin file: {e}");
            return;
        }
    };
    let sha256: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stale: Vec<Arc<Plugin>> = plugins
        .iter()
        .filter(|p| p.sha256() != sha256)
        .cloned()
        .collect();
    if stale.is_empty() {
        return;
    }
    match runtime.swap(&stale, &bytes) {
        Ok(_) => tracing::info!(
            file = %path.display(),
            plugins = stale.len(),
            sha256 = &sha256[..12],
            "plugin file changed: swapped in"
        ),
        Err(e) => tracing::error!(
            file = %path.display(),
            "plugin file changed but was refused; the running version stays: {e}"
        ),
    }
}
