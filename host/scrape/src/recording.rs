//! A plugin step recorded as a `wasmfed plugin test` fixture: what one plugin of a stage was
//! given and what it answered, written so that the fixture passes against the same component
//! and fails the day it answers otherwise.
//!
//! Two places record: `wasmfed relabel test --record DIR` (a configuration and its discovery,
//! run offline) and a live node's `GET /api/v1/plugins/{name}/fixture` (the job's current
//! targets or a target's next scrape, through the plugins the node runs now). Both trace a
//! stage plugin by plugin ([`GuardedStage::trace`](crate::stages::GuardedStage::trace)) and
//! write the step here, so the fixture format has one writer.

use std::fmt::Write;

use wasmfed_config::{PluginRef, PluginSource};
use wasmfed_model::expfmt::push_label_value;
use wasmfed_model::Labels;
use wasmfed_plugin::World;

use crate::stages::StageTrace;

/// What one plugin of a stage was given and answered.
#[derive(Debug)]
pub struct Recording {
    pub world: World,
    pub plugin: PluginRef,
    pub input: Vec<Labels>,
    /// One answer per input (`None`: dropped).
    pub output: Vec<Option<Labels>>,
}

/// Each plugin step of a stage as its plugin saw it: the label sets that reached it (the
/// stage's input, or the step before's answer) and what it answered. `plugins` are the
/// stage's, in order; a step nothing reached is left out.
pub fn record(plugins: Vec<PluginRef>, world: World, traces: &[StageTrace]) -> Vec<Recording> {
    plugins
        .into_iter()
        .enumerate()
        .map(|(step, plugin)| {
            let reached = traces.iter().filter(|t| t.steps.len() > step);
            let (input, output) = reached
                .map(|t| {
                    let input = match step {
                        0 => t.input.clone(),
                        _ => t.steps[step - 1].1.clone().unwrap_or_default(),
                    };
                    (input, t.steps[step].1.clone())
                })
                .unzip();
            Recording {
                world,
                plugin,
                input,
                output,
            }
        })
        .filter(|r| !r.input.is_empty())
        .collect()
}

impl Recording {
    /// How `wasmfed plugin test` names the plugin: its file, or `stock:NAME`.
    pub fn component(&self) -> String {
        match &self.plugin.source {
            PluginSource::Stock(name) => format!("stock:{name}"),
            PluginSource::File(file) => file.display().to_string(),
        }
    }

    /// The fixture's text: `comment` (each line becomes a `#` line), the world, the plugin's
    /// configuration and one case of the recorded input and answers.
    pub fn fixture(&self, comment: &str) -> Result<String, String> {
        let plugin_config: serde_yaml::Value = serde_json::from_str(&self.plugin.config_json)
            .map_err(|e| format!("plugin {}: config: {e}", self.plugin.name))?;
        let mut out = String::new();
        for line in comment.lines() {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "world: {}", self.world);
        let config_yaml = serde_yaml::to_string(&serde_yaml::Mapping::from_iter([(
            "config".into(),
            plugin_config,
        )]))
        .map_err(|e| e.to_string())?;
        out.push_str(&config_yaml);
        let _ = writeln!(out, "cases:\n  - name: as recorded\n    input:");
        for labels in &self.input {
            let _ = writeln!(out, "      - {}", quoted(labels));
        }
        let _ = writeln!(out, "    expect:");
        for answer in &self.output {
            match answer {
                Some(labels) => {
                    let _ = writeln!(out, "      - {}", quoted(labels));
                }
                None => out.push_str("      - null\n"),
            }
        }
        Ok(out)
    }
}

/// A label set as a fixture writes it (`name{a="b"}`, or `{a="b"}` without a name), in YAML's
/// single quotes.
fn quoted(labels: &Labels) -> String {
    let mut text = Vec::new();
    let name = labels.get("__name__");
    if let Some(name) = name {
        text.extend_from_slice(name.as_bytes());
    }
    text.push(b'{');
    let mut first = true;
    for l in labels.iter().filter(|l| l.name != "__name__") {
        if !first {
            text.push(b',');
        }
        first = false;
        text.extend_from_slice(l.name.as_bytes());
        text.extend_from_slice(b"=\"");
        push_label_value(&mut text, &l.value);
        text.push(b'"');
    }
    text.push(b'}');
    format!("'{}'", String::from_utf8_lossy(&text).replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_series;

    #[test]
    fn label_sets_are_written_as_the_fixture_reader_reads_them() {
        for set in [
            Labels::from_pairs([("__name__", "up"), ("job", "a'b\"c\\d\ne")]),
            Labels::from_pairs([("__address__", "h:1"), ("job", "j")]),
        ] {
            let text = quoted(&set);
            let unquoted: String = serde_yaml::from_str(&text).unwrap();
            // As the fixture reader reads a set without a name.
            let mut read =
                parse_series(&format!("x{}", unquoted.trim_start_matches("up"))).unwrap();
            if !unquoted.starts_with("up") {
                read.remove("__name__");
            } else {
                read.set("__name__", "up");
            }
            assert_eq!(read, set, "{text}");
        }
    }

    #[test]
    fn a_step_is_its_input_and_answers_under_the_comment() {
        let traces = [StageTrace {
            input: Labels::from_pairs([("__address__", "a:1")]),
            steps: vec![
                (
                    "first".into(),
                    Some(Labels::from_pairs([("__address__", "b:1")])),
                ),
                ("second".into(), None),
            ],
            error: None,
        }];
        let plugin = |name: &str| PluginRef {
            name: name.into(),
            source: PluginSource::File("p.wasm".into()),
            sha256: None,
            config_json: r#"{"k": [1]}"#.into(),
        };
        let recorded = record(
            vec![plugin("first"), plugin("second")],
            World::Target,
            &traces,
        );
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded[1].component(), "p.wasm");
        let text = recorded[1].fixture("from a test\nsecond line").unwrap();
        assert_eq!(
            text,
            "# from a test\n# second line\nworld: target\nconfig:\n  k:\n  - 1\ncases:\n  \
             - name: as recorded\n    input:\n      - '{__address__=\"b:1\"}'\n    expect:\n      - null\n"
        );
    }
}
