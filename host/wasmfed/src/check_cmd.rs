//! `wasmfed check config|web-config`: read files as the node would and say what is wrong, as
//! `promtool check config` and `check web-config` do.

use std::path::PathBuf;

use wasmfed_config::Config;
use wasmfed_model::compat::Compat;
use wasmfed_rules::EngineOptions;

/// Reads each web config file as the server would for a connection: the file, then the
/// certificate, key and client CA it names.
pub fn web_config(files: &[PathBuf]) -> std::process::ExitCode {
    let mut failed = false;
    for file in files {
        match wasmfed_web::WebGate::new(Some(file.clone())) {
            Ok(_) => println!("{} SUCCESS", file.display()),
            Err(e) => {
                println!("{} FAILED: {e}", file.display());
                failed = true;
            }
        }
    }
    exit_code(failed)
}

fn exit_code(failed: bool) -> std::process::ExitCode {
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

pub fn config(files: &[PathBuf], compat: Compat) -> std::process::ExitCode {
    let mut failed = false;
    println!("Using {compat}");
    for file in files {
        println!("Checking {}", file.display());
        match Config::load(file, compat) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    println!("  WARNING: {warning}");
                }
                let c = &loaded.config;
                if c.admin.bearer_token.is_some() || !c.tenants.is_empty() {
                    println!(
                        "  WARNING: tenant or admin bearer tokens are configured: unless wasmfed \
                         listens on loopback only, serve TLS (--web.config.file) or they cross \
                         the network in clear"
                    );
                }
                if let Err(e) = wasmfed_config::check_rule_files_exist(&c.rule_files) {
                    println!("  FAILED: {e}");
                    failed = true;
                    continue;
                }
                let engine = EngineOptions {
                    lookback: wasmfed_node::DEFAULT_LOOKBACK,
                    compat,
                    alert_restore: Default::default(),
                    max_samples: wasmfed_rules::DEFAULT_MAX_SAMPLES,
                };
                // Rule files are read and checked as the node reads them at start-up.
                match wasmfed_rules::group_specs(c, engine) {
                    Ok(groups) => println!(
                        "  SUCCESS: {} scrape configs, {} rule files found, {} rule groups, \
                         {} remote write configs",
                        c.scrape_configs.len(),
                        c.rule_files.len(),
                        groups.len(),
                        c.remote_write.len()
                    ),
                    Err(e) => {
                        println!("  FAILED: {e}");
                        failed = true;
                    }
                }
            }
            Err(e) => {
                println!("  FAILED: {e}");
                failed = true;
            }
        }
    }
    exit_code(failed)
}
