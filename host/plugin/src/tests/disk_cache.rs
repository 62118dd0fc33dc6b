//! Compiled components kept on disk: a second runtime loads what the first compiled, and a
//! damaged file is compiled again and replaced.

use super::labels;
use crate::{PluginRuntime, World};

fn cached_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn relabels_through(runtime: &PluginRuntime) {
    let plugin = super::identity_in(runtime, World::Series);
    let out = plugin.process(&[labels(&[("__name__", "up")])]).unwrap();
    assert_eq!(out[0].as_ref().unwrap().metric_name(), "up");
}

#[test]
fn compiled_components_are_kept_and_loaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("plugins");
    relabels_through(&PluginRuntime::new().unwrap().with_disk_cache(&cache));
    let files = cached_files(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].to_string_lossy().ends_with(".cwasm"));
    let written = std::fs::metadata(&files[0]).unwrap().modified().unwrap();

    // A new runtime (a restart) loads the file: not rewritten.
    std::thread::sleep(std::time::Duration::from_millis(20));
    relabels_through(&PluginRuntime::new().unwrap().with_disk_cache(&cache));
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        written
    );

    // A damaged file is compiled again and replaced.
    std::fs::write(&files[0], b"not compiled code").unwrap();
    relabels_through(&PluginRuntime::new().unwrap().with_disk_cache(&cache));
    assert!(std::fs::metadata(&files[0]).unwrap().len() > 1000);
    assert_eq!(cached_files(&cache), files, "no temporary file left behind");
}
