//! File-based service discovery (`file_sd_configs`), as Prometheus' `discovery/file` reads it.
//!
//! The configuration part is checked when the config is loaded (at least one path; `*` only in
//! the last path component; a `.json`, `.yml` or `.yaml` extension). [`read_file_sd`] reads the
//! target groups the files hold now; watching them and re-reading every `refresh_interval` is the
//! scrape side's business. Each group gets `__meta_filepath` and the source `<file>:<index>`, as
//! in Prometheus, so relabeling and target identity work the same.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Deserializer};

use super::duration::Duration;
use super::error::{ConfigError, FileKind};
use super::paths::{expand_glob, read};
use super::target_group::{RawTargetGroup, TargetGroup};
use super::yaml::{checked_map, null_as_zero};

/// Label naming the file a target group came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// Prometheus' `patFileSDName`.
static FILE_SD_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$").expect("static regex")
});

const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// One `file_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSdConfig {
    /// Glob patterns, already joined to the configuration file's directory.
    pub files: Vec<String>,
    pub refresh_interval: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileSdConfig {
    #[serde(default, deserialize_with = "null_as_zero")]
    files: Vec<Option<String>>,
    #[serde(
        default = "default_refresh_interval",
        deserialize_with = "null_as_zero"
    )]
    refresh_interval: Duration,
}

fn default_refresh_interval() -> Duration {
    DEFAULT_REFRESH_INTERVAL
}

impl RawFileSdConfig {
    fn validate(self) -> Result<FileSdConfig, String> {
        let files: Vec<String> = self
            .files
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        if files.is_empty() {
            return Err("file service discovery config must contain at least one path name".into());
        }
        if let Some(bad) = files.iter().find(|f| !FILE_SD_NAME.is_match(f)) {
            return Err(format!("path name {bad:?} is not valid for file discovery"));
        }
        // Prometheus would accept 0 and then crash creating its refresh ticker.
        if self.refresh_interval.is_zero() {
            return Err("file service discovery refresh_interval must be greater than 0s".into());
        }
        Ok(FileSdConfig {
            files,
            refresh_interval: self.refresh_interval,
        })
    }
}

impl<'de> Deserialize<'de> for FileSdConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_map(d, "a file_sd config", RawFileSdConfig::validate)
    }
}

/// Reads the target groups of every file matching `cfg.files`, in pattern order and then name
/// order. A file that cannot be read or parsed fails the whole call, naming the file.
pub fn read_file_sd(cfg: &FileSdConfig) -> Result<Vec<TargetGroup>, ConfigError> {
    let mut groups = Vec::new();
    for pattern in &cfg.files {
        for path in expand_glob(pattern, FileKind::FileSd)? {
            groups.extend(read_target_file(&path)?);
        }
    }
    Ok(groups)
}

fn read_target_file(path: &Path) -> Result<Vec<TargetGroup>, ConfigError> {
    let kind = FileKind::FileSd;
    let text = read(path, kind)?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    type Groups = Option<Vec<Option<RawTargetGroup>>>;
    let raw: Groups = match ext.as_str() {
        "json" => serde_json::from_str(&text).map_err(|error| ConfigError::Json {
            kind,
            path: path.to_path_buf(),
            error,
        })?,
        "yml" | "yaml" => serde_yaml::from_str(&text).map_err(|error| ConfigError::Yaml {
            kind,
            path: path.to_path_buf(),
            error,
        })?,
        _ => {
            return Err(ConfigError::Invalid {
                kind,
                path: path.to_path_buf(),
                message: format!("unhandled file extension {:?}", format!(".{ext}")),
            })
        }
    };
    let name = path.to_string_lossy();
    raw.unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, group)| {
            let group = group.ok_or_else(|| ConfigError::Invalid {
                kind,
                path: path.to_path_buf(),
                message: "nil target group item found".into(),
            })?;
            let mut group = group.into_group(format!("{name}:{i}"));
            group.labels.set(FILEPATH_LABEL, name.as_ref());
            Ok(group)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_model::Labels;

    fn config(yaml: &str) -> Result<FileSdConfig, String> {
        serde_yaml::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn config_defaults_and_errors() {
        let c = config("files: [a/*.json, b.yml]").unwrap();
        assert_eq!(c.files, ["a/*.json", "b.yml"]);
        assert_eq!(c.refresh_interval, Duration::from_secs(300));
        assert_eq!(
            config("files: [x.yaml]\nrefresh_interval: 30s")
                .unwrap()
                .refresh_interval,
            Duration::from_secs(30)
        );
        for (yaml, message) in [
            (
                "files: []",
                "file service discovery config must contain at least one path name",
            ),
            (
                "refresh_interval: 1m",
                "must contain at least one path name",
            ),
            (
                "files: [targets.txt]",
                r#"path name "targets.txt" is not valid for file discovery"#,
            ),
            (
                "files: ['*/t.json']",
                r#"path name "*/t.json" is not valid for file discovery"#,
            ),
            (
                "files: [t.json]\nrefresh_interval: 0s",
                "refresh_interval must be greater than 0s",
            ),
            ("files: [t.json]\nrefresh: 1m", "unknown field `refresh`"),
        ] {
            let err = config(yaml).expect_err(yaml);
            assert!(err.contains(message), "{yaml}: {err}");
        }
    }

    #[test]
    fn reads_json_and_yaml_files_through_globs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("a.json"),
            r#"[{"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod"}}, {"targets": ["h3:9100"]}]"#,
        )
        .unwrap();
        std::fs::write(
            d.join("b.yml"),
            "- targets: ['h4:9100']\n  labels:\n    shard: 1\n",
        )
        .unwrap();
        std::fs::write(d.join("c.YAML"), "").unwrap();
        std::fs::write(d.join("ignored.txt"), "not targets").unwrap();
        let cfg = FileSdConfig {
            files: vec![
                format!("{}/*.json", d.display()),
                format!("{}/*.yml", d.display()),
                format!("{}/*.YAML", d.display()),
            ],
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
        };
        let groups = read_file_sd(&cfg).unwrap();
        let a = format!("{}/a.json", d.display());
        let b = format!("{}/b.yml", d.display());
        assert_eq!(
            groups,
            [
                TargetGroup {
                    targets: vec!["h1:9100".into(), "h2:9100".into()],
                    target_labels: vec![],
                    labels: Labels::from_pairs([("env", "prod"), (FILEPATH_LABEL, a.as_str())]),
                    source: format!("{a}:0"),
                },
                TargetGroup {
                    targets: vec!["h3:9100".into()],
                    target_labels: vec![],
                    labels: Labels::from_pairs([(FILEPATH_LABEL, a.as_str())]),
                    source: format!("{a}:1"),
                },
                TargetGroup {
                    targets: vec!["h4:9100".into()],
                    target_labels: vec![],
                    labels: Labels::from_pairs([("shard", "1"), (FILEPATH_LABEL, b.as_str())]),
                    source: format!("{b}:0"),
                },
            ]
        );
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (name, content, message) in [
            (
                "bad.json",
                r#"[{"targets": "h1"}]"#,
                "invalid type: string \"h1\", expected a sequence at line 1 column 17",
            ),
            (
                "num.json",
                r#"[{"targets": ["h1"], "labels": {"a": 1}}]"#,
                "invalid type: integer `1`, expected a string",
            ),
            (
                "extra.json",
                r#"[{"targets": [], "port": 1}]"#,
                "unknown field `port`",
            ),
            (
                "bad.yml",
                "- targets: [h1]\n  labels: {1a: x}\n",
                "[0].labels: \"1a\" is not a valid label name at line 2",
            ),
            (
                "null.yml",
                "- targets: [h1]\n- ~\n",
                "nil target group item found",
            ),
        ] {
            let path = d.join(name);
            std::fs::write(&path, content).unwrap();
            let cfg = FileSdConfig {
                files: vec![path.to_string_lossy().into_owned()],
                refresh_interval: DEFAULT_REFRESH_INTERVAL,
            };
            let err = read_file_sd(&cfg).expect_err(name).to_string();
            let prefix = format!("loading file_sd file {path:?}: ");
            assert!(err.starts_with(&prefix), "{name}: {err}");
            assert!(err.contains(message), "{name}: {err}");
        }
    }
}
