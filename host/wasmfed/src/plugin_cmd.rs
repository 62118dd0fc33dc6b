//! `wasmfed plugin …`: commands for plugin authors. `inspect` says what a component is and
//! where a node would accept it, before it is deployed.

use std::process::ExitCode;

use wasmfed_plugin::{stock, PluginRuntime};

/// `wasmfed plugin inspect FILE` (or `stock:NAME`): size, sha256, imports, exports and each
/// stage's verdict. Exit status 0 if some stage accepts it, 1 if none does, 2 if it cannot be
/// read or compiled.
pub fn inspect(what: &str) -> ExitCode {
    let bytes = match what.strip_prefix("stock:") {
        Some(name) => match stock::component(name) {
            Some(bytes) => bytes.to_vec(),
            None => {
                eprintln!(
                    "no stock plugin {name:?} (stock plugins: {})",
                    stock::NAMES.join(", ")
                );
                return ExitCode::from(2);
            }
        },
        None => match std::fs::read(what) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("reading {what}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let runtime = match PluginRuntime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let found = match runtime.inspect(&bytes) {
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
