//! Configuration reloads (`/-/reload`, SIGHUP), one at a time: every tenant's scrape jobs and
//! rule groups (see `fleet`), then the node-wide settings. Only scrape jobs whose
//! configuration changed are restarted (see `ScrapeManager::apply`); a file that fails to load
//! changes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use wasmfed_config::Config;

use crate::fleet::Fleet;
use crate::state::{NodeState, ReloadRequest};

/// Applies configuration reloads one at a time. Only scrape jobs whose configuration changed are
/// restarted (see `ScrapeManager::apply`); a file that fails to load changes nothing.
pub async fn serve_reloads(
    state: Arc<NodeState>,
    fleet: Arc<Fleet>,
    path: Option<PathBuf>,
    mut requests: mpsc::Receiver<ReloadRequest>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let answer = tokio::select! {
            request = requests.recv() => match request {
                Some(answer) => answer,
                None => return,
            },
            _ = stopped.changed() => return,
        };
        let outcome = match &path {
            None => Err("this node has no configuration file".to_owned()),
            Some(path) => reload_from(&state, &fleet, path).await,
        };
        state.telemetry.record_reload(outcome.is_ok());
        match &outcome {
            Ok(()) => {
                tracing::info!(file = %path.as_deref().unwrap_or(Path::new("")).display(), "configuration reloaded")
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration reload failed; keeping the running configuration")
            }
        }
        let _ = answer.send(outcome);
    }
}

async fn reload_from(state: &NodeState, fleet: &Fleet, path: &Path) -> Result<(), String> {
    let loaded = Config::load(path, fleet.shared.engine.compat).map_err(|e| e.to_string())?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let config = loaded.config;
    apply(state, fleet, &config).await?;
    *state.external_labels.write().expect("labels lock") = config.global.external_labels.clone();
    *state.config_source.write().expect("config source lock") = loaded.source;
    Ok(())
}

/// Applies a configuration: every tenant's scrape jobs and rule groups (see `fleet`), then
/// the node-wide settings.
pub async fn apply(state: &NodeState, fleet: &Fleet, config: &Config) -> Result<(), String> {
    // Alert relabeling is loaded first, so that a bad rule refuses the configuration before
    // any tenant changes; the new Alertmanagers take over once everything else did.
    let notifier = fleet.shared.notifier.clone();
    let (runtime, compat, cfg) = (
        fleet.shared.runtime.clone(),
        fleet.shared.engine.compat,
        config.clone(),
    );
    let alerting = tokio::task::spawn_blocking(move || notifier.prepare(&cfg, &runtime, compat))
        .await
        .map_err(|e| format!("loading alerting: {e}"))?
        .map_err(|e| format!("alerting: {e}"))?;
    fleet.apply(state, config).await?;
    fleet.shared.notifier.commit(alerting);
    *state.admin_token.write().expect("admin token lock") = config.admin.bearer_token.clone();
    Ok(())
}
