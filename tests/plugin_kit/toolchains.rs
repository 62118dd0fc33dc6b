//! Each language's build, as its README says, and `wasmfed plugin test`. A missing tool fails
//! the test with what to install: `./test.sh` installs them all.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The wasmfed binary under test.
pub fn wasmfed() -> &'static str {
    env!("CARGO_BIN_EXE_wasmfed")
}

/// Runs `program args` in `dir`; its stdout and stderr, or a panic with both if it failed.
pub fn run_in(dir: &Path, program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("WASMFED", wasmfed())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (./test.sh installs the plugin toolchains)"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{program} {args:?} in {}: {}\n{said}",
        dir.display(),
        output.status
    );
    said
}

/// `wasmfed plugin test COMPONENT --fixture FIXTURE`, which must pass: the cases that passed.
pub fn plugin_test(component: &Path, fixture: &Path) -> usize {
    let said = run_in(
        &repo(),
        wasmfed(),
        &[
            "plugin",
            "test",
            &component.to_string_lossy(),
            "--fixture",
            &fixture.to_string_lossy(),
        ],
    );
    assert!(!said.contains("FAIL"), "{said}");
    said.lines().filter(|l| l.starts_with("ok   ")).count()
}

pub mod build {
    use super::*;

    /// `cargo build --release --target wasm32-wasip2`, offline: the crates come from the
    /// examples' own builds. One target folder for every project of a run.
    pub fn rust(dir: &Path, crate_name: &str) -> PathBuf {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-kit");
        let target_arg = format!("--target-dir={}", target.display());
        run_in(
            dir,
            "cargo",
            &[
                "build",
                "--offline",
                "--release",
                "--target",
                "wasm32-wasip2",
                &target_arg,
            ],
        );
        target.join(format!("wasm32-wasip2/release/{crate_name}.wasm"))
    }

    /// `make`, with this wasmfed: clang-16 and wasi-libc, then `wasmfed plugin componentize`.
    pub fn c(dir: &Path, name: &str) -> PathBuf {
        run_in(dir, "make", &[&format!("WASMFED={}", wasmfed())]);
        dir.join(format!("{name}.wasm"))
    }

    /// `componentize-py -d WIT -w WORLD componentize app -o NAME.wasm`.
    pub fn python(dir: &Path, wit: &str, world: &str, name: &str) -> PathBuf {
        let out = format!("{name}.wasm");
        run_in(
            dir,
            "componentize-py",
            &["-d", wit, "-w", world, "componentize", "app", "-o", &out],
        );
        dir.join(out)
    }

    /// `npm run build` (componentize-js).
    pub fn js(dir: &Path, name: &str) -> PathBuf {
        run_in(dir, "npm", &["run", "build"]);
        dir.join(format!("{name}.wasm"))
    }
}
