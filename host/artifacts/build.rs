//! Builds the test guests (`guests/`) and the custom-plugin examples (`examples/`), the
//! latter the way their READMEs tell users to (wasm32-wasip2); see `wasmfed-guest-build`.

use std::path::PathBuf;

use wasmfed_guest_build::Target;

const GUESTS: &[(&str, Target)] = &[
    ("guests/identity", Target::Core),
    ("guests/probe", Target::Wasip2),
    ("guests/rule-hostile", Target::Core),
    ("../../examples/rendezvous-shard", Target::Wasip2),
    ("../../examples/cardinality-report", Target::Wasip2),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest"));
    wasmfed_guest_build::watch(&manifest_dir.join("../../wit"));
    let guests: Vec<(PathBuf, Target)> = GUESTS
        .iter()
        .map(|(dir, target)| (manifest_dir.join(dir), *target))
        .collect();
    wasmfed_guest_build::build_all(&guests);
}
