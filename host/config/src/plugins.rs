//! `target_plugins` and `series_plugins`: wasmfed's own scrape-config keys naming the
//! WebAssembly components a job runs at its target stage and its series stage.
//!
//! ```yaml
//! target_plugins:
//!   - stock: hashmod-shard            # a plugin shipped with wasmfed
//!     config: {modulus: 4, shard: 1}
//!   - file: plugins/rendezvous.wasm   # a component of your own, relative to this file
//!     name: rendezvous                # how logs and metrics call it (default: stock name or file stem)
//!     sha256: 9f86d081884c7d65...     # optional pin: any other content is refused
//!     config: {nodes: [a, b, c], self: b}
//! ```
//!
//! A pinned plugin (`sha256:`, 64 hex digits, as `wasmfed plugin inspect` prints it) is loaded
//! only with exactly that content: a config naming a file that differs is refused with both
//! hashes, and so is a changed file or an upload meant to replace it.
//!
//! They run after the job's `relabel_configs` / `metric_relabel_configs` (which wasmfed runs
//! through its stock `relabel` plugin), in the order written. `config` may be any YAML; the
//! plugin receives it as JSON text in `init`.
//!
//! `rule_plugins`, at the top level, are rule-stage components evaluated on a schedule beside
//! the `rule_files` groups (which run through the stock `promql-rules`):
//!
//! ```yaml
//! rule_plugins:
//!   - file: cardinality_report.wasm
//!     name: cardinality
//!     interval: 1m                    # default: global.evaluation_interval
//!     config: {top: 10}
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::duration::Duration;
use super::paths::join_dir;

/// Where a plugin's component comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginSource {
    /// A plugin built with wasmfed (`relabel`, `hashmod-shard`).
    Stock(String),
    /// A component file, already resolved against the config file's directory.
    File(PathBuf),
}

/// One plugin a job runs at one stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRef {
    pub name: String,
    pub source: PluginSource,
    /// The only content accepted (lowercase hex sha256), if pinned.
    pub sha256: Option<String>,
    /// The plugin's configuration as JSON text; `null` when none was written.
    pub config_json: String,
}

/// A rule-stage plugin and how often it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulePluginRef {
    pub plugin: PluginRef,
    /// `None`: the global `evaluation_interval`.
    pub interval: Option<Duration>,
}

/// A sha256 as pins and allow-lists write it: 64 hexadecimal digits, lowercased.
pub(super) fn sha256_hex(text: &str) -> Option<String> {
    let ok = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| text.to_ascii_lowercase())
}

/// Refuses a tenant's plugin files not pinned to a hash its `allowed_plugins` lists (stock
/// plugins are the node's own and always allowed). The pin does the rest: a file that differs
/// is refused at load, and an upload through the admin API is refused for a pinned plugin.
pub(super) fn check_allowed<'a>(
    plugins: impl IntoIterator<Item = &'a PluginRef>,
    allowed: &[String],
) -> Result<(), String> {
    if allowed.is_empty() {
        return Ok(());
    }
    for plugin in plugins {
        let PluginSource::File(path) = &plugin.source else {
            continue;
        };
        match &plugin.sha256 {
            Some(pin) if allowed.contains(pin) => {}
            Some(pin) => {
                return Err(format!(
                    "plugin {:?} is pinned to {pin}, which is not among allowed_plugins",
                    plugin.name
                ))
            }
            None => {
                return Err(format!(
                    "plugin {:?} ({}) has no sha256 pin: with allowed_plugins set, each plugin \
                     file must be pinned to one of them",
                    plugin.name,
                    path.display()
                ))
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPluginRef {
    name: Option<String>,
    stock: Option<String>,
    file: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    config: serde_yaml::Value,
    #[serde(default)]
    interval: Option<Duration>,
}

impl RawPluginRef {
    /// Checks a `rule_plugins` entry.
    pub(super) fn resolve_rule(mut self, dir: &Path) -> Result<RulePluginRef, String> {
        let interval = self.interval.take();
        if interval.is_some_and(Duration::is_zero) {
            return Err("interval must be greater than zero".into());
        }
        Ok(RulePluginRef {
            plugin: self.resolve(dir)?,
            interval,
        })
    }

    /// Checks the entry and resolves its file against `dir`.
    pub(super) fn resolve(self, dir: &Path) -> Result<PluginRef, String> {
        if self.interval.is_some() {
            return Err("`interval` is only for `rule_plugins`".into());
        }
        let source = match (self.stock, self.file) {
            (Some(stock), None) => PluginSource::Stock(stock),
            (None, Some(file)) => PluginSource::File(PathBuf::from(join_dir(dir, &file))),
            (Some(_), Some(_)) => {
                return Err("a plugin names either `stock` or `file`, not both".into())
            }
            (None, None) => return Err("a plugin needs `stock: <name>` or `file: <path>`".into()),
        };
        let name = match (self.name, &source) {
            (Some(name), _) if !name.is_empty() => name,
            (Some(_), _) => return Err("plugin name must not be empty".into()),
            (None, PluginSource::Stock(stock)) => stock.clone(),
            (None, PluginSource::File(path)) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
        };
        let config_json = serde_json::to_string(&self.config)
            .map_err(|e| format!("plugin {name:?}: config cannot be passed as JSON: {e}"))?;
        let sha256 = match self.sha256 {
            Some(pin) => Some(sha256_hex(&pin).ok_or_else(|| {
                format!("plugin {name:?}: sha256 {pin:?} is not 64 hexadecimal digits")
            })?),
            None => None,
        };
        Ok(PluginRef {
            name,
            source,
            sha256,
            config_json,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(yaml: &str) -> Result<PluginRef, String> {
        let raw: RawPluginRef = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        raw.resolve(Path::new("/etc/wasmfed"))
    }

    #[test]
    fn entries() {
        let p = resolve("stock: hashmod-shard\nconfig: {modulus: 4, shard: 1}").unwrap();
        assert_eq!(p.name, "hashmod-shard");
        assert_eq!(p.source, PluginSource::Stock("hashmod-shard".into()));
        assert_eq!(p.config_json, r#"{"modulus":4,"shard":1}"#);

        let p = resolve("file: plugins/rdv.wasm").unwrap();
        assert_eq!(p.name, "rdv");
        assert_eq!(
            p.source,
            PluginSource::File("/etc/wasmfed/plugins/rdv.wasm".into())
        );
        assert_eq!(p.config_json, "null");

        let pin = "AB".repeat(32);
        let p = resolve(&format!("file: x.wasm\nsha256: {pin}")).unwrap();
        assert_eq!(p.sha256, Some("ab".repeat(32)));

        let p = resolve("file: /abs/x.wasm\nname: mine").unwrap();
        assert_eq!(
            (p.name.as_str(), p.source),
            ("mine", PluginSource::File("/abs/x.wasm".into()))
        );
    }

    #[test]
    fn errors() {
        for (yaml, want) in [
            ("config: {}", "needs `stock"),
            ("stock: a\nfile: b", "not both"),
            ("stock: a\nname: ''", "must not be empty"),
            ("stock: a\nconfg: {}", "unknown field `confg`"),
            ("stock: a\nsha256: abc", "not 64 hexadecimal digits"),
        ] {
            let err = resolve(yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}: {err}");
        }
    }
}
