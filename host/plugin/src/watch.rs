//! Hot-loading from disk: component files of live plugins are polled, and a changed file is
//! swapped into every plugin loaded from it (`PluginRuntime::swap`, all or none).
//!
//! Polling (size and modification time, then the content's sha256) rather than inotify keeps
//! this portable and immune to editors that replace files by renaming; a poll every second or
//! two costs a `stat` per file. Only a change of the file's content since it was loaded (or
//! last swapped in) counts: a component uploaded through the admin API keeps running until the
//! file itself changes, and a file touched or rewritten identically changes nothing. A file
//! caught half-written fails to compile, is refused (logged, counted) and is tried again when
//! it next changes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::registry::LivePlugins;
use super::{Plugin, PluginRuntime};

/// What a file looked like when last read.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Meta {
    len: u64,
    modified: Option<SystemTime>,
}

/// A watched file: its metadata when last read, and the sha256 of the content last acted on.
struct Seen {
    meta: Option<Meta>,
    sha256: String,
}

/// Polls the live plugins' files every `every` until `stopped`.
pub async fn watch_files(
    runtime: Arc<PluginRuntime>,
    live: LivePlugins,
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
        for plugin in live.find(|p| p.plugin.file().is_some()) {
            let file = plugin.file().expect("filtered on file").to_path_buf();
            by_file.entry(file).or_default().push(plugin);
        }
        seen.retain(|path, _| by_file.contains_key(path));
        for (path, plugins) in by_file {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue; // gone for now: keep running what was loaded
            };
            let now = Meta {
                len: meta.len(),
                modified: meta.modified().ok(),
            };
            let entry = seen.entry(path.clone()).or_insert_with(|| Seen {
                meta: None,
                sha256: plugins[0].file_sha256().unwrap_or_default().to_string(),
            });
            if entry.meta == Some(now) {
                continue;
            }
            entry.meta = Some(now);
            let (runtime, known) = (runtime.clone(), entry.sha256.clone());
            let read = tokio::task::spawn_blocking(move || {
                swap_if_changed(&runtime, &path, &plugins, &known)
            });
            if let Ok(Some((path, sha256))) = read.await {
                if let Some(entry) = seen.get_mut(&path) {
                    entry.sha256 = sha256;
                }
            }
        }
    }
}

/// Reads `path`; when its content is not `known`, swaps it into those of `plugins` not
/// already running it. Returns the path and the content's sha256 once acted on (swapped in or
/// refused), so the same content is not tried again.
fn swap_if_changed(
    runtime: &PluginRuntime,
    path: &std::path::Path,
    plugins: &[Arc<Plugin>],
    known: &str,
) -> Option<(PathBuf, String)> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(file = %path.display(), "reading plugin file: {e}");
            return None;
        }
    };
    let sha256 = crate::sha256_hex(&bytes);
    if sha256 == known {
        return None;
    }
    let acted = Some((path.to_path_buf(), sha256.clone()));
    let stale: Vec<Arc<Plugin>> = plugins
        .iter()
        .filter(|p| p.sha256() != sha256)
        .cloned()
        .collect();
    if stale.is_empty() {
        return acted;
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
    acted
}
