//! Prometheus' own command-line flags, so a docker-compose file or systemd unit written for
//! Prometheus starts wasmfed unchanged.
//!
//! Each flag is honoured where it means something for wasmfed (`--web.route-prefix`, the path
//! of `--web.external-url`, `--web.page-title`, `--web.enable-remote-write-receiver`,
//! `--query.lookback-delta`, `--query.max-samples`, `--log.format`, the `--rules.alert.*` and
//! `--alertmanager.*` settings; the storage flags are aliases of wasmfed's own, see `main.rs`)
//! and otherwise accepted with a warning saying why it changes nothing.

use std::time::Duration;

use clap::Args;
use wasmfed_rules::{AlertRestore, SendOptions};

/// Prometheus 2.42's feature flag for the remote-write receiver.
const REMOTE_WRITE_RECEIVER_FEATURE: &str = "remote-write-receiver";

/// The flags of Prometheus that wasmfed accepts besides its own.
#[derive(Args, Debug, Default, Clone)]
pub struct PrometheusFlags {
    /// The URL under which wasmfed is reached (e.g. behind a reverse proxy); its path is the
    /// default route prefix.
    #[arg(long = "web.external-url", value_name = "URL")]
    pub external_url: Option<String>,
    /// Prefix of every endpoint's path; defaults to the path of --web.external-url.
    #[arg(long = "web.route-prefix", value_name = "PATH")]
    pub route_prefix: Option<String>,
    /// How far back /federate and queries look for a sample.
    #[arg(
        long = "query.lookback-delta",
        value_name = "DURATION",
        default_value = "5m"
    )]
    pub lookback_delta: String,
    /// Log line format: logfmt (human-readable key=value lines) or json.
    #[arg(long = "log.format", value_name = "FORMAT", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,
    /// Accepted for Prometheus' sake: wasmfed's admin API is enabled by `admin:` in the
    /// configuration file, with a bearer token.
    #[arg(long = "web.enable-admin-api", num_args = 0..=1, default_missing_value = "true")]
    pub enable_admin_api: Option<bool>,
    /// Prometheus' feature flags: `remote-write-receiver` (2.42's name for
    /// --web.enable-remote-write-receiver) is honoured; the others change nothing in wasmfed.
    #[arg(long = "enable-feature", value_name = "FEATURE", value_delimiter = ',')]
    pub enable_feature: Vec<String>,
    /// Accept remote writes on POST /api/v1/write (Prometheus agents, vmagent, other nodes),
    /// into the tenant the request names, as Prometheus' flag of the same name.
    #[arg(long = "web.enable-remote-write-receiver")]
    pub enable_remote_write_receiver: bool,
    /// Accepted for Prometheus' sake: wasmfed serves no consoles.
    #[arg(long = "web.console.templates", value_name = "DIR")]
    pub console_templates: Option<String>,
    /// Accepted for Prometheus' sake: wasmfed serves no consoles.
    #[arg(long = "web.console.libraries", value_name = "DIR")]
    pub console_libraries: Option<String>,
    /// Accepted for Prometheus' sake: wasmfed's write-ahead log is not compressed yet.
    #[arg(long = "storage.tsdb.wal-compression", num_args = 0..=1, default_missing_value = "true")]
    pub wal_compression: Option<bool>,
    /// The time range of a block cut from the head; the head keeps 1.5 to 2.5 times this.
    /// Hidden in Prometheus (shorter ranges are for tests), shown here.
    #[arg(
        long = "storage.tsdb.min-block-duration",
        value_name = "DURATION",
        default_value = "2h"
    )]
    pub min_block_duration: String,
    /// The largest block compaction makes (default: a tenth of the retention, at most 31d).
    #[arg(long = "storage.tsdb.max-block-duration", value_name = "DURATION")]
    pub max_block_duration: Option<String>,
    /// Accepted for Prometheus' sake: wasmfed takes no lock file.
    #[arg(long = "storage.tsdb.no-lockfile", num_args = 0..=1, default_missing_value = "true")]
    pub no_lockfile: Option<bool>,
    /// Accepted for Prometheus' sake: wasmfed does not cap connections.
    #[arg(long = "web.max-connections", value_name = "N")]
    pub max_connections: Option<u32>,
    /// Accepted for Prometheus' sake: wasmfed does not cap concurrent queries.
    #[arg(long = "query.max-concurrency", value_name = "N")]
    pub max_concurrency: Option<u32>,
    /// Most samples a query (or a rule) may hold in memory at once, counted as Prometheus
    /// counts them; a query over it fails with Prometheus' "would load too many samples".
    #[arg(
        long = "query.max-samples",
        value_name = "N",
        default_value = "50000000"
    )]
    pub max_samples: u64,
    /// The title of the node's web page (/ui/).
    #[arg(
        long = "web.page-title",
        value_name = "TITLE",
        default_value = "wasmfed"
    )]
    pub page_title: String,
    /// How long ago an alert's `for` state may have been written and still be restored at a
    /// start.
    #[arg(
        long = "rules.alert.for-outage-tolerance",
        value_name = "DURATION",
        default_value = "1h"
    )]
    pub for_outage_tolerance: String,
    /// The least time an alert whose `for` state was restored still waits before it fires.
    #[arg(
        long = "rules.alert.for-grace-period",
        value_name = "DURATION",
        default_value = "10m"
    )]
    pub for_grace_period: String,
    /// Least time between two sends of the same firing alert to Alertmanager.
    #[arg(
        long = "rules.alert.resend-delay",
        value_name = "DURATION",
        default_value = "1m"
    )]
    pub resend_delay: String,
    /// Most alerts waiting to be sent; beyond it the oldest are dropped.
    #[arg(
        long = "alertmanager.notification-queue-capacity",
        value_name = "N",
        default_value_t = wasmfed_notify::DEFAULT_QUEUE_CAPACITY
    )]
    pub notification_queue_capacity: usize,
    /// Accepted for Prometheus' sake: wasmfed sends no CORS headers.
    #[arg(long = "web.cors.origin", value_name = "REGEX")]
    pub cors_origin: Option<String>,
}

/// A flag's value read as a Prometheus duration, or an error naming the flag.
fn duration_flag(flag: &str, text: &str) -> Result<Duration, String> {
    text.parse::<wasmfed_config::Duration>()
        .map(Into::into)
        .map_err(|e| format!("invalid --{flag} {text:?}: {e}"))
}

impl PrometheusFlags {
    /// The range of a block cut from the head (`--storage.tsdb.min-block-duration`).
    pub fn block_range(&self) -> Result<Duration, String> {
        let range = duration_flag("storage.tsdb.min-block-duration", &self.min_block_duration)?;
        if range < Duration::from_secs(1) {
            return Err("--storage.tsdb.min-block-duration must be at least 1s".into());
        }
        Ok(range)
    }

    /// The largest block compaction makes: `--storage.tsdb.max-block-duration`, else a tenth
    /// of `retention` but at most 31 days, as Prometheus chooses.
    pub fn max_block(&self, retention: Duration) -> Result<Duration, String> {
        match &self.max_block_duration {
            Some(text) => duration_flag("storage.tsdb.max-block-duration", text),
            None => Ok((retention / 10).min(Duration::from_secs(31 * 24 * 3600))),
        }
    }

    /// `--rules.alert.for-outage-tolerance` and `--rules.alert.for-grace-period`.
    pub fn alert_restore(&self) -> Result<AlertRestore, String> {
        Ok(AlertRestore {
            outage_tolerance: duration_flag(
                "rules.alert.for-outage-tolerance",
                &self.for_outage_tolerance,
            )?,
            grace_period: duration_flag("rules.alert.for-grace-period", &self.for_grace_period)?,
        })
    }

    /// How alerts are sent: `--rules.alert.resend-delay`, and `--web.external-url` for their
    /// `generatorURL` (empty without the flag: the node makes Prometheus' default).
    pub fn alert_sending(&self) -> Result<SendOptions, String> {
        let external_url = self
            .external_url
            .as_deref()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
        Ok(SendOptions {
            resend_delay: duration_flag("rules.alert.resend-delay", &self.resend_delay)?,
            external_url,
        })
    }

    /// Whether `POST /api/v1/write` is on: `--web.enable-remote-write-receiver`, or 2.42's
    /// `--enable-feature=remote-write-receiver`.
    pub fn remote_write_receiver(&self) -> bool {
        self.enable_remote_write_receiver
            || self
                .enable_feature
                .iter()
                .any(|f| f == REMOTE_WRITE_RECEIVER_FEATURE)
    }

    /// `--query.lookback-delta` as a duration.
    pub fn lookback(&self) -> Result<Duration, String> {
        duration_flag("query.lookback-delta", &self.lookback_delta)
    }

    /// The route prefix: `--web.route-prefix`, else the path of `--web.external-url`, else
    /// the root; always starting with `/`.
    pub fn route_prefix(&self) -> Result<String, String> {
        let from_url = match &self.external_url {
            None => None,
            Some(url) => {
                let rest = url
                    .split_once("://")
                    .map(|(_, rest)| rest)
                    .ok_or_else(|| format!("invalid --web.external-url {url:?}: no scheme"))?;
                Some(rest.find('/').map_or("/", |i| &rest[i..]).to_owned())
            }
        };
        let prefix = self
            .route_prefix
            .clone()
            .or(from_url)
            .unwrap_or_else(|| "/".into());
        Ok(if prefix.starts_with('/') {
            prefix
        } else {
            format!("/{prefix}")
        })
    }

    /// What to say about each flag that was given but changes nothing.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut say = |given: bool, flag: &str, why: &str| {
            if given {
                out.push(format!("--{flag}: ignored ({why})"));
            }
        };
        say(
            self.enable_admin_api.is_some(),
            "web.enable-admin-api",
            "wasmfed's admin API is enabled by `admin:` in the configuration file, with a bearer token",
        );
        let ignored: Vec<&str> = self
            .enable_feature
            .iter()
            .map(String::as_str)
            .filter(|f| *f != REMOTE_WRITE_RECEIVER_FEATURE)
            .collect();
        if !ignored.is_empty() {
            say(
                true,
                &format!("enable-feature={}", ignored.join(",")),
                "no other Prometheus feature flag changes wasmfed",
            );
        }
        say(
            self.console_templates.is_some() || self.console_libraries.is_some(),
            "web.console.templates/libraries",
            "wasmfed serves no consoles",
        );
        say(
            self.wal_compression.is_some(),
            "storage.tsdb.wal-compression",
            "wasmfed's write-ahead log is not compressed yet",
        );
        say(
            self.no_lockfile.is_some(),
            "storage.tsdb.no-lockfile",
            "wasmfed takes no lock file",
        );
        say(
            self.max_connections.is_some(),
            "web.max-connections",
            "wasmfed does not cap connections",
        );
        say(
            self.max_concurrency.is_some(),
            "query.max-concurrency",
            "wasmfed does not cap concurrent queries",
        );
        say(
            self.cors_origin.is_some(),
            "web.cors.origin",
            "wasmfed sends no CORS headers",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        flags: PrometheusFlags,
    }

    fn parse(args: &[&str]) -> PrometheusFlags {
        Cli::try_parse_from(std::iter::once("wasmfed").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .flags
    }

    #[test]
    fn route_prefix_follows_prometheus() {
        for (args, want) in [
            (&[][..], "/"),
            (
                &["--web.external-url=http://proxy.example/prometheus/"][..],
                "/prometheus/",
            ),
            (&["--web.external-url=http://proxy.example"][..], "/"),
            (
                &["--web.external-url=https://p/x", "--web.route-prefix=/"][..],
                "/",
            ),
            (&["--web.route-prefix=api"][..], "/api"),
        ] {
            assert_eq!(parse(args).route_prefix().unwrap(), want, "{args:?}");
        }
        assert!(parse(&["--web.external-url=proxy/x"])
            .route_prefix()
            .is_err());
    }

    #[test]
    fn flags_that_change_nothing_are_named() {
        let flags = parse(&[
            "--web.enable-admin-api",
            "--enable-feature=exemplar-storage,memory-snapshot-on-shutdown",
            "--web.console.libraries=/usr/share/prometheus/console_libraries",
            "--web.console.templates=/usr/share/prometheus/consoles",
            "--query.lookback-delta=2m",
            "--log.format=json",
        ]);
        assert_eq!(flags.enable_feature.len(), 2);
        assert_eq!(flags.lookback().unwrap(), Duration::from_secs(120));
        let warned: Vec<_> = flags
            .warnings()
            .iter()
            .map(|w| w.split(':').next().unwrap().to_owned())
            .collect();
        assert_eq!(
            warned,
            [
                "--web.enable-admin-api",
                "--enable-feature=exemplar-storage,memory-snapshot-on-shutdown",
                "--web.console.templates/libraries"
            ]
        );
        assert!(parse(&[]).warnings().is_empty());
        let receiver = parse(&["--enable-feature=remote-write-receiver"]);
        assert!(receiver.remote_write_receiver() && receiver.warnings().is_empty());
        assert!(parse(&["--web.enable-remote-write-receiver"]).remote_write_receiver());
        assert!(!parse(&[]).remote_write_receiver());
        assert!(parse(&["--query.lookback-delta=5"]).lookback().is_err());
        assert_eq!(parse(&[]).alert_restore(), Ok(AlertRestore::PROMETHEUS));
        assert_eq!(
            parse(&[
                "--rules.alert.for-outage-tolerance=5m",
                "--rules.alert.for-grace-period=2s"
            ])
            .alert_restore(),
            Ok(AlertRestore {
                outage_tolerance: Duration::from_secs(300),
                grace_period: Duration::from_secs(2),
            })
        );
        assert!(parse(&["--rules.alert.for-grace-period=x"])
            .alert_restore()
            .is_err());
    }
}
