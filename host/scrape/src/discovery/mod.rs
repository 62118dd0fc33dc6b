//! Target discovery for one job: `static_configs`, `file_sd_configs` ([`file`]) and
//! `http_sd_configs` ([`http`]).
//!
//! The job's manager polls [`Discovery::refresh`] every [`CHANGE_CHECK`]; file sources look at
//! their files then, network sources run as tasks of their own and hand over what they last
//! found. Any source that fails keeps its previous groups, as in Prometheus.

use std::time::Duration;

use wasmfed_config::{ScrapeConfig, TargetGroup};

use self::file::FileSource;
use self::http::HttpSource;
use crate::fetch::Fetcher;

mod file;
mod http;

/// How often file_sd files are checked for changes.
pub const CHANGE_CHECK: Duration = Duration::from_secs(1);

/// The discovery state of one job.
pub struct Discovery {
    static_groups: Vec<TargetGroup>,
    files: Vec<FileSource>,
    http: Vec<HttpSource>,
}

impl Discovery {
    /// Starts the job's sources; network sources start fetching at once (inside a Tokio
    /// runtime), with `fetcher`'s connections.
    pub fn new(cfg: &ScrapeConfig, fetcher: &Fetcher) -> Self {
        Discovery {
            static_groups: cfg.static_configs.clone(),
            files: cfg
                .file_sd_configs
                .iter()
                .cloned()
                .map(FileSource::new)
                .collect(),
            http: cfg
                .http_sd_configs
                .iter()
                .map(|c| HttpSource::start(c.clone(), fetcher.clone()))
                .collect(),
        }
    }

    /// What the job's sources hold right now, each read or fetched once (for one-off tools
    /// such as `wasmfed relabel test`); nothing keeps it up to date.
    pub async fn snapshot(cfg: &ScrapeConfig, fetcher: &Fetcher) -> Result<Self, String> {
        let mut http = Vec::new();
        for config in &cfg.http_sd_configs {
            let source = HttpSource::once(config, fetcher)
                .await
                .map_err(|e| format!("http_sd_configs {:?}: {e}", config.url))?;
            http.push(source);
        }
        let mut discovery = Discovery {
            static_groups: cfg.static_configs.clone(),
            files: cfg
                .file_sd_configs
                .iter()
                .cloned()
                .map(FileSource::new)
                .collect(),
            http,
        };
        discovery.refresh();
        Ok(discovery)
    }

    /// Re-reads file sources that changed or are due and takes what network sources found;
    /// true if any group set changed.
    pub fn refresh(&mut self) -> bool {
        let mut changed = false;
        for source in &mut self.files {
            changed |= source.refresh();
        }
        for source in &mut self.http {
            changed |= source.refresh();
        }
        changed
    }

    /// Every current target group of the job.
    pub fn groups(&self) -> impl Iterator<Item = &TargetGroup> {
        self.static_groups
            .iter()
            .chain(self.files.iter().flat_map(|f| f.groups.iter()))
            .chain(self.http.iter().flat_map(|h| h.groups.iter()))
    }

    /// Whether the groups can change while the job runs (anything but static targets).
    pub fn is_dynamic(&self) -> bool {
        !self.files.is_empty() || !self.http.is_empty()
    }
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
        let mut d = Discovery::new(&job(dir.path()), &Fetcher::default());
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
