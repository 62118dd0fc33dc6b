//! Prometheus' own PromQL test scripts, run against this engine.
//!
//! Every `*.test` file in the repository's sibling `shared/conformance/promql/` folder is
//! parsed and each `eval` case run as Prometheus' `promqltest` runs it (with its engine
//! settings: delayed name removal and experimental functions on, 5m lookback, 1m default
//! subquery step). A case is skipped only for a reason listed in `conformance/skips.rs`; any
//! other case that does not pass fails this test, including an expression our parser refuses
//! where Prometheus' parses it (unless skips.rs lists it by file and line, with why). Every
//! run writes the table of passed, failed and skipped cases, and the counts per reason, to
//! stderr (`CONFORMANCE_VERBOSE=1` lists each skipped case); `PROMQL_CONFORMANCE_DIR`
//! overrides where the files are.

#[path = "conformance/run.rs"]
mod run;
#[path = "conformance/script.rs"]
mod script;
#[path = "conformance/skips.rs"]
mod skips;
#[path = "conformance/storage.rs"]
mod storage;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use promql_rules::engine::{Engine, Options};

use script::Command;
use storage::Storage;

/// Why a case failed, for the summary.
const PARSE_REFUSED: &str = "parse error where Prometheus parses (not listed in skips.rs)";
const PARSE_MESSAGE: &str = "parse error, not the one expected";
const EVALUATION: &str = "evaluation differs from Prometheus'";

#[derive(Default)]
struct FileReport {
    passed: usize,
    failed: Vec<(&'static str, String)>,
    skipped: Vec<(&'static str, String)>,
}

fn run_file(engine: &Engine, file: &str, text: &str) -> Result<FileReport, String> {
    let mut report = FileReport::default();
    let mut storage = Storage::default();
    for command in script::parse(text)? {
        match command {
            Command::Clear => storage = Storage::default(),
            Command::Load(load) => {
                for (labels, samples) in load.series {
                    storage
                        .load(labels, samples)
                        .map_err(|e| format!("line {}: {e}", load.line))?;
                }
                storage.native.extend(load.native);
            }
            Command::Eval(eval) => {
                let parsed = engine.parse(&eval.query);
                if let Some(skip) = skips::reason(file, &eval, &parsed, &storage) {
                    report.skipped.push((
                        skip.reason,
                        format!("line {}: {} {}", eval.line, eval.query, skip.detail),
                    ));
                    continue;
                }
                // A parse error passes only where the case expects an error like it.
                let outcome = match (parsed, &eval.fail) {
                    (Err(e), Some(m)) if m.matches(&e) => Ok(()),
                    (Err(e), Some(_)) => Err((PARSE_MESSAGE, e)),
                    (Err(e), None) => Err((PARSE_REFUSED, e)),
                    (Ok(expr), _) => {
                        run::run(engine, &mut storage, &eval, &expr).map_err(|e| (EVALUATION, e))
                    }
                };
                match outcome {
                    Ok(()) => report.passed += 1,
                    Err((kind, e)) => report.failed.push((
                        kind,
                        format!("line {}: {}\n      {e}", eval.line, eval.query),
                    )),
                }
            }
        }
    }
    Ok(report)
}

#[test]
fn prometheus_promql_test_scripts() {
    // A worktree that is not beside `shared/` can point elsewhere.
    let dir = match std::env::var_os("PROMQL_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/promql")
        }
    };
    assert!(
        dir.is_dir(),
        "PromQL conformance data not found at {}: it lives in the `shared/` folder beside the \
         repository (shared/conformance/promql/*.test); clone it there or set \
         PROMQL_CONFORMANCE_DIR",
        dir.display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("readable conformance folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test files in {}", dir.display());

    let engine = Engine::new(Options {
        delayed_name_removal: true,
        experimental_functions: true,
        ..Options::default()
    });
    let mut totals = (0, 0, 0);
    let mut skip_reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut fail_reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let verbose = std::env::var_os("CONFORMANCE_VERBOSE").is_some();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:>7} {:>7} {:>8}",
        "file", "passed", "failed", "skipped"
    );
    for path in &files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(path).expect("readable test file");
        let report = run_file(&engine, &name, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let _ = writeln!(
            out,
            "{name:<28} {:>7} {:>7} {:>8}",
            report.passed,
            report.failed.len(),
            report.skipped.len()
        );
        totals.0 += report.passed;
        totals.1 += report.failed.len();
        totals.2 += report.skipped.len();
        for (reason, case) in &report.skipped {
            *skip_reasons.entry(reason).or_default() += 1;
            if verbose {
                let _ = writeln!(out, "    skipped ({reason}): {case}");
            }
        }
        for (kind, case) in report.failed {
            *fail_reasons.entry(kind).or_default() += 1;
            failures.push(format!("{name} {case}"));
        }
    }
    let _ = writeln!(
        out,
        "{:<28} {:>7} {:>7} {:>8}",
        "total", totals.0, totals.1, totals.2
    );
    for (title, reasons) in [
        ("failed by reason", &fail_reasons),
        ("skipped by reason", &skip_reasons),
    ] {
        let _ = writeln!(out, "\n{title}:");
        for (reason, n) in reasons.iter() {
            let _ = writeln!(out, "  {n:>4}  {reason}");
        }
    }
    if !failures.is_empty() {
        let _ = writeln!(out, "\nfailures:");
        for f in &failures {
            let _ = writeln!(out, "  {f}");
        }
    }
    // Straight to the process' stderr: the test harness captures `println!`, and CI logs
    // should show the counts of every run, not only of failed ones.
    let _ = std::io::stderr().write_all(out.as_bytes());
    assert!(
        failures.is_empty(),
        "{} conformance cases failed (see the list above)",
        failures.len()
    );
}
