//! A `wasmfed plugin new` project's component loaded into a real node with the snippet its
//! README gives, as a new user would paste it.
//!
//! The README's YAML block is read as it is; the test changes only what must differ here:
//! the component's path (the test builds in its own target folder; the snippet's file name
//! must still be the built one's), the job's targets (a test exporter and a `debug_` one),
//! job names (one per kind, so the three kinds run side by side in one node) and a rule
//! interval short enough to wait for.

use std::net::SocketAddr;
use std::path::Path;

use serde_yaml::{Mapping, Value};

/// One project: its kind (`target`, `series`, `rules`), folder and built component.
pub struct Loaded<'a> {
    pub kind: &'a str,
    pub dir: &'a Path,
    pub component: &'a Path,
}

/// A node configuration with every project of `projects` loaded as its README says: the
/// target and series plugins as jobs `{prefix}-target` and `{prefix}-series` scraping
/// `exporter` (the target job also a `debug_` address the target plugin must drop), the rule
/// plugin evaluated every second.
pub fn config(prefix: &str, projects: &[Loaded<'_>], exporter: SocketAddr) -> String {
    let mut scrape_configs = Vec::new();
    let mut rule_plugins = Vec::new();
    for project in projects {
        let readme = std::fs::read_to_string(project.dir.join("README.md")).unwrap();
        let snippet = yaml_block(&readme)
            .unwrap_or_else(|| panic!("{}: no ```yaml block in\n{readme}", project.dir.display()));
        let mut snippet: Mapping = serde_yaml::from_str(snippet)
            .unwrap_or_else(|e| panic!("{}: README's YAML: {e}", project.dir.display()));
        if project.kind == "rules" {
            let mut rule = only(&mut snippet, "rule_plugins");
            use_component(&mut rule, project);
            rule.insert("interval".into(), "1s".into());
            rule_plugins.push(Value::Mapping(rule));
            continue;
        }
        let mut job = only(&mut snippet, "scrape_configs");
        let key = format!("{}_plugins", project.kind);
        let mut plugin = only(&mut job, &key);
        use_component(&mut plugin, project);
        job.insert(key.into(), Value::Sequence(vec![Value::Mapping(plugin)]));
        job.insert(
            "job_name".into(),
            format!("{prefix}-{}", project.kind).into(),
        );
        let mut targets = vec![Value::from(exporter.to_string())];
        if project.kind == "target" {
            targets.push("debug_b:9100".into());
        }
        let mut group = Mapping::new();
        group.insert("targets".into(), Value::Sequence(targets));
        job.insert(
            "static_configs".into(),
            Value::Sequence(vec![Value::Mapping(group)]),
        );
        scrape_configs.push(Value::Mapping(job));
    }
    let mut config = Mapping::new();
    config.insert(
        "global".into(),
        serde_yaml::from_str("{scrape_interval: 1s, scrape_timeout: 1s}").unwrap(),
    );
    config.insert("scrape_configs".into(), Value::Sequence(scrape_configs));
    config.insert("rule_plugins".into(), Value::Sequence(rule_plugins));
    serde_yaml::to_string(&config).unwrap()
}

/// The text of a README's first ```yaml block.
fn yaml_block(readme: &str) -> Option<&str> {
    let start = readme.find("```yaml\n")? + "```yaml\n".len();
    let len = readme[start..].find("```")?;
    Some(&readme[start..start + len])
}

/// The one entry of a list under `key`, which the snippet must have.
fn only(map: &mut Mapping, key: &str) -> Mapping {
    match map.remove(key) {
        Some(Value::Sequence(mut list)) if list.len() == 1 => match list.remove(0) {
            Value::Mapping(entry) => entry,
            other => panic!("{key}: {other:?}"),
        },
        other => panic!("the README's snippet has no single {key}: {other:?}"),
    }
}

/// Points the snippet's `file:` at the built component, which must be the file it names.
fn use_component(plugin: &mut Mapping, project: &Loaded<'_>) {
    let file = plugin
        .get("file")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{}: the snippet names no file", project.dir.display()));
    assert_eq!(
        Path::new(file).file_name(),
        project.component.file_name(),
        "{}: the README loads {file}",
        project.dir.display()
    );
    plugin.insert(
        "file".into(),
        project.component.display().to_string().into(),
    );
}
