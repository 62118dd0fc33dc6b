//! The plugin kit as a new user meets it: each language's toolchain as the README installs it
//! (cargo, Debian's clang-16 with wasi-libc, componentize-py from PyPI, componentize-js from
//! npm), driven exactly as the READMEs say.
//!
//! - The PII scrubber example, written in Rust, C, Python and JavaScript, is built four
//!   times; each component passes the one shared fixture under a node's limits, and one node
//!   loads all four as series plugins of four jobs scraping the same target and federates
//!   the same scrubbed series from each.
//! - `wasmfed plugin new` projects, every kind (target, series, rules) in every language,
//!   build with their README's command, pass their own fixture, and run in a node loaded as
//!   their README says (one node per language, the three kinds side by side).
//!
//! A test binary of its own, so the compilers' CPU does not share the machine with the
//! end-to-end tests (cargo runs test binaries one after another). Nothing here is timed.

#[path = "../e2e/harness.rs"]
#[allow(
    dead_code,
    unused_imports,
    reason = "the end-to-end harness serves many tests; this one uses a few of its parts"
)]
mod harness;
mod load;
mod toolchains;

use std::path::PathBuf;
use std::time::Duration;

use harness::{static_job, wait_for, Exporter, Reply, Wasmfed};
use toolchains::{build, plugin_test, repo, run_in, wasmfed};

/// A scrape with the personal data the scrubber must keep out of storage.
const EXPOSITION: &str = "# TYPE logins_total counter\n\
    logins_total{email=\"ada@example.com\",user_id=\"4711\"} 3\n\
    logins_total{email=\"grace@example.com\"} 5\n";

#[test]
fn the_pii_scrubber_in_four_languages_answers_alike_and_runs_in_a_node() {
    let example = repo().join("examples/pii-scrubber");
    let fixture = example.join("fixture.yml");
    let components = [
        ("rust", build::rust(&example.join("rust"), "pii_scrubber")),
        ("c", build::c(&example.join("c"), "pii-scrubber")),
        (
            "python",
            build::python(
                &example.join("python"),
                "../../../wit",
                "series-plugin",
                "pii-scrubber",
            ),
        ),
        ("js", build::js(&example.join("js"), "pii-scrubber")),
    ];
    for (lang, component) in &components {
        assert_eq!(plugin_test(component, &fixture), 4, "{lang}");
    }

    let exporter = Exporter::start(|_| Reply::Text(EXPOSITION.to_owned()));
    let mut config = String::from("global: {scrape_interval: 1s}\nscrape_configs:\n");
    for (lang, component) in &components {
        let plugin = format!(
            "    series_plugins:\n      - file: {}\n        config: {{labels: [email, user_id], salt: pepper}}\n",
            component.display()
        );
        config.push_str(&static_job(lang, &[exporter.addr], &plugin));
    }
    let node = Wasmfed::start(&config);
    let federated = wait_for(
        "four jobs' scrubbed series",
        Duration::from_secs(120),
        || {
            let text = node.federate(&[r#"{__name__="logins_total"}"#]).text();
            let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
            if lines.len() == 8 {
                Ok(text)
            } else {
                Err(text)
            }
        },
    );
    assert!(
        !federated.contains("example.com") && !federated.contains("4711"),
        "{federated}"
    );
    for lang in ["rust", "c", "python", "js"] {
        for series in [
            format!(
                r#"email="f3de2501fc91c4a9",instance="{}",job="{lang}",user_id="b801c18a273a1b6c""#,
                exporter.addr
            ),
            format!(
                r#"email="27d154890b256f16",instance="{}",job="{lang}""#,
                exporter.addr
            ),
        ] {
            assert!(
                federated.contains(&series),
                "{lang}: no {series} in\n{federated}"
            );
        }
    }
}

/// What the starters' target and series jobs scrape: one series each starter keeps and one
/// it drops.
const STARTER_EXPOSITION: &str = "app_requests_total 1\ndebug_requests_total 2\n";

#[test]
fn new_projects_in_every_language_build_pass_their_fixture_and_run_in_a_node() {
    let parent = tempfile::tempdir().unwrap();
    let exporter = Exporter::start(|_| Reply::Text(STARTER_EXPOSITION.to_owned()));
    for lang in ["rust", "c", "python", "js"] {
        let mut built = Vec::new();
        for (kind, world) in [
            ("target", "target-plugin"),
            ("series", "series-plugin"),
            ("rules", "rule-plugin"),
        ] {
            let name = format!("{lang}-{kind}");
            let said = run_in(
                parent.path(),
                wasmfed(),
                &["plugin", "new", "--kind", kind, "--lang", lang, &name],
            );
            assert!(said.contains("build and test it"), "{said}");
            let dir = parent.path().join(&name);
            let component: PathBuf = match lang {
                "rust" => {
                    run_in(&dir, "cargo", &["fmt", "--check"]);
                    build::rust(&dir, &name.replace('-', "_"))
                }
                "c" => build::c(&dir, &name),
                "python" => build::python(&dir, "wit", world, &name),
                _ => {
                    // The example's componentize-js (test.sh installs it), not a download.
                    let modules = repo().join("examples/pii-scrubber/js/node_modules");
                    std::os::unix::fs::symlink(modules, dir.join("node_modules")).unwrap();
                    build::js(&dir, &name)
                }
            };
            assert_eq!(
                plugin_test(&component, &dir.join("fixture.yml")),
                2,
                "{name}"
            );
            built.push((kind, dir, component));
        }
        let projects: Vec<load::Loaded<'_>> = built
            .iter()
            .map(|(kind, dir, component)| load::Loaded {
                kind,
                dir,
                component,
            })
            .collect();
        runs_in_a_node(lang, &projects, &exporter);
    }
}

/// One node with a language's three starters loaded as their READMEs say: the target
/// starter keeps the exporter and drops the `debug_` address, the series starter stores
/// `app_requests_total` and not `debug_requests_total`, the rule starter records how many
/// `up` series there are (the two jobs' exporter targets).
fn runs_in_a_node(lang: &str, projects: &[load::Loaded<'_>], exporter: &Exporter) {
    let node = Wasmfed::start(&load::config(lang, projects, exporter.addr));
    let (target_job, series_job) = (format!("{lang}-target"), format!("{lang}-series"));
    // The target starter's decisions, once the target stage has run on the discovery.
    let exporter_addr = exporter.addr.to_string();
    wait_for(
        &format!("{lang}: the target starter's decisions"),
        Duration::from_secs(60),
        || {
            let targets = node.targets();
            let active: Vec<&str> = targets["data"]["activeTargets"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["labels"]["job"] == target_job.as_str())
                .filter_map(|t| t["labels"]["instance"].as_str())
                .collect();
            let dropped = targets["data"]["droppedTargets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["discoveredLabels"]["__address__"] == "debug_b:9100");
            (active == [exporter_addr.as_str()] && dropped)
                .then_some(())
                .ok_or(targets.to_string())
        },
    );
    let series = format!(r#"{{job="{series_job}"}}"#);
    let federated = wait_for(
        &format!("{lang}: the series starter's series"),
        Duration::from_secs(60),
        || {
            let text = node.federate(&[&series]).text();
            match text.contains("app_requests_total{") {
                true => Ok(text),
                false => Err(text),
            }
        },
    );
    assert!(
        !federated.contains("debug_requests_total"),
        "{lang}: {federated}"
    );
    wait_for(
        &format!("{lang}: the rule starter's up:series 2"),
        Duration::from_secs(60),
        || {
            let text = node.federate(&[r#"{__name__="up:series"}"#]).text();
            let recorded = text
                .lines()
                .any(|l| l.starts_with("up:series") && l.split_whitespace().nth(1) == Some("2"));
            recorded.then_some(()).ok_or(text)
        },
    );
}
