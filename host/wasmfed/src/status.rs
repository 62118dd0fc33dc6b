//! What the status API reports of how this process was started: every command-line flag with
//! its value, defaults included (`/api/v1/status/flags`, as Prometheus lists its own), and the
//! retention in Prometheus' words (`/api/v1/status/runtimeinfo`).

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{ArgMatches, Command};

/// Every long flag of `command` with the value `matches` gives it (its default when not
/// given, empty when it has none), under its name and each alias (`storage.tsdb.path` for
/// `storage.path`, as Prometheus names it); subcommands' flags left out.
pub fn flags(command: &Command, matches: &ArgMatches) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for arg in command.get_arguments() {
        let Some(name) = arg.get_long() else {
            continue;
        };
        if matches!(name, "help" | "version") {
            continue;
        }
        let value = matches
            .get_raw(arg.get_id().as_str())
            .map(|values| {
                values
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        for alias in arg.get_all_aliases().into_iter().flatten() {
            out.insert(alias.to_owned(), value.clone());
        }
        out.insert(name.to_owned(), value);
    }
    out
}

/// `15d`, `512MiB` or `15d or 512MiB`: Prometheus' `storageRetention`.
pub fn storage_retention(time: Duration, size: Option<u64>) -> String {
    let time = (!time.is_zero()).then(|| wasmfed_config::Duration::from(time).to_string());
    let size = size.map(human_bytes);
    match (time, size) {
        (Some(t), Some(s)) => format!("{t} or {s}"),
        (Some(t), None) => t,
        (None, Some(s)) => s,
        (None, None) => String::new(),
    }
}

/// Bytes as Go's `units.Base2Bytes` prints them: the largest unit that divides exactly.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["EiB", "PiB", "TiB", "GiB", "MiB", "KiB"];
    for (i, unit) in UNITS.iter().enumerate() {
        let scale = 1u64 << (10 * (6 - i));
        if bytes >= scale && bytes.is_multiple_of(scale) {
            return format!("{}{unit}", bytes / scale);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_reads_as_prometheus_reports_it() {
        let day = Duration::from_secs(86_400);
        assert_eq!(storage_retention(15 * day, None), "15d");
        assert_eq!(
            storage_retention(15 * day, Some(512 << 20)),
            "15d or 512MiB"
        );
        assert_eq!(storage_retention(Duration::ZERO, Some(3 << 30)), "3GiB");
        assert_eq!(
            storage_retention(Duration::from_secs(90), Some(1500)),
            "1m30s or 1500B"
        );
    }

    #[test]
    fn flags_list_every_long_flag_with_its_effective_value() {
        let command = Command::new("t")
            .arg(
                clap::Arg::new("a")
                    .long("a.b")
                    .alias("a.old")
                    .default_value("5m"),
            )
            .arg(
                clap::Arg::new("c")
                    .long("c")
                    .action(clap::ArgAction::SetTrue),
            )
            .arg(clap::Arg::new("d").long("d"))
            .arg(clap::Arg::new("e").long("e").value_delimiter(','));
        let matches = command
            .clone()
            .try_get_matches_from(["t", "--c", "--e=x,y"])
            .unwrap();
        let got = flags(&command, &matches);
        let want: BTreeMap<String, String> = [
            ("a.b", "5m"),
            ("a.old", "5m"),
            ("c", "true"),
            ("d", ""),
            ("e", "x,y"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(got, want);
    }
}
