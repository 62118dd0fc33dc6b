//! File discovery: `file_sd_configs` files re-read when they change (checked every second by
//! path, size and modification time, so a new file matching a glob is noticed too) and at
//! least every `refresh_interval`. A file that fails to read or parse keeps the groups it had
//! last time, with the error logged, as Prometheus does: a bad edit must not drop every
//! target.

use std::time::{Duration, Instant, SystemTime};

use wasmfed_config::{read_file_sd, FileSdConfig, TargetGroup};

pub(super) struct FileSource {
    config: FileSdConfig,
    fingerprint: Vec<(String, u64, Option<SystemTime>)>,
    last_read: Option<Instant>,
    pub(super) groups: Vec<TargetGroup>,
}

impl FileSource {
    pub(super) fn new(config: FileSdConfig) -> FileSource {
        FileSource {
            config,
            fingerprint: Vec::new(),
            last_read: None,
            groups: Vec::new(),
        }
    }

    /// Re-reads the files if they changed or are due; true if the groups changed.
    pub(super) fn refresh(&mut self) -> bool {
        let fingerprint = fingerprint(&self.config.files);
        let refresh: Duration = self.config.refresh_interval.into();
        let due = self.last_read.is_none_or(|t| t.elapsed() >= refresh);
        if !due && fingerprint == self.fingerprint {
            return false;
        }
        self.fingerprint = fingerprint;
        self.last_read = Some(Instant::now());
        match read_file_sd(&self.config) {
            Ok(groups) if groups != self.groups => {
                self.groups = groups;
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::error!(error = %e, "file discovery failed; keeping the previous targets");
                false
            }
        }
    }
}

fn fingerprint(globs: &[String]) -> Vec<(String, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    for pattern in globs {
        let Ok(paths) = glob::glob(pattern) else {
            continue;
        };
        for path in paths.flatten() {
            let meta = std::fs::metadata(&path).ok();
            out.push((
                path.display().to_string(),
                meta.as_ref().map_or(0, |m| m.len()),
                meta.and_then(|m| m.modified().ok()),
            ));
        }
    }
    out.sort();
    out
}
