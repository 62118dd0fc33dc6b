//! Builds the WebAssembly guest crates the host ships or tests with, so that `cargo build`,
//! `cargo test` and `cargo bench` just work.
//!
//! Every crate under `plugins/` (the stock plugins) and the test guests under
//! `host/tests/guests/` is built with a nested `cargo build --release` into a target directory
//! of its own under `OUT_DIR` (sharing the host's would deadlock on its lock and mix targets).
//! The result lands at `$OUT_DIR/<crate dir name>.wasm` as a component, for
//! `include_bytes!(concat!(env!("OUT_DIR"), "/<name>.wasm"))`.
//!
//! Guests are built for `wasm32-unknown-unknown` and made into components with `wit-component`
//! (no WASI imports: smaller and deterministic), except those listed as WASI guests, which are
//! built for `wasm32-wasip2` (whose linker emits a component) to test what users' default
//! tooling produces. Each guest crate is its own workspace (`[workspace]` in its manifest) and
//! its directory name is its crate name. Shaped after wasmtime's
//! `crates/test-programs/artifacts/build.rs`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Test guests, relative to this crate; stock plugins are found by listing `../plugins`.
const TEST_GUESTS: &[(&str, Target)] = &[
    ("tests/guests/identity", Target::Core),
    ("tests/guests/probe", Target::Wasip2),
    ("tests/guests/rule-hostile", Target::Core),
    // The custom-plugin examples, built the way their READMEs tell users to.
    ("../examples/rendezvous-shard", Target::Wasip2),
    ("../examples/cardinality-report", Target::Wasip2),
];

#[derive(Clone, Copy)]
enum Target {
    /// `wasm32-unknown-unknown`, then `wit-component`.
    Core,
    /// `wasm32-wasip2`: cargo's linker already emits a component.
    Wasip2,
}

impl Target {
    fn triple(self) -> &'static str {
        match self {
            Target::Core => "wasm32-unknown-unknown",
            Target::Wasip2 => "wasm32-wasip2",
        }
    }
}

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let plugins_dir = manifest_dir.join("../plugins");

    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../wit").display()
    );
    // Watching the folder notices a plugin crate being added or removed; a path that does not
    // exist would make cargo rerun this script on every build, so it is watched only if present.
    if plugins_dir.is_dir() {
        println!("cargo:rerun-if-changed={}", plugins_dir.display());
        // The plugins' own workspace, and every crate in it (shared libraries included).
        for file in ["Cargo.toml", "Cargo.lock"] {
            println!(
                "cargo:rerun-if-changed={}",
                plugins_dir.join(file).display()
            );
        }
        for entry in fs::read_dir(&plugins_dir).into_iter().flatten().flatten() {
            for watched in ["Cargo.toml", "src"] {
                let path = entry.path().join(watched);
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
    }

    let mut guests: Vec<(PathBuf, Target)> = TEST_GUESTS
        .iter()
        .map(|(dir, target)| (manifest_dir.join(dir), *target))
        .collect();
    guests.extend(stock_plugins(&plugins_dir));

    let target_dir = out_dir.join("guests");
    for (dir, target) in guests {
        let component = build_guest(&dir, target, &target_dir);
        let name = dir_name(&dir);
        let dest = out_dir.join(format!("{name}.wasm"));
        // Rewriting identical bytes would only make cargo recompile what includes them.
        if fs::read(&dest).ok().as_deref() != Some(component.as_slice()) {
            fs::write(&dest, &component)
                .unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
        }
    }
}

/// Plugin crates directly under `plugins/` (those building a `cdylib`; shared libraries such as
/// `plugin-sdk` are not plugins), sorted so builds are reproducible. A crate is built for
/// `wasm32-unknown-unknown` unless its manifest asks for WASI with
/// `[package.metadata.wasmfed] target = "wasm32-wasip2"`.
fn stock_plugins(plugins_dir: &Path) -> Vec<(PathBuf, Target)> {
    let Ok(entries) = fs::read_dir(plugins_dir) else {
        return Vec::new();
    };
    let mut plugins: Vec<(PathBuf, Target)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|dir| {
            let manifest = fs::read_to_string(dir.join("Cargo.toml")).ok()?;
            let target = if manifest.contains("target = \"wasm32-wasip2\"") {
                Target::Wasip2
            } else {
                Target::Core
            };
            manifest.contains("\"cdylib\"").then_some((dir, target))
        })
        .collect();
    plugins.sort_by(|a, b| a.0.cmp(&b.0));
    plugins
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_else(|| panic!("guest directory {} has no UTF-8 name", dir.display()))
        .to_string()
}

/// Builds one guest crate and returns its component bytes.
fn build_guest(dir: &Path, target: Target, target_dir: &Path) -> Vec<u8> {
    let triple = target.triple();
    require_target(triple);
    for watched in ["Cargo.toml", "Cargo.lock", "src"] {
        println!("cargo:rerun-if-changed={}", dir.join(watched).display());
    }

    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.arg("build")
        .arg("--release")
        .arg("--quiet")
        .arg("--target")
        .arg(triple)
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir)
        // Plugins are shipped inside the binary and compiled at load: small beats debuggable.
        // (Workspace members would otherwise inherit the host's release profile.)
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        // The host's flags (and any `-C target-cpu=native`) are for the host, not for wasm.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        status.success(),
        "building guest crate {} failed: {cmd:?}",
        dir.display()
    );

    let artifact = target_dir
        .join(triple)
        .join("release")
        .join(format!("{}.wasm", dir_name(dir).replace('-', "_")));
    let bytes = fs::read(&artifact).unwrap_or_else(|e| {
        panic!(
            "reading {} ({e}); a guest crate's name must be its directory's name",
            artifact.display()
        )
    });
    match target {
        Target::Wasip2 => bytes,
        Target::Core => wit_component::ComponentEncoder::default()
            .module(&bytes)
            .and_then(|encoder| encoder.validate(true).encode())
            .unwrap_or_else(|e| panic!("making a component of {}: {e:?}", artifact.display())),
    }
}

/// Fails with the command that fixes it when the Rust standard library for `triple` is absent.
fn require_target(triple: &str) {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", triple])
        .output()
        .unwrap_or_else(|e| panic!("running rustc: {e}"));
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        output.status.success() && libdir.is_dir(),
        "the Rust target {triple} is not installed; run `rustup target add {triple}`"
    );
}
