//! Builds the stock plugins (every plugin crate under `plugins/`) to components, so the node
//! ships them inside its binary (`stock.rs`); see `wasmfed-guest-build`.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest"));
    let root = manifest_dir.join("../..");
    wasmfed_guest_build::watch(&root.join("wit"));
    // Crates the plugins share with the host (the regex dialect, relabel validation).
    wasmfed_guest_build::watch(&root.join("common"));
    let plugins = wasmfed_guest_build::plugin_crates(&root.join("plugins"));
    wasmfed_guest_build::build_all(&plugins);
}
