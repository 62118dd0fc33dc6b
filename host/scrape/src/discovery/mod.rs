//! Target discovery for one job: `static_configs`, `file_sd_configs` ([`file`]),
//! `http_sd_configs` ([`http`]), `dns_sd_configs` ([`dns`]), `kubernetes_sd_configs`
//! ([`kubernetes`]) and `docker_sd_configs` ([`docker`]).
//!
//! The job's manager polls [`Discovery::refresh`] every [`CHANGE_CHECK`]; file sources look at
//! their files then, network sources run as tasks of their own and hand over what they last
//! found. Any source that fails keeps its previous groups, as in Prometheus.

use std::time::Duration;

use wasmfed_config::{
    AlertmanagerConfig, DnsSdConfig, DockerSdConfig, FileSdConfig, HttpSdConfig,
    KubernetesSdConfig, ScrapeConfig, TargetGroup,
};
use wasmfed_telemetry::Telemetry;

use self::file::FileSource;
use self::polled::{Counters, PolledSource};
use crate::fetch::Fetcher;

mod dns;
mod docker;
mod file;
mod http;
pub mod kubernetes;
mod labels;
mod polled;

/// How often file_sd files are checked for changes.
pub const CHANGE_CHECK: Duration = Duration::from_secs(1);

/// Where a job (or a set of Alertmanagers, found the same way) gets its targets.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub static_configs: &'a [TargetGroup],
    pub file_sd_configs: &'a [FileSdConfig],
    pub http_sd_configs: &'a [HttpSdConfig],
    pub dns_sd_configs: &'a [DnsSdConfig],
    pub kubernetes_sd_configs: &'a [KubernetesSdConfig],
    pub docker_sd_configs: &'a [DockerSdConfig],
}

impl<'a> From<&'a ScrapeConfig> for Sources<'a> {
    fn from(c: &'a ScrapeConfig) -> Self {
        Sources {
            static_configs: &c.static_configs,
            file_sd_configs: &c.file_sd_configs,
            http_sd_configs: &c.http_sd_configs,
            dns_sd_configs: &c.dns_sd_configs,
            kubernetes_sd_configs: &c.kubernetes_sd_configs,
            docker_sd_configs: &c.docker_sd_configs,
        }
    }
}

impl<'a> From<&'a AlertmanagerConfig> for Sources<'a> {
    fn from(c: &'a AlertmanagerConfig) -> Self {
        Sources {
            static_configs: &c.static_configs,
            file_sd_configs: &c.file_sd_configs,
            http_sd_configs: &c.http_sd_configs,
            dns_sd_configs: &c.dns_sd_configs,
            kubernetes_sd_configs: &c.kubernetes_sd_configs,
            docker_sd_configs: &c.docker_sd_configs,
        }
    }
}

/// The discovery state of one job.
pub struct Discovery {
    static_groups: Vec<TargetGroup>,
    files: Vec<FileSource>,
    /// HTTP, DNS, Kubernetes and Docker sources.
    polled: Vec<PolledSource>,
}

impl Discovery {
    /// Starts the job's sources; network sources start fetching at once (inside a Tokio
    /// runtime), with `fetcher`'s connections, counting into `telemetry`.
    pub fn new<'a>(cfg: impl Into<Sources<'a>>, fetcher: &Fetcher, telemetry: &Telemetry) -> Self {
        let cfg = cfg.into();
        let (http_counters, dns_counters, kubernetes_counters, docker_counters) = (
            Counters::of(telemetry, "http"),
            Counters::of(telemetry, "dns"),
            Counters::of(telemetry, "kubernetes"),
            Counters::of(telemetry, "docker"),
        );
        let polled = cfg
            .http_sd_configs
            .iter()
            .map(|c| http::start(c.clone(), fetcher.clone(), http_counters.clone()))
            .chain(
                cfg.dns_sd_configs
                    .iter()
                    .map(|c| dns::start(c.clone(), dns_counters.clone())),
            )
            .chain(cfg.kubernetes_sd_configs.iter().map(|c| {
                kubernetes::start(c.clone(), fetcher.clone(), kubernetes_counters.clone())
            }))
            .chain(
                cfg.docker_sd_configs
                    .iter()
                    .map(|c| docker::start(c.clone(), fetcher.clone(), docker_counters.clone())),
            )
            .collect();
        Self::with_polled(cfg, polled)
    }

    /// The job's static and file sources, and `polled`, its network sources.
    fn with_polled(cfg: Sources<'_>, polled: Vec<PolledSource>) -> Self {
        Discovery {
            static_groups: cfg.static_configs.to_vec(),
            files: cfg
                .file_sd_configs
                .iter()
                .cloned()
                .map(FileSource::new)
                .collect(),
            polled,
        }
    }

    /// What the job's sources hold right now, each read or fetched once (for one-off tools
    /// such as `wasmfed relabel test`); nothing keeps it up to date.
    pub async fn snapshot(cfg: &ScrapeConfig, fetcher: &Fetcher) -> Result<Self, String> {
        let mut polled = Vec::new();
        for config in &cfg.http_sd_configs {
            let source = http::once(config, fetcher)
                .await
                .map_err(|e| format!("http_sd_configs {:?}: {e}", config.url))?;
            polled.push(source);
        }
        for config in &cfg.dns_sd_configs {
            polled.push(dns::once(config).await?);
        }
        for config in &cfg.kubernetes_sd_configs {
            let source = kubernetes::once(config, fetcher)
                .await
                .map_err(|e| format!("kubernetes_sd_configs role {}: {e}", config.role.as_str()))?;
            polled.push(source);
        }
        for config in &cfg.docker_sd_configs {
            let source = docker::once(config, fetcher)
                .await
                .map_err(|e| format!("docker_sd_configs {:?}: {e}", config.host))?;
            polled.push(source);
        }
        let mut discovery = Self::with_polled(cfg.into(), polled);
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
        for source in &mut self.polled {
            changed |= source.refresh();
        }
        changed
    }

    /// Every current target group of the job.
    pub fn groups(&self) -> impl Iterator<Item = &TargetGroup> {
        self.static_groups
            .iter()
            .chain(self.files.iter().flat_map(|f| f.groups.iter()))
            .chain(self.polled.iter().flat_map(|p| p.groups.iter()))
    }

    /// Whether the groups can change while the job runs (anything but static targets).
    pub fn is_dynamic(&self) -> bool {
        !self.files.is_empty() || !self.polled.is_empty()
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
        let mut d = Discovery::new(&job(dir.path()), &Fetcher::default(), &Telemetry::default());
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
