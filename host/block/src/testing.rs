//! For the tests of this crate and those above it: the real `promtool` (Debian's prometheus
//! package, installed by `./test.sh`) and a directory copy, so block files can be handed to
//! Prometheus' own tools.

use std::path::Path;
use std::process::Command;

pub const PROMTOOL: &str = "/usr/bin/promtool";

/// Runs promtool with `args`; its standard output. Panics with its error output when it fails
/// or is missing.
pub fn promtool(args: &[&str]) -> String {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: install Debian's prometheus package (./test.sh does)"
    );
    let out = Command::new(PROMTOOL)
        .args(args)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("promtool prints UTF-8")
}

/// Backfills `openmetrics` (text ending in `# EOF`) into blocks in `dir` with `promtool tsdb
/// create-blocks-from openmetrics`, through a file beside `dir`.
pub fn backfill(openmetrics: &str, dir: &Path) {
    let input = dir.with_extension("om");
    std::fs::write(&input, openmetrics).expect("write the OpenMetrics input");
    promtool(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        input.to_str().expect("UTF-8 path"),
        dir.to_str().expect("UTF-8 path"),
    ]);
    std::fs::remove_file(&input).expect("remove the input");
}

/// `promtool tsdb dump` of the blocks in `dir`, lines sorted. promtool opens a whole data
/// directory read-only, which needs a WAL directory: an empty one is made if there is none.
pub fn promtool_dump(dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir.join("wal")).expect("a wal directory");
    let mut lines: Vec<String> = promtool(&["tsdb", "dump", dir.to_str().expect("UTF-8 path")])
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// Copies the tree at `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the original") {
        let entry = entry.expect("read the original");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy a file");
        }
    }
}
