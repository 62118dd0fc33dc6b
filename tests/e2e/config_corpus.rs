//! `wasmfed check config` against Debian's `promtool check config` (2.42) on a corpus written
//! by others (tests/configs/SOURCES.md): Prometheus' own test configurations in
//! `prometheus-2.42/`, and configurations from other projects in `real-world/<name>/prometheus.yml`
//! (one folder each, so the rule files they name sit where they expect them). Each file is
//! accepted by both, or refused by both for the same reason (promtool's message found in
//! wasmfed's). Files where they differ are listed, by their path under tests/configs, with the
//! reason in tests/configs/known-differences.txt: a file there whose verdicts now agree fails the
//! test too, so the list only ever shrinks with the gaps it names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A checker's verdict on one file: None when accepted, else its reason.
type Verdict = Option<String>;

/// promtool's verdict: the reason after `FAILED:` (and after `parsing YAML file <f>:`); for
/// YAML decoding errors, the first error line without its line number.
fn promtool(dir: &Path, file: &str) -> Verdict {
    let out = Command::new("/usr/bin/promtool")
        .args(["check", "config", file])
        .current_dir(dir)
        .output()
        .expect("running promtool (./test.sh installs Debian's prometheus package)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        return None;
    }
    let mut lines = text.lines();
    let failed = lines.find_map(|l| l.split_once("FAILED: ").map(|(_, r)| r))?;
    let reason = match failed.split_once(&format!("parsing YAML file {file}: ")) {
        Some((_, reason)) => reason,
        None => failed,
    };
    if reason.trim() == "yaml: unmarshal errors:" {
        let detail = lines.next().unwrap_or_default().trim();
        let detail = detail.split_once(": ").map_or(detail, |(_, d)| d);
        return Some(detail.to_owned());
    }
    Some(reason.trim().to_owned())
}

fn wasmfed(dir: &Path, file: &str) -> Verdict {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmfed"))
        .args(["--query.compat=2", "check", "config", file])
        .current_dir(dir)
        .output()
        .unwrap();
    if out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Some(
        text.lines()
            .find_map(|l| l.split_once("FAILED: ").map(|(_, r)| r.to_owned()))
            .unwrap_or(text),
    )
}

/// Go's YAML decoder names an unknown or repeated key in its own words; serde's words for the
/// same refusal.
fn serde_words(go: &str) -> Option<String> {
    let (field, rest) = go.strip_prefix("field ")?.split_once(' ')?;
    if rest.starts_with("not found in type") {
        Some(format!("unknown field `{field}`"))
    } else if rest.starts_with("already set in type") {
        Some(format!("duplicate field `{field}`"))
    } else {
        None
    }
}

/// How the two verdicts compare.
fn compare(promtool: &Verdict, wasmfed: &Verdict) -> Result<(), String> {
    match (promtool, wasmfed) {
        (None, None) => Ok(()),
        (Some(p), Some(w)) if w.contains(p.as_str()) => Ok(()),
        (Some(p), Some(w)) if serde_words(p).is_some_and(|s| w.contains(&s)) => Ok(()),
        (p, w) => Err(format!("promtool: {p:?}\n    wasmfed:  {w:?}")),
    }
}

/// The corpus' configuration files as (folder to run the checkers in, file name, path under
/// tests/configs): every `*.yml` of `prometheus-2.42/`, and `real-world/*/prometheus.yml`.
fn corpus(root: &Path) -> Vec<(PathBuf, String, String)> {
    let listing = |dir: &Path| -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        paths
    };
    let prometheus = listing(&root.join("prometheus-2.42"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml"));
    let real_world = listing(&root.join("real-world"))
        .into_iter()
        .map(|d| d.join("prometheus.yml"))
        .filter(|p| p.is_file());
    prometheus
        .chain(real_world)
        .map(|path| {
            let file = path.file_name().unwrap().to_str().unwrap().to_owned();
            let key = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            (path.parent().unwrap().to_owned(), file, key)
        })
        .collect()
}

#[test]
fn check_config_agrees_with_promtool_on_others_configurations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/configs");
    let known: BTreeMap<String, String> =
        std::fs::read_to_string(root.join("known-differences.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (file, why) = l.split_once(" | ").unwrap_or((l, ""));
                (file.trim().to_owned(), why.trim().to_owned())
            })
            .collect();
    let files = corpus(&root);
    let real_world = files
        .iter()
        .filter(|(_, _, k)| k.starts_with("real-world/"))
        .count();
    assert!(
        files.len() - real_world >= 100,
        "Prometheus' corpus is there: {}",
        files.len()
    );
    assert!(
        real_world >= 10,
        "the real-world corpus is there: {real_world}"
    );
    let (mut agree, mut unexpected, mut stale) = (0, Vec::new(), Vec::new());
    for (dir, file, key) in &files {
        let outcome = compare(&promtool(dir, file), &wasmfed(dir, file));
        match (outcome, known.get(key)) {
            (Ok(()), None) => agree += 1,
            (Ok(()), Some(_)) => stale.push(key.clone()),
            (Err(_), Some(_)) => {}
            (Err(diff), None) => unexpected.push(format!("{key}\n    {diff}")),
        }
    }
    let unknown: Vec<&String> = known
        .keys()
        .filter(|k| !files.iter().any(|(_, _, key)| key == *k))
        .collect();
    eprintln!(
        "{} files: {agree} agree, {} known differences",
        files.len(),
        known.len()
    );
    assert!(
        unexpected.is_empty() && stale.is_empty() && unknown.is_empty(),
        "differences not in known-differences.txt:\n{}\nlisted but now agreeing: {stale:?}\n\
         listed but not in the corpus: {unknown:?}",
        unexpected.join("\n")
    );
}
