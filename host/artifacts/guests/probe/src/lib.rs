//! The probe test plugin: a wasm32-wasip2 component that reports what the sandbox lets it see.
//!
//! `init` fails with the list of capabilities it found (environment, arguments, files, a
//! running clock), so a host that leaks one fails its test with the leak named. `process`
//! writes each series' name to stdout and stderr, and sleeps when a series is named `sleep`,
//! which a sandbox without clocks must turn into a failed call rather than a blocked thread.

wit_bindgen::generate!({ path: "../../../../wit", world: "series-plugin" });

use exports::wasmfed::plugin::{lifecycle, series};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmfed::plugin::types::{Labels, PluginError};

struct Probe;

impl lifecycle::Guest for Probe {
    fn init(_config: String) -> Result<(), PluginError> {
        let mut leaks = Vec::new();
        if std::env::vars_os().next().is_some() {
            leaks.push("environment variables");
        }
        if std::env::args_os().next().is_some() {
            leaks.push("arguments");
        }
        if std::fs::read_dir("/").is_ok() || std::fs::read_dir(".").is_ok() {
            leaks.push("a directory");
        }
        if SystemTime::now() != UNIX_EPOCH {
            leaks.push("the wall clock");
        }
        if leaks.is_empty() {
            Ok(())
        } else {
            Err(PluginError::InvalidConfig(format!(
                "sandbox leaks {}",
                leaks.join(", ")
            )))
        }
    }
}

impl series::Guest for Probe {
    fn process(series: Vec<Labels>) -> Result<Vec<Option<Labels>>, PluginError> {
        for labels in &series {
            let name = labels
                .iter()
                .find(|l| l.name == "__name__")
                .map_or("", |l| l.value.as_str());
            println!("stdout saw {name}");
            eprintln!("stderr saw {name}");
            if name == "sleep" {
                std::thread::sleep(Duration::from_secs(2));
            }
        }
        Ok(series.into_iter().map(Some).collect())
    }
}

export!(Probe);
