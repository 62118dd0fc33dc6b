//! Builds WebAssembly guest crates into components from a build script, so that `cargo build`,
//! `cargo test` and `cargo bench` just work.
//!
//! Two build scripts use it: `wasmfed-plugin`'s builds the stock plugins under `plugins/` (which
//! the node ships), `wasmfed-artifacts`' builds the test guests and the custom-plugin examples
//! (which only tests need). Each guest is built with a nested `cargo build --release` into a
//! target directory beside the host's (`<profile dir>/wasm-guests`; sharing the host's own
//! would deadlock on its lock and mix targets), and its component lands at
//! `$OUT_DIR/<crate dir name>.wasm`, for `include_bytes!(concat!(env!("OUT_DIR"), "/<name>.wasm"))`.
//!
//! Guests are built for `wasm32-unknown-unknown` and made into components with `wit-component`
//! (no WASI imports: smaller and deterministic), except those that ask for WASI, which are
//! built for `wasm32-wasip2` (whose linker emits a component) to test what users' default
//! tooling produces. Each guest crate is its own workspace (`[workspace]` in its manifest, or
//! the plugins' workspace) and its directory name is its crate name. Shaped after wasmtime's
//! `crates/test-programs/artifacts/build.rs`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
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

/// Builds every guest and writes `$OUT_DIR/<dir name>.wasm` for each.
pub fn build_all(guests: &[(PathBuf, Target)]) {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    // OUT_DIR is `<target>/<profile>/build/<pkg>-<hash>/out`: guests share one directory per
    // profile, so the stock plugins and the test guests do not each build wit-bindgen, and
    // one per checkout, so two checkouts sharing a target directory never read each other's
    // components (cargo would call a crate at another path fresh and leave the other's file).
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("manifest"));
    // Both users live at `host/<crate>`.
    let checkout = manifest_dir.ancestors().nth(2).unwrap_or(&manifest_dir);
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&checkout, &mut hasher);
    let target_dir = out_dir
        .ancestors()
        .nth(3)
        .unwrap_or(&out_dir)
        .join("wasm-guests")
        .join(format!("{:016x}", std::hash::Hasher::finish(&hasher)));
    for (dir, target) in guests {
        let component = build_guest(dir, *target, &target_dir);
        let dest = out_dir.join(format!("{}.wasm", dir_name(dir)));
        // Rewriting identical bytes would only make cargo recompile what includes them.
        if fs::read(&dest).ok().as_deref() != Some(component.as_slice()) {
            fs::write(&dest, &component)
                .unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
        }
    }
}

/// Tells cargo to run the build script again when anything under `path` changes. A path that
/// does not exist would make cargo rerun the script on every build, so it is watched only if
/// present.
pub fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// Plugin crates directly under `plugins_dir` (those building a `cdylib`; shared libraries
/// such as `plugin-sdk` are not plugins), sorted so builds are reproducible, with the
/// workspace's manifests, every crate's sources and the shared crates they use watched. A
/// crate is built for `wasm32-unknown-unknown` unless its manifest asks for WASI with
/// `[package.metadata.wasmfed] target = "wasm32-wasip2"`.
pub fn plugin_crates(plugins_dir: &Path) -> Vec<(PathBuf, Target)> {
    // Watching the folder notices a plugin crate being added or removed.
    watch(plugins_dir);
    for file in ["Cargo.toml", "Cargo.lock"] {
        watch(&plugins_dir.join(file));
    }
    let Ok(entries) = fs::read_dir(plugins_dir) else {
        return Vec::new();
    };
    let mut plugins: Vec<(PathBuf, Target)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|dir| {
            for watched in ["Cargo.toml", "src"] {
                watch(&dir.join(watched));
            }
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
        watch(&dir.join(watched));
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
