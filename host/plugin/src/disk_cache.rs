//! Compiled components kept on disk, so a node starts without compiling the plugins it ran
//! before: compiling the stock `promql-rules` takes 2–3 s of both cores at every start, and a
//! test suite that starts a hundred nodes would spend minutes on it.
//!
//! A file is `<sha256 of the component>-<engine key>.cwasm`, wasmtime's own serialisation
//! (`Component::serialize`); the key is a hash of what makes compiled code compatible
//! (wasmtime's version and this engine's settings: `Engine::precompile_compatibility_hash`),
//! and wasmtime checks both again when it loads the file. A file that does not load (damaged,
//! from another build) is compiled again and replaced. Files are written under a temporary
//! name and renamed into place, so a reader never maps a half-written file and a node that
//! has one mapped keeps its copy when another replaces it.
//!
//! Loading a file runs the native code in it: the directory must be writable only by the
//! node's user (as the binary and its storage are). wasmtime's own cache (`Config::cache`)
//! does the same with zstd and a TOML configuration; this is the part of it a node needs.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::Component;
use wasmtime::Engine;

pub(crate) struct DiskCache {
    dir: PathBuf,
    engine_key: String,
}

/// Distinguishes the temporary files of one process's writers.
static WRITES: AtomicU64 = AtomicU64::new(0);

impl DiskCache {
    pub(crate) fn new(dir: &Path, engine: &Engine) -> DiskCache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        DiskCache {
            dir: dir.to_owned(),
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    /// The component compiled before, if its file loads.
    pub(crate) fn load(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `store` (wasmtime's own serialisation, renamed into
        // place whole, never written in place) in a directory only the node's user writes; the
        // module documentation states this trust. wasmtime checks its header, version and
        // engine settings before using it.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "compiled plugin not loaded; compiling again");
                None
            }
        }
    }

    /// Keeps `component` for the next start; a failure is logged, not fatal.
    pub(crate) fn store(&self, sha256: &str, component: &Component) {
        let path = self.path(sha256);
        let tmp = self.dir.join(format!(
            ".{sha256}.{}.{}.tmp",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| component.serialize().map_err(std::io::Error::other))
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(dir = %self.dir.display(), error = %e, "compiled plugin not kept on disk");
        }
        self.prune();
    }

    /// Removes compiled files not written for [`KEEP_UNUSED`]: each build of a plugin (or of
    /// wasmfed) leaves a file of several MB behind. A file still in use is compiled again once.
    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = std::time::SystemTime::now();
        for entry in entries.flatten() {
            let path = entry.path();
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > KEEP_UNUSED));
            if old && path.extension().is_some_and(|e| e == "cwasm") {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// How long a compiled file is kept after it was written.
const KEEP_UNUSED: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);
