//! `wasmfed plugin …`: commands for plugin authors. `inspect` says what a component is and
//! where a node would accept it, before it is deployed; `test` runs it offline on a fixture
//! under the limits a node applies, and compares what it answers with what was expected;
//! `new`, `bindings` and `componentize` start and build a plugin (wasmfed-plugin-kit).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use serde::Deserialize;

use wasmfed_model::Labels;
use wasmfed_plugin::{stock, PluginLimits, PluginRuntime, World};
use wasmfed_plugin_kit::scaffold::{self, Kind, Lang};
use wasmfed_scrape::parse::parse_series;

/// `wasmfed plugin inspect FILE` (or `stock:NAME`): size, sha256, imports, exports and each
/// stage's verdict. Exit status 0 if some stage accepts it, 1 if none does, 2 if it cannot be
/// read or compiled.
pub fn inspect(what: &str) -> ExitCode {
    let Some(bytes) = component(what) else {
        return ExitCode::from(2);
    };
    let runtime = match PluginRuntime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    inspect_bytes(what, &bytes, &runtime)
}

/// A component's bytes: a file, or `stock:NAME`; `None` (said on stderr) if neither.
fn component(what: &str) -> Option<Vec<u8>> {
    Some(match what.strip_prefix("stock:") {
        Some(name) => match stock::component(name) {
            Some(bytes) => bytes.to_vec(),
            None => {
                eprintln!(
                    "no stock plugin {name:?} (stock plugins: {})",
                    stock::NAMES.join(", ")
                );
                return None;
            }
        },
        None => match std::fs::read(what) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("reading {what}: {e}");
                return None;
            }
        },
    })
}

fn inspect_bytes(what: &str, bytes: &[u8], runtime: &PluginRuntime) -> ExitCode {
    let found = match runtime.inspect(bytes) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("{what}: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{what}");
    println!("  size     {} bytes", found.bytes);
    println!("  sha256   {}", found.sha256);
    let list = |names: &[String]| {
        if names.is_empty() {
            "(none)".to_owned()
        } else {
            names.join("\n           ")
        }
    };
    println!("  imports  {}", list(&found.imports));
    println!("  exports  {}", list(&found.exports));
    for (world, refusal) in &found.stages {
        let stage = world.to_string();
        match refusal {
            None => println!("  {stage:<8} accepted"),
            Some(why) => println!("  {stage:<8} refused: {why}"),
        }
    }
    if found.accepted().is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A fixture for `wasmfed plugin test`:
///
/// ```yaml
/// world: series                    # or target
/// config: {drop: debug_.*}         # the plugin's configuration, as in a scrape config
/// cases:
///   - name: debug series go
///     input: ['up{job="a"}', 'debug_x{job="a"}']        # series, or label sets '{a="b"}'
///     expect: ['up{job="a"}', null]                     # null: dropped
/// ```
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    world: String,
    #[serde(default)]
    config: serde_yaml::Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default)]
    name: String,
    input: Vec<String>,
    expect: Vec<Option<String>>,
}

/// A label set as a fixture writes it: `name{a="b"}` or `{a="b"}` (no name).
fn labels(text: &str) -> Result<Labels, String> {
    let nameless = text.trim_start().starts_with('{');
    let series = if nameless {
        format!("x{text}")
    } else {
        text.to_owned()
    };
    let mut labels = parse_series(&series).map_err(|e| format!("{text:?}: {e}"))?;
    if nameless {
        labels.remove("__name__");
    }
    Ok(labels)
}

/// `wasmfed plugin test PLUGIN --fixture FILE`: runs the component on each case's batch under a
/// node's default limits and compares its answers with the expected ones. Prints a line per
/// case (the differences of a failed one) and the fuel and time per call. Exit status 0 if
/// every case passes, 1 if one fails, 2 if the plugin or fixture cannot be used.
pub fn test(what: &str, fixture: &Path) -> ExitCode {
    match run_fixture(what, fixture) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn run_fixture(what: &str, fixture_path: &Path) -> Result<bool, String> {
    let text = std::fs::read_to_string(fixture_path)
        .map_err(|e| format!("reading {}: {e}", fixture_path.display()))?;
    let fixture: Fixture =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", fixture_path.display()))?;
    let world = match fixture.world.as_str() {
        "target" => World::Target,
        "series" => World::Series,
        other => {
            return Err(format!(
                "{}: world {other:?}: `plugin test` runs target and series plugins",
                fixture_path.display()
            ))
        }
    };
    let bytes = component(what).ok_or("the plugin cannot be read")?;
    let mut runtime = PluginRuntime::new().map_err(|e| e.to_string())?;
    // Compiled once, as a node keeps it (`--plugin.cache-dir`'s default): a test loop reruns
    // the same component many times.
    if let Some(dir) = crate::demo::plugin_cache_dir(None) {
        runtime = runtime.with_disk_cache(&dir);
    }
    let config = match fixture.config {
        serde_yaml::Value::Null => "null".to_owned(),
        value => serde_json::to_string(&value).map_err(|e| format!("config: {e}"))?,
    };
    let plugin = runtime
        .load(
            "under-test",
            &bytes,
            world,
            &config,
            PluginLimits::default(),
        )
        .map_err(|e| format!("{what}: {e}"))?;
    let mut passed = true;
    for (i, case) in fixture.cases.iter().enumerate() {
        let name = match case.name.as_str() {
            "" => format!("case {}", i + 1),
            name => name.to_owned(),
        };
        let input = case
            .input
            .iter()
            .map(|t| labels(t))
            .collect::<Result<Vec<_>, _>>()?;
        let expect = case
            .expect
            .iter()
            .map(|t| t.as_deref().map(labels).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        if expect.len() != input.len() {
            return Err(format!(
                "{name}: {} inputs, {} expected answers",
                input.len(),
                expect.len()
            ));
        }
        let (fuel, started) = (plugin.stats().fuel_used(), Instant::now());
        let answer = plugin.process(&input);
        let took = started.elapsed();
        let fuel = plugin.stats().fuel_used() - fuel;
        let got = match answer {
            Ok(got) => got,
            Err(e) => {
                println!("FAIL {name}: the plugin failed: {e}");
                passed = false;
                continue;
            }
        };
        let show = |l: &Option<Labels>| l.as_ref().map_or("dropped".to_owned(), Labels::to_string);
        let wrong: Vec<String> = input
            .iter()
            .zip(&expect)
            .zip(&got)
            .filter(|((_, want), got)| want != got)
            .map(|((input, want), got)| {
                format!(
                    "    {input}\n      want {}\n      got  {}",
                    show(want),
                    show(got)
                )
            })
            .collect();
        let cost = format!("{fuel} fuel, {:.3} ms", took.as_secs_f64() * 1e3);
        if wrong.is_empty() {
            println!("ok   {name} ({} series, {cost})", input.len());
        } else {
            println!("FAIL {name} ({cost})\n{}", wrong.join("\n"));
            passed = false;
        }
    }
    Ok(passed)
}

/// `wasmfed plugin new --kind K --lang L NAME`: writes the project and says how to build it.
pub fn new(kind: Kind, lang: Lang, name: &str) -> ExitCode {
    match scaffold::new_project(Path::new("."), name, kind, lang) {
        Ok(project) => {
            println!(
                "created {}/ ({} files), a {kind} plugin in {lang}",
                project.dir.display(),
                project.files.len()
            );
            println!("build and test it:\n  cd {}", project.dir.display());
            for line in project.build.lines() {
                println!("  {line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// `wasmfed plugin bindings --world W DIR`: the world's C bindings.
pub fn bindings(world: &str, dir: &Path) -> ExitCode {
    match wasmfed_plugin_kit::bindings::write_c(world, dir) {
        Ok(files) => {
            for file in files {
                println!("{}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// `wasmfed plugin componentize MODULE -o FILE`: the component, then what `inspect` says of it.
pub fn componentize(module: &Path, output: &Path) -> ExitCode {
    let made = std::fs::read(module)
        .map_err(|e| format!("reading {}: {e}", module.display()))
        .and_then(|bytes| {
            wasmfed_plugin_kit::componentize::componentize(&bytes)
                .map_err(|e| format!("{}: {e}", module.display()))
        })
        .and_then(|component| {
            std::fs::write(output, &component)
                .map(|()| component)
                .map_err(|e| format!("writing {}: {e}", output.display()))
        });
    let component = match made {
        Ok(component) => component,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match PluginRuntime::new() {
        Ok(runtime) => inspect_bytes(&output.display().to_string(), &component, &runtime),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
