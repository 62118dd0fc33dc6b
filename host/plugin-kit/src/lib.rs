//! What a plugin author needs besides the host that runs the plugin.
//!
//! `wasmfed plugin new` writes a ready project in Rust, C, Python or JavaScript from the
//! templates beside this crate ([`scaffold`]); for Rust it copies the plugin SDK into the
//! project ([`guest_sdk`]); for C it also writes the bindings of the
//! plugin's world ([`bindings`]), and [`componentize`] wraps the module clang builds into a
//! component, as `wasm-tools component new` does. So a C author needs clang, wasi-libc and
//! wasmfed, nothing built from source, and every language's project vendors the same WIT
//! ([`wit`]) the node checks plugins against. Loading, limits and checking a component are
//! `wasmfed-plugin`'s; this crate only writes files and bytes.

pub mod bindings;
pub mod componentize;
pub mod guest_sdk;
pub mod scaffold;
pub mod wit;

use std::path::PathBuf;

/// Why a kit command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} already exists: choose another name or move it away")]
    Exists(PathBuf),
    #[error("{0:?} is not a usable project name: use letters, digits, '-' and '_', starting with a letter")]
    BadName(String),
    #[error("no world {0:?} in wasmfed's WIT (worlds: {1})")]
    NoWorld(String, String),
    #[error("writing C bindings for {world}: {why}")]
    Bindings { world: String, why: String },
    #[error("{0}")]
    Componentize(String),
    #[error("wasmfed's own WIT does not parse: {0}")]
    Wit(String),
}

pub type Result<T> = std::result::Result<T, KitError>;

/// An I/O error with the path it happened on.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> KitError {
    let path = path.into();
    move |source| KitError::Io { path, source }
}
