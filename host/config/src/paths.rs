//! File paths inside a configuration, handled as Prometheus handles them: relative paths are
//! joined to the configuration file's directory and cleaned lexically (Go's `filepath.Join`),
//! and globs expand to the matching files in name order, unreadable entries skipped (Go's
//! `filepath.Glob`). Keeping the same spelling matters because file_sd uses the path in target
//! group sources and in the `__meta_filepath` label.

use std::path::{Component, Path, PathBuf};

use super::error::{ConfigError, FileKind};

/// Joins a relative `path` to `dir` and cleans the result; absolute or empty paths are kept.
pub(super) fn join_dir(dir: &Path, path: &str) -> String {
    if path.is_empty() || Path::new(path).is_absolute() {
        return path.to_string();
    }
    clean(&dir.join(path)).to_string_lossy().into_owned()
}

/// Go's `filepath.Clean` on the lexical level: drops `.`, folds `name/..`, keeps leading `..`.
fn clean(path: &Path) -> PathBuf {
    let mut parts: Vec<Component> = Vec::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(part),
            },
            _ => parts.push(part),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// The files matching a glob, in name order.
pub(super) fn expand_glob(pattern: &str, kind: FileKind) -> Result<Vec<PathBuf>, ConfigError> {
    let paths = glob::glob(pattern).map_err(|error| ConfigError::Pattern {
        kind,
        pattern: pattern.to_string(),
        error,
    })?;
    Ok(paths.filter_map(Result::ok).collect())
}

/// Reads a file for `kind`, naming it in the error.
pub(super) fn read(path: &Path, kind: FileKind) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        kind,
        path: path.to_path_buf(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_like_go() {
        for (dir, path, joined) in [
            (
                "/etc/prometheus",
                "rules/*.yml",
                "/etc/prometheus/rules/*.yml",
            ),
            (
                "/etc/prometheus",
                "./targets.json",
                "/etc/prometheus/targets.json",
            ),
            ("/etc/prometheus", "../shared/t.yml", "/etc/shared/t.yml"),
            ("/etc/prometheus", "/abs/t.yml", "/abs/t.yml"),
            ("/etc/prometheus", "", ""),
            (".", "rules.yml", "rules.yml"),
            ("", "rules.yml", "rules.yml"),
            ("conf", "../../x.yml", "../x.yml"),
            ("/", "../x.yml", "/x.yml"),
        ] {
            assert_eq!(join_dir(Path::new(dir), path), joined, "{dir} + {path}");
        }
    }

    #[test]
    fn globs_list_matches_in_order_and_reject_bad_patterns() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yml", "a.yml", "c.json"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let pattern = format!("{}/*.yml", dir.path().display());
        let names: Vec<_> = expand_glob(&pattern, FileKind::Rules)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.yml", "b.yml"]);
        let missing = format!("{}/none/*.yml", dir.path().display());
        assert!(expand_glob(&missing, FileKind::Rules).unwrap().is_empty());
        let err = expand_glob("a/[b.yml", FileKind::Rules).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("rule file pattern \"a/[b.yml\": "),
            "{err}"
        );
    }
}
