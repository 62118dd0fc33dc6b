//! Target discovery for one job: `static_configs` plus `file_sd_configs`.
//!
//! File discovery re-reads its files when they change (checked every second by path, size and
//! modification time, so a new file matching a glob is noticed too) and at least every
//! `refresh_interval`. A file that fails to read or parse keeps the groups it had last time,
//! with the error logged, as Prometheus does: a bad edit must not drop every target.

use std::time::{Duration, Instant, SystemTime};

use wasmfed_config::{read_file_sd, FileSdConfig, ScrapeConfig, TargetGroup};

/// How often file_sd files are checked for changes.
pub const CHANGE_CHECK: Duration = Duration::from_secs(1);

/// The discovery state of one job.
pub struct Discovery {
    static_groups: Vec<TargetGroup>,
    files: Vec<FileSource>,
}

struct FileSource {
    config: FileSdConfig,
    fingerprint: Vec<(String, u64, Option<SystemTime>)>,
    last_read: Option<Instant>,
    groups: Vec<TargetGroup>,
}

impl Discovery {
    pub fn new(cfg: &ScrapeConfig) -> Self {
        Discovery {
            static_groups: cfg.static_configs.clone(),
            files: cfg
                .file_sd_configs
                .iter()
                .map(|c| FileSource {
                    config: c.clone(),
                    fingerprint: Vec::new(),
                    last_read: None,
                    groups: Vec::new(),
                })
                .collect(),
        }
    }

    /// Re-reads file sources that changed or are due; true if any group set changed.
    pub fn refresh(&mut self) -> bool {
        let mut changed = false;
        for source in &mut self.files {
            changed |= source.refresh();
        }
        changed
    }

    /// Every current target group of the job.
    pub fn groups(&self) -> impl Iterator<Item = &TargetGroup> {
        self.static_groups
            .iter()
            .chain(self.files.iter().flat_map(|f| f.groups.iter()))
    }

    pub fn has_files(&self) -> bool {
        !self.files.is_empty()
    }
}

impl FileSource {
    fn refresh(&mut self) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_config::Config;
    use wasmfed_model::compat::Compat;

    fn job(dir: &std::path::Path) -> ScrapeConfig {
        let yaml = "scrape_configs:\n  - job_name: j\n    static_configs: [{targets: ['s:1']}]\n    file_sd_configs:\n      - files: ['sd/*.json']\n        refresh_interval: 1h\n";
        Config::from_yaml(yaml, dir, Compat::V3)
            .unwrap()
            .config
            .scrape_configs
            .remove(0)
    }

    fn addresses(d: &Discovery) -> Vec<String> {
        d.groups().flat_map(|g| g.targets.clone()).collect()
    }

    #[test]
    fn file_changes_are_picked_up_and_bad_edits_keep_the_old_targets() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sd")).unwrap();
        let file = dir.path().join("sd/a.json");
        std::fs::write(&file, r#"[{"targets": ["a:1"], "labels": {"team": "x"}}]"#).unwrap();
        let mut d = Discovery::new(&job(dir.path()));
        assert!(d.refresh());
        assert_eq!(addresses(&d), ["s:1", "a:1"]);
        assert!(!d.refresh(), "nothing changed");

        std::fs::write(&file, r#"[{"targets": ["a:1", "a:2"]}]"#).unwrap();
        assert!(d.refresh());
        assert_eq!(addresses(&d), ["s:1", "a:1", "a:2"]);

        std::fs::write(dir.path().join("sd/b.json"), r#"[{"targets": ["b:1"]}]"#).unwrap();
        assert!(d.refresh(), "a new file matching the glob");
        assert_eq!(addresses(&d).len(), 4);

        std::fs::write(&file, "not json at all").unwrap();
        assert!(!d.refresh());
        assert_eq!(addresses(&d).len(), 4, "a broken file keeps what it had");
    }
}
