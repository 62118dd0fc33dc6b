//! The `wasmfed` command: run a node with Prometheus' flag names, check a configuration, or run
//! the self-contained demo.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use wasmfed::demo::{self, plugin_cache_dir};
use wasmfed::prometheus_flags::PrometheusFlags;
use wasmfed::status;
use wasmfed::{check_cmd, plugin_cmd};
use wasmfed::{Node, NodeOptions};
use wasmfed_config::Config;
use wasmfed_model::compat::Compat;
use wasmfed_node::StatusInfo;
use wasmfed_storage::wal;

#[derive(Parser, Debug)]
#[command(name = "wasmfed", version, about = "A Prometheus-compatible federation node.", long_about = None)]
struct Cli {
    /// Prometheus configuration file to load (same keys as prometheus.yml).
    #[arg(
        long = "config.file",
        value_name = "FILE",
        default_value = "prometheus.yml"
    )]
    config_file: PathBuf,
    /// Address to serve /federate, the API, /metrics and the lifecycle endpoints on.
    #[arg(
        long = "web.listen-address",
        value_name = "ADDR",
        default_value = "0.0.0.0:9090"
    )]
    listen: SocketAddr,
    /// Directory for the node's data. Created if missing; the write-ahead log lives in its
    /// `wal/` folder and is replayed at start-up. Also spelled --storage.tsdb.path.
    #[arg(
        long = "storage.path",
        alias = "storage.tsdb.path",
        value_name = "DIR",
        default_value = "data/"
    )]
    storage_path: PathBuf,
    /// How long samples are kept, in Prometheus' duration syntax (15d, 12h, 90m). Also
    /// spelled --storage.tsdb.retention.time.
    #[arg(
        long = "storage.retention",
        alias = "storage.tsdb.retention.time",
        value_name = "DURATION",
        default_value = "15d"
    )]
    retention: String,
    /// Most bytes the write-ahead log may take; the oldest data goes first. A unit is
    /// required (B, KB, MB, GB, TB, PB, EB; powers of 2, e.g. 512MB); 0 means no limit. Also
    /// spelled --storage.tsdb.retention.size.
    #[arg(
        long = "storage.retention.size",
        alias = "storage.tsdb.retention.size",
        value_name = "SIZE",
        default_value = "0"
    )]
    retention_size: String,
    /// When the write-ahead log is fsynced: "batch" (at least once a second) or "always"
    /// (every write batch, every 10 ms while samples arrive). A sample is acknowledged —
    /// durable across a power loss — once an fsync that began after it was stored has
    /// returned (the counter wasmfed_wal_fsyncs_total counts them). A crash of the process
    /// alone keeps all but the last ~100 ms in either mode.
    #[arg(
        long = "storage.wal-fsync",
        value_name = "POLICY",
        default_value = "batch",
        value_parser = ["always", "batch"]
    )]
    wal_fsync: String,
    /// Size of one write-ahead log segment file (same units as --storage.retention.size).
    #[arg(
        long = "storage.wal-segment-size",
        value_name = "SIZE",
        default_value = "128MB"
    )]
    wal_segment_size: String,
    /// Prometheus' web configuration file (exporter-toolkit format): TLS
    /// (`tls_server_config`), basic auth (`basic_auth_users`, bcrypt) and response headers for
    /// everything the server serves. Read again for each new connection.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// Allow shutdown (POST /-/quit) over HTTP, as Prometheus' flag of the same name.
    #[arg(long = "web.enable-lifecycle")]
    enable_lifecycle: bool,
    /// Which Prometheus generation to answer like where 2.x and 3.x differ: 3 (as current
    /// Prometheus) or 2 (as Prometheus 2.42): PromQL range and lookback windows closed or open
    /// on the left, regex `.` matching newlines, holt_winters or double_exponential_smoothing,
    /// quoted UTF-8 names; scraping's `le`/`quantile` normalization, Content-Type strictness
    /// and default ports; external label expansion.
    #[arg(
        long = "query.compat",
        value_name = "2|3",
        default_value = "3",
        global = true
    )]
    compat: Compat,
    /// Maximum time a query may take before it is answered with a timeout error (a request's
    /// `timeout` parameter may only shorten it), as Prometheus' flag of the same name.
    #[arg(long = "query.timeout", value_name = "DURATION", default_value = "2m")]
    query_timeout: String,
    /// Where compiled plugins are kept, so a node does not compile them again at its next
    /// start (default: $XDG_CACHE_HOME/wasmfed, else ~/.cache/wasmfed; empty: not kept).
    /// Only the node's user may write there: the files are native code.
    #[arg(long = "plugin.cache-dir", value_name = "DIR")]
    plugin_cache_dir: Option<String>,
    /// Log level: debug, info, warn or error.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info")]
    log_level: String,
    #[command(flatten)]
    prometheus: PrometheusFlags,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate configuration files, like `promtool check`.
    Check {
        #[command(subcommand)]
        what: CheckCommand,
    },
    /// Debug relabeling: show what a job's rules and plugins do, step by step.
    Relabel {
        #[command(subcommand)]
        what: RelabelCommand,
    },
    /// Commands for plugin authors.
    Plugin {
        #[command(subcommand)]
        what: PluginCommand,
    },
    /// Run the demo: a synthetic exporter, a leaf node and a global node federating it, on loopback.
    Demo,
    /// Serve synthetic targets (one port each) for benchmarks.
    Synth {
        /// First address; target i listens on its port + i.
        #[arg(long, default_value = "127.0.0.1:20000")]
        listen: SocketAddr,
        /// Number of targets.
        #[arg(long, default_value_t = 10)]
        targets: usize,
        /// Series per target.
        #[arg(long, default_value_t = 1000)]
        series: usize,
    },
}

#[derive(Subcommand, Debug)]
enum RelabelCommand {
    /// Run a job's target stage on its discovered targets (and its series stage on --series),
    /// printing every target's labels after each plugin and the step that dropped it.
    Test {
        /// The configuration file.
        #[arg(long = "config", value_name = "FILE")]
        config: PathBuf,
        /// The scrape job to test.
        #[arg(long, value_name = "NAME")]
        job: String,
        /// A series in exposition syntax, e.g. 'http_requests_total{code="200"}'; repeatable.
        #[arg(long, value_name = "SERIES")]
        series: Vec<String>,
        /// Also write a `wasmfed plugin test` fixture into DIR for each plugin step: what it
        /// was given and answered here, to rerun as a regression test.
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum PluginCommand {
    /// Say what a component is: size, sha256, imports, exports, and for each stage (target,
    /// series, rule, query) whether a node would accept it or why not. Exit status 0 if some
    /// stage accepts it, 1 if none does, 2 if it cannot be read or compiled.
    Inspect {
        /// A component file, or `stock:NAME` for a stock plugin.
        #[arg(value_name = "PLUGIN")]
        plugin: String,
    },
    /// Run a plugin offline on a fixture under a node's default limits: a target or series
    /// plugin on batches of label sets (YAML: world, config, cases of input and expected
    /// answers), a rule plugin on stored series in promtool's notation (world: rule,
    /// input_series, cases of evaluation times and each rule's expected samples). Prints each
    /// case, the differences of failed ones, fuel and time per call. Exit status 0 if every
    /// case passes, 1 if one fails, 2 if the plugin or fixture cannot be used.
    Test {
        /// A component file, or `stock:NAME` for a stock plugin.
        #[arg(value_name = "PLUGIN")]
        plugin: String,
        /// The fixture file.
        #[arg(long, value_name = "FILE")]
        fixture: PathBuf,
    },
    /// Record a fixture from a live node: a plugin step's current input (at the target stage
    /// the job's discovered targets, at the series stage the next scrape of one of its
    /// targets) and what the running component answers, through the admin API
    /// (GET /api/v1/plugins/NAME/fixture), written to FILE for `wasmfed plugin test`.
    Record {
        /// The node's base URL, e.g. http://127.0.0.1:9090.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The plugin's name, as `GET /api/v1/plugins` lists it.
        #[arg(long, value_name = "NAME")]
        plugin: String,
        /// The scrape job whose input is recorded.
        #[arg(long, value_name = "JOB")]
        job: String,
        /// `target` or `series`: needed only when the job runs the plugin at both stages.
        #[arg(long, value_name = "STAGE")]
        stage: Option<String>,
        /// Series stage: the target (its `instance`) whose next scrape is recorded, needed
        /// when the job has several. Target stage: only the target with this `__address__`.
        #[arg(long, value_name = "INSTANCE")]
        target: Option<String>,
        /// The tenant (X-Scope-OrgID); the node's own if not given.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
        /// A file holding the admin bearer token; else $WASMFED_ADMIN_TOKEN.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// How long to wait for the node (a series recording waits for the next scrape).
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        timeout: u64,
        /// Where to write the fixture.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Start a plugin project: a folder NAME with the plugin's source, wasmfed's WIT, a build
    /// setup, a fixture its starter code passes, and a README saying how to build and test it.
    New {
        /// The stage the plugin serves: `target` (which targets to scrape, with which labels),
        /// `series` (rewrite or drop scraped series) or `rules` (record series from stored ones).
        #[arg(long, value_name = "KIND")]
        kind: wasmfed_plugin_kit::scaffold::Kind,
        /// `rust`, `c` (clang and wasi-libc), `python` (componentize-py) or `js`
        /// (componentize-js).
        #[arg(long, value_name = "LANG")]
        lang: wasmfed_plugin_kit::scaffold::Lang,
        /// The project's name and folder (lowercase letters, digits, `-`, `_`).
        name: String,
    },
    /// Write the C bindings of a plugin world (`target-plugin`, `series-plugin`, ...) into
    /// DIR, as `wit-bindgen c` does, from the WIT this wasmfed checks plugins against.
    Bindings {
        #[arg(long, value_name = "WORLD")]
        world: String,
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Make a component of a core WebAssembly module that carries its world's type (C
    /// plugins: clang's output with the bindings' `_component_type.o` linked in), as
    /// `wasm-tools component new` does, and say whether a node would accept it.
    Componentize {
        #[arg(value_name = "MODULE")]
        module: PathBuf,
        /// Where to write the component.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum CheckCommand {
    /// Check that configuration files load: syntax, keys, values, referenced rule files.
    Config {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check web configuration files (`--web.config.file`), like `promtool check web-config`.
    WebConfig {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    let command = Cli::command();
    let matches = command.clone().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let flags = status::flags(&command, &matches);
    init_logging(&cli.log_level, &cli.prometheus.log_format);
    let outcome = match &cli.command {
        Some(Command::Check {
            what: CheckCommand::Config { files },
        }) => return check_cmd::config(files, cli.compat),
        Some(Command::Check {
            what: CheckCommand::WebConfig { files },
        }) => return check_cmd::web_config(files),
        Some(Command::Plugin {
            what: PluginCommand::Inspect { plugin },
        }) => return plugin_cmd::inspect(plugin),
        Some(Command::Plugin {
            what: PluginCommand::Test { plugin, fixture },
        }) => return plugin_cmd::test(plugin, fixture),
        Some(Command::Plugin {
            what:
                PluginCommand::Record {
                    from,
                    plugin,
                    job,
                    stage,
                    target,
                    tenant,
                    token_file,
                    timeout,
                    output,
                },
        }) => plugin_cmd::record_live(&plugin_cmd::RecordLive {
            from,
            plugin,
            job,
            stage: stage.as_deref(),
            target: target.as_deref(),
            tenant: tenant.as_deref(),
            token_file: token_file.as_deref(),
            output,
            timeout: std::time::Duration::from_secs(*timeout),
        }),
        Some(Command::Plugin {
            what: PluginCommand::New { kind, lang, name },
        }) => return plugin_cmd::new(*kind, *lang, name),
        Some(Command::Plugin {
            what: PluginCommand::Bindings { world, dir },
        }) => return plugin_cmd::bindings(world, dir),
        Some(Command::Plugin {
            what: PluginCommand::Componentize { module, output },
        }) => return plugin_cmd::componentize(module, output),
        Some(Command::Relabel {
            what:
                RelabelCommand::Test {
                    config,
                    job,
                    series,
                    record,
                },
        }) => plugin_cmd::relabel_test(config, job, series, record.as_deref(), cli.compat),
        Some(Command::Demo) => runtime().block_on(demo::demo()),
        Some(Command::Synth {
            listen,
            targets,
            series,
        }) => runtime().block_on(demo::run_synth(
            *listen,
            *targets,
            *series,
            cli.web_config_file.clone(),
        )),
        None => runtime().block_on(run_node(&cli, flags)),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the tokio runtime")
}

/// Logs to stderr at `level` (`RUST_LOG` overrides it), as `format` says: `logfmt`, readable
/// lines (coloured only on a terminal), or `json`, one object per line.
fn init_logging(level: &str, format: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

async fn run_node(cli: &Cli, flags: BTreeMap<String, String>) -> anyhow::Result<()> {
    let loaded = Config::load(&cli.config_file, cli.compat)?;
    tracing::info!(compat = %cli.compat, "answering as");
    for warning in loaded.warnings.iter().chain(&cli.prometheus.warnings()) {
        tracing::warn!("{warning}");
    }
    let lookback = cli.prometheus.lookback().map_err(anyhow::Error::msg)?;
    let block_range = cli.prometheus.block_range().map_err(anyhow::Error::msg)?;
    let route_prefix = cli.prometheus.route_prefix().map_err(anyhow::Error::msg)?;
    let retention: Duration = cli
        .retention
        .parse::<wasmfed_config::Duration>()
        .with_context(|| format!("invalid --storage.retention {:?}", cli.retention))?
        .into();
    let max_block = cli
        .prometheus
        .max_block(retention)
        .map_err(anyhow::Error::msg)?;
    let retention_size = wal::parse_size(&cli.retention_size)
        .with_context(|| "invalid --storage.retention.size".to_owned())?;
    let segment_size = wal::parse_size(&cli.wal_segment_size)
        .with_context(|| "invalid --storage.wal-segment-size".to_owned())?
        .ok_or_else(|| anyhow::anyhow!("--storage.wal-segment-size must not be 0"))?;
    let fsync: wal::FsyncPolicy = cli.wal_fsync.parse().map_err(anyhow::Error::msg)?;
    let query_timeout: Duration = cli
        .query_timeout
        .parse::<wasmfed_config::Duration>()
        .with_context(|| format!("invalid --query.timeout {:?}", cli.query_timeout))?
        .into();
    let node = Node::start(
        loaded.config,
        NodeOptions {
            config_path: Some(cli.config_file.clone()),
            listen: cli.listen,
            storage_path: Some(cli.storage_path.clone()),
            retention,
            retention_size,
            block_range,
            max_block,
            wal: wal::WalOptions {
                fsync,
                segment_size,
            },
            enable_lifecycle: cli.enable_lifecycle,
            compat: cli.compat,
            query_timeout,
            web_config: cli.web_config_file.clone(),
            lookback,
            max_samples: cli.prometheus.max_samples,
            remote_write_receiver: cli.prometheus.remote_write_receiver(),
            plugin_cache: plugin_cache_dir(cli.plugin_cache_dir.as_deref()),
            page_title: cli.prometheus.page_title.clone(),
            route_prefix,
            alert_restore: cli.prometheus.alert_restore().map_err(anyhow::Error::msg)?,
            alert_sending: cli.prometheus.alert_sending().map_err(anyhow::Error::msg)?,
            notification_queue_capacity: cli.prometheus.notification_queue_capacity,
            config_source: loaded.source,
            status: StatusInfo {
                flags,
                storage_retention: status::storage_retention(retention, retention_size),
                started: std::time::SystemTime::now(),
            },
        },
    )
    .await?;
    wait_for_exit(&node).await;
    tracing::info!("shutting down");
    node.shutdown().await;
    Ok(())
}

/// Runs until SIGINT, SIGTERM or `/-/quit`; SIGHUP reloads the configuration, as Prometheus.
async fn wait_for_exit(node: &Node) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut hup = signal(SignalKind::hangup()).expect("installing the SIGHUP handler");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = node.state.quit_requested() => return,
            _ = hup.recv() => {
                // The outcome is logged and counted by the node.
                let _ = node.reload().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// README's flags table names exactly the flags `--help` lists (and their aliases).
    #[test]
    fn readme_flags_table_matches_the_command_line() {
        let readme = include_str!("../../../README.md");
        let mut in_readme: Vec<String> = readme
            .lines()
            .filter(|l| l.starts_with("| `--"))
            .flat_map(|l| {
                let cell = l.split('|').nth(1).unwrap_or_default();
                cell.split('`')
                    .filter(|w| w.starts_with("--"))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        let command = super::Cli::command();
        let mut in_help: Vec<String> = command
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .flat_map(|a| {
                let aliases = a.get_all_aliases().unwrap_or_default();
                a.get_long()
                    .into_iter()
                    .chain(aliases)
                    .map(|l| format!("--{l}"))
                    .collect::<Vec<_>>()
            })
            .filter(|f| f != "--help" && f != "--version")
            .collect();
        in_readme.sort();
        in_help.sort();
        assert_eq!(in_readme, in_help);
    }
}
