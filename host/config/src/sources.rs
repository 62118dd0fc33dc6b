//! Where targets come from: the service discovery keys a scrape config and an Alertmanager set
//! share (`static_configs`, `file_sd_configs`, `http_sd_configs`, `dns_sd_configs`,
//! `kubernetes_sd_configs`, `docker_sd_configs`), read,
//! checked and resolved the same way for both, as Prometheus inlines its `discovery.Configs`
//! into either.

use std::path::Path;

use serde::de::{self, MapAccess};

use super::dns_sd::DnsSdConfig;
use super::docker_sd::{DockerSdConfig, RawDockerSdConfig};
use super::file_sd::FileSdConfig;
use super::http_sd::{HttpSdConfig, RawHttpSdConfig};
use super::kubernetes_sd::{KubernetesSdConfig, RawKubernetesSdConfig};
use super::paths::join_dir;
use super::scrape::non_null;
use super::target_group::{RawTargetGroup, TargetGroup};

/// The keys read here.
pub(super) const KEYS: [&str; 6] = [
    "static_configs",
    "file_sd_configs",
    "http_sd_configs",
    "dns_sd_configs",
    "kubernetes_sd_configs",
    "docker_sd_configs",
];

/// The sources as written.
#[derive(Default)]
pub(super) struct RawSources {
    static_groups: Vec<RawTargetGroup>,
    file_sd_configs: Vec<FileSdConfig>,
    http_sd_configs: Vec<RawHttpSdConfig>,
    pub(super) dns_sd_configs: Vec<DnsSdConfig>,
    kubernetes_sd_configs: Vec<RawKubernetesSdConfig>,
    docker_sd_configs: Vec<RawDockerSdConfig>,
}

/// The sources resolved: file paths joined to the configuration's directory, static groups
/// numbered (their `source`, as in Prometheus), HTTP clients read.
pub(super) struct Sources {
    pub(super) static_configs: Vec<TargetGroup>,
    pub(super) file_sd_configs: Vec<FileSdConfig>,
    pub(super) http_sd_configs: Vec<HttpSdConfig>,
    pub(super) dns_sd_configs: Vec<DnsSdConfig>,
    pub(super) kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    pub(super) docker_sd_configs: Vec<DockerSdConfig>,
}

impl RawSources {
    /// Reads the value of `key` (one of [`KEYS`]); a null entry is refused with Prometheus'
    /// words.
    pub(super) fn read<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let what = format!("empty or null section in {key}");
        let fail = de::Error::custom;
        match key {
            "static_configs" => {
                self.static_groups = non_null(map.next_value()?, &what).map_err(fail)?
            }
            "file_sd_configs" => {
                self.file_sd_configs = non_null(map.next_value()?, &what).map_err(fail)?
            }
            "http_sd_configs" => {
                self.http_sd_configs = non_null(map.next_value()?, &what).map_err(fail)?
            }
            "dns_sd_configs" => {
                self.dns_sd_configs = non_null(map.next_value()?, &what).map_err(fail)?
            }
            "kubernetes_sd_configs" => {
                self.kubernetes_sd_configs = non_null(map.next_value()?, &what).map_err(fail)?
            }
            "docker_sd_configs" => {
                self.docker_sd_configs = non_null(map.next_value()?, &what).map_err(fail)?
            }
            _ => unreachable!("only sources::KEYS are read here"),
        }
        Ok(())
    }

    /// Prometheus looks for URLs among static targets only when no relabeling could fix
    /// them (`relabeled`: the config has relabel rules).
    pub(super) fn check_static(&self, relabeled: bool) -> Result<(), String> {
        if relabeled {
            return Ok(());
        }
        self.static_groups
            .iter()
            .try_for_each(RawTargetGroup::check_addresses)
    }

    pub(super) fn resolve(self, dir: &Path) -> Result<Sources, String> {
        Ok(Sources {
            static_configs: self
                .static_groups
                .into_iter()
                .enumerate()
                .map(|(i, group)| group.into_group(i.to_string()))
                .collect(),
            file_sd_configs: self
                .file_sd_configs
                .into_iter()
                .map(|mut sd| {
                    sd.files = sd.files.iter().map(|f| join_dir(dir, f)).collect();
                    sd
                })
                .collect(),
            http_sd_configs: self
                .http_sd_configs
                .into_iter()
                .map(|sd| sd.resolve(dir))
                .collect::<Result<_, _>>()?,
            dns_sd_configs: self.dns_sd_configs,
            kubernetes_sd_configs: self
                .kubernetes_sd_configs
                .into_iter()
                .map(|sd| sd.resolve(dir))
                .collect::<Result<_, _>>()?,
            docker_sd_configs: self
                .docker_sd_configs
                .into_iter()
                .map(|sd| sd.resolve(dir))
                .collect::<Result<_, _>>()?,
        })
    }
}
