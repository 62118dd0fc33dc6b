//! `tenants`: wasmfed's own top-level key for running many teams' scrapes, plugins and rules in
//! one node, each with its own storage, credential and limits.
//!
//! ```yaml
//! tenants:
//!   - name: team-a                       # [A-Za-z0-9_.-]+, sent as X-Scope-OrgID
//!     bearer_token_file: team-a.token    # or bearer_token; required
//!     limits:
//!       max_series: 100000               # active series in the tenant's storage (0: none)
//!       sample_limit: 50000              # most samples one scrape may store (caps each job's)
//!       plugin_memory: 64MB              # per plugin instance
//!       plugin_fuel: 350000000           # per plugin call
//!       plugin_max_output_labels: 1000000
//!     allowed_plugins: [<sha256>, ...]   # optional: the only plugin files it may run
//!     scrape_configs: [...]              # exactly as at the top level
//!     rule_files: [...]
//!     rule_plugins: [...]
//!     remote_write: [...]                # exactly as at the top level
//! ```
//!
//! The top-level `scrape_configs`, `rule_files`, `rule_plugins` and `remote_write` are the
//! node's own tenant ([`DEFAULT_TENANT`]), served without `X-Scope-OrgID` as a plain Prometheus
//! would be; a `prometheus.yml` without `tenants:` is that tenant alone.
//!
//! A tenant's `remote_write` sends only the tenant's own series, never the node's or another
//! tenant's (nor does a tenant inherit the top-level `remote_write`), and adds
//! `X-Scope-OrgID: <name>` to each request unless its `headers` set that header (in any case),
//! so a multi-tenant receiver (Mimir, Cortex, another wasmfed) files them under the same
//! tenant. Its `series_plugins` are held to `allowed_plugins` as its scrape configs' are.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::admin::read_token;
use super::global::GlobalConfig;
use super::plugins::{check_allowed, sha256_hex, RawPluginRef, RulePluginRef};
use super::remote_write::{RawRemoteWrites, RemoteWriteConfig};
use super::scrape::{RawScrapeConfig, ScrapeConfig};
use super::size::Size;
use super::{resolve_section, RulePath};

/// The name of the node's own tenant.
pub const DEFAULT_TENANT: &str = "default";

static TENANT_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_.-]+$").expect("static regex"));

/// One tenant's configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantConfig {
    pub name: String,
    pub bearer_token: String,
    pub limits: TenantLimits,
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Globs joined to the configuration's directory, as the top-level `rule_files`.
    pub rule_files: Vec<String>,
    pub rule_plugins: Vec<RulePluginRef>,
    /// Where the tenant's own series are sent; see the module documentation.
    pub remote_write: Vec<RemoteWriteConfig>,
    /// The hashes of the plugin files the tenant may run (empty: any); each of its plugin files
    /// must be pinned to one of them.
    pub allowed_plugins: Vec<String>,
}

impl std::fmt::Debug for TenantConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantConfig")
            .field("name", &self.name)
            .field("bearer_token", &"<secret>")
            .field("limits", &self.limits)
            .field("scrape_configs", &self.scrape_configs)
            .field("rule_files", &self.rule_files)
            .field("rule_plugins", &self.rule_plugins)
            .field("remote_write", &self.remote_write)
            .finish()
    }
}

/// What a tenant may use; zero or `None` means the node's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TenantLimits {
    /// Most active series in the tenant's storage; new series beyond it are refused.
    pub max_series: u64,
    /// Most samples one scrape may store; lowers each job's `sample_limit`.
    pub sample_limit: u64,
    pub plugin_memory: Option<u64>,
    pub plugin_fuel: Option<u64>,
    pub plugin_max_output_labels: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenant {
    name: String,
    bearer_token: Option<String>,
    bearer_token_file: Option<String>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    scrape_configs: Vec<RawScrapeConfig>,
    #[serde(default)]
    rule_files: Vec<RulePath>,
    #[serde(default)]
    rule_plugins: Vec<RawPluginRef>,
    #[serde(default)]
    remote_write: RawRemoteWrites,
    #[serde(default)]
    allowed_plugins: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default)]
    max_series: u64,
    #[serde(default)]
    sample_limit: u64,
    plugin_memory: Option<Size>,
    plugin_fuel: Option<u64>,
    plugin_max_output_labels: Option<u64>,
}

impl RawTenant {
    /// Checks one `tenants` entry; warnings are those of its scrape and remote write configs.
    pub(super) fn resolve(
        self,
        global: &GlobalConfig,
        dir: &Path,
    ) -> Result<(TenantConfig, Vec<String>), String> {
        let at = format!("tenant {:?}", self.name);
        if !TENANT_NAME.is_match(&self.name) {
            return Err(format!(
                "{at}: a tenant name is made of [A-Za-z0-9_.-], at least one"
            ));
        }
        if self.name == DEFAULT_TENANT {
            return Err(format!(
                "{at}: the name is the node's own tenant (the top-level scrape_configs)"
            ));
        }
        let bearer_token = read_token(self.bearer_token, self.bearer_token_file, dir)
            .map_err(|e| format!("{at}: {e}"))?
            .ok_or_else(|| format!("{at}: a tenant needs bearer_token or bearer_token_file"))?;
        let section = resolve_section(
            self.scrape_configs,
            self.rule_files.into_iter().map(|p| p.0).collect(),
            self.rule_plugins,
            global,
            dir,
        )
        .map_err(|e| format!("{at}: {e}"))?;
        let (remote_write, remote_write_warnings) = self
            .remote_write
            .resolve(dir, global.compat, &format!("{at}: "))
            .map_err(|e| format!("{at}: {e}"))?;
        let allowed_plugins = self
            .allowed_plugins
            .iter()
            .map(|h| {
                sha256_hex(h).ok_or_else(|| {
                    format!("{at}: allowed_plugins: {h:?} is not 64 hexadecimal digits")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let plugins = section
            .scrape_configs
            .iter()
            .flat_map(|c| c.target_plugins.iter().chain(&c.series_plugins))
            .chain(section.rule_plugins.iter().map(|r| &r.plugin))
            .chain(remote_write.iter().flat_map(|r| &r.series_plugins));
        check_allowed(plugins, &allowed_plugins).map_err(|e| format!("{at}: {e}"))?;
        let limits = TenantLimits {
            max_series: self.limits.max_series,
            sample_limit: self.limits.sample_limit,
            plugin_memory: self
                .limits
                .plugin_memory
                .map(Size::limit)
                .filter(|m| *m > 0),
            plugin_fuel: self.limits.plugin_fuel.filter(|f| *f > 0),
            plugin_max_output_labels: self.limits.plugin_max_output_labels.filter(|n| *n > 0),
        };
        let tenant = TenantConfig {
            name: self.name,
            bearer_token,
            limits,
            scrape_configs: section.scrape_configs,
            rule_files: section.rule_files,
            rule_plugins: section.rule_plugins,
            remote_write,
            allowed_plugins,
        };
        let mut warnings = section.warnings;
        warnings.extend(remote_write_warnings);
        Ok((tenant, warnings))
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use wasmfed_model::compat::Compat;

    fn load(yaml: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.token"), "from-file\n").unwrap();
        Config::from_yaml(yaml, dir.path(), Compat::V3)
            .map(|l| l.config)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn tenants_have_their_own_jobs_tokens_and_limits() {
        let config = load(
            "scrape_configs: [{job_name: own, static_configs: [{targets: ['h:1']}]}]
tenants:
  - name: a
    bearer_token: s3cret
    limits: {max_series: 10, sample_limit: 5, plugin_memory: 32MB, plugin_fuel: 1000}
    scrape_configs: [{job_name: own, static_configs: [{targets: ['h:2']}]}]
    rule_files: [a.rules]
  - name: b.team-2
    bearer_token_file: b.token
",
        )
        .unwrap();
        assert_eq!(config.scrape_configs[0].job_name, "own");
        let [a, b] = &config.tenants[..] else {
            panic!("{:?}", config.tenants)
        };
        assert_eq!((a.name.as_str(), a.bearer_token.as_str()), ("a", "s3cret"));
        assert_eq!(a.limits.max_series, 10);
        assert_eq!(a.limits.sample_limit, 5);
        assert_eq!(a.limits.plugin_memory, Some(32 << 20));
        assert_eq!(a.limits.plugin_fuel, Some(1000));
        assert_eq!(a.limits.plugin_max_output_labels, None);
        assert_eq!(
            a.scrape_configs[0].job_name, "own",
            "job names are per tenant"
        );
        assert!(a.rule_files[0].ends_with("a.rules"));
        assert_eq!(b.bearer_token, "from-file");
        assert!(b.scrape_configs.is_empty());
        assert!(
            !format!("{a:?}").contains("s3cret"),
            "tokens stay out of logs"
        );
    }

    #[test]
    fn bad_tenants_are_refused_with_the_reason() {
        let cases = [
            ("tenants: [{name: a}]", "a tenant needs bearer_token or bearer_token_file"),
            ("tenants: [{name: default, bearer_token: t}]", "the node's own tenant"),
            ("tenants: [{name: 'a/b', bearer_token: t}]", "[A-Za-z0-9_.-]"),
            (
                "tenants: [{name: a, bearer_token: t}, {name: a, bearer_token: u}]",
                "multiple tenants named \"a\"",
            ),
            ("tenants: [{name: a, bearer_token: t, token: x}]", "unknown field `token`"),
            (
                "tenants: [{name: a, bearer_token: t, scrape_configs: [{job_name: j}, {job_name: j}]}]",
                "tenant \"a\": found multiple scrape configs with job name \"j\"",
            ),
            ("tenants: [{name: a, bearer_token: t, limits: {max_series: -1}}]", "max_series"),
        ];
        for (yaml, want) in cases {
            let err = load(yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}: {err}");
        }
    }

    #[test]
    fn a_tenants_allowed_plugins_admit_only_pinned_files_among_them() {
        let good = "a".repeat(64);
        let other = "b".repeat(64);
        let tenant = |plugin: &str| {
            format!(
                "tenants:\n  - name: a\n    bearer_token: t\n    allowed_plugins: ['{}']\n    \
                 scrape_configs:\n      - job_name: j\n        series_plugins: [{plugin}]\n",
                good.to_uppercase()
            )
        };
        let config = load(&tenant(&format!("{{file: p.wasm, sha256: {good}}}"))).unwrap();
        assert_eq!(
            config.tenants[0].allowed_plugins,
            std::slice::from_ref(&good)
        );
        assert!(
            load(&tenant("{stock: relabel}")).is_ok(),
            "stock plugins are the node's"
        );
        let unpinned = load(&tenant("{file: p.wasm}")).unwrap_err();
        assert!(unpinned.contains("has no sha256 pin"), "{unpinned}");
        let elsewhere = load(&tenant(&format!("{{file: p.wasm, sha256: {other}}}"))).unwrap_err();
        assert!(
            elsewhere.contains("which is not among allowed_plugins"),
            "{elsewhere}"
        );
        let bad = load("tenants:\n  - name: a\n    bearer_token: t\n    allowed_plugins: [x]\n");
        assert!(bad.unwrap_err().contains("is not 64 hexadecimal digits"));
    }
}
