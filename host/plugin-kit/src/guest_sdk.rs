//! `wasmfed-guest`, wasmfed's Rust plugin SDK, as `wasmfed plugin new --lang rust` copies it
//! into a project.
//!
//! The SDK is not published, and a project must build offline and against the contract of
//! the node it is written for: so this binary carries the SDK's sources (the crate in
//! `plugins/wasmfed-guest`, the one copy in the repository) and the WIT it was built with,
//! and a project gets them as `wasmfed-guest/`, a path dependency.

use crate::wit;

/// The SDK's files, by path in the crate (its `wit/` comes from [`wit::FILES`]).
pub const SOURCES: [(&str, &str); 8] = [
    (
        "Cargo.toml",
        include_str!("../../../plugins/wasmfed-guest/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../plugins/wasmfed-guest/src/lib.rs"),
    ),
    (
        "src/config.rs",
        include_str!("../../../plugins/wasmfed-guest/src/config.rs"),
    ),
    (
        "src/error.rs",
        include_str!("../../../plugins/wasmfed-guest/src/error.rs"),
    ),
    (
        "src/glue.rs",
        include_str!("../../../plugins/wasmfed-guest/src/glue.rs"),
    ),
    (
        "src/labels.rs",
        include_str!("../../../plugins/wasmfed-guest/src/labels.rs"),
    ),
    (
        "src/plugin.rs",
        include_str!("../../../plugins/wasmfed-guest/src/plugin.rs"),
    ),
    (
        "src/rules.rs",
        include_str!("../../../plugins/wasmfed-guest/src/rules.rs"),
    ),
];

/// Every file of the SDK as a project gets it: (path in the crate, text).
pub fn files() -> impl Iterator<Item = (String, &'static str)> {
    let sources = SOURCES.iter().map(|(path, text)| (path.to_string(), *text));
    let wit = wit::FILES
        .iter()
        .map(|(file, text)| (format!("wit/{file}"), *text));
    sources.chain(wit)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn every_source_of_the_sdk_is_copied() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/wasmfed-guest/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(&src)
            .unwrap()
            .map(|e| format!("src/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut copied: Vec<&str> = super::SOURCES
            .iter()
            .map(|(path, _)| *path)
            .filter(|path| path.starts_with("src/"))
            .collect();
        copied.sort();
        assert_eq!(copied, on_disk);
    }

    #[test]
    fn the_sdk_reads_the_wit_the_project_gets() {
        // The SDK generates its bindings from `wit/` beside its manifest; in the repository
        // that is a link to the contract, in a project the copy written from wit::FILES.
        let lib = super::SOURCES[1].1;
        assert!(lib.contains("path: \"wit\""));
        let files: Vec<String> = super::files().map(|(path, _)| path).collect();
        assert!(files.contains(&"wit/plugin.wit".to_owned()), "{files:?}");
    }
}
