//! `wasmfed plugin …`: commands for plugin authors. `inspect` says what a component is and
//! where a node would accept it, before it is deployed; `test` runs it offline on a fixture
//! under the limits a node applies, and compares what it answers with what was expected;
//! `record` asks a live node for a plugin step's current input as such a fixture;
//! `new`, `bindings` and `componentize` start and build a plugin (wasmfed-plugin-kit).

mod fixture;
mod record_live;

use std::path::Path;
use std::process::ExitCode;

use wasmfed_plugin::{stock, PluginRuntime};
use wasmfed_plugin_kit::scaffold::{self, Kind, Lang};

pub use fixture::test;
pub use record_live::{record as record_live, RecordLive};

/// `wasmfed relabel test`: the step-by-step report, and with `record`, a fixture per plugin
/// step written into that folder.
pub fn relabel_test(
    config: &Path,
    job: &str,
    series: &[String],
    record: Option<&Path>,
    compat: wasmfed_model::compat::Compat,
) -> anyhow::Result<()> {
    let report = wasmfed_scrape::relabel_debug::report(config, job, series, compat)?;
    print!("{}", report.text);
    if let Some(dir) = record {
        let written = fixture::record::write(dir, config, job, &report.recordings)
            .map_err(anyhow::Error::msg)?;
        println!("recorded {} fixtures:", written.len());
        for path in written {
            println!("  {}", path.display());
        }
    }
    Ok(())
}

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
