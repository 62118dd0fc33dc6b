//! The plugin kit as a new user meets it: each language's toolchain as the README installs it
//! (cargo, Debian's clang-16 with wasi-libc, componentize-py from PyPI, componentize-js from
//! npm), driven exactly as the READMEs say.
//!
//! - The PII scrubber example, written in Rust, C, Python and JavaScript, is built four
//!   times; each component passes the one shared fixture under a node's limits, and one node
//!   loads all four as series plugins of four jobs scraping the same target and federates
//!   the same scrubbed series from each.
//! - `wasmfed plugin new` projects, every kind (target, series, rules) in every language,
//!   build with their README's command and pass their own fixture.
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

#[test]
fn new_projects_in_every_language_build_and_pass_their_fixture() {
    let parent = tempfile::tempdir().unwrap();
    for lang in ["rust", "c", "python", "js"] {
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
        }
    }
}
