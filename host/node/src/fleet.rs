//! The node's tenants over time: starting one (its head, log replay, retention task), applying a
//! configuration to all of them, and stopping those a reload removed.
//!
//! A configuration is applied tenant by tenant, each all-or-nothing (`Tenant::apply`). A new
//! tenant that fails to start or apply is stopped again, so a refused reload leaves the set of
//! tenants as it was; tenants applied before a later one failed keep their new configuration
//! (each tenant's state stays consistent on its own).
//!
//! A stopped tenant's retention task is ended and its log closed before the call returns: the
//! same tenant started again by a later reload opens the same directory, and two logs writing
//! and checkpointing one directory would number their segments alike and delete each other's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::NodeState;
use crate::tenant::{tenant_specs, Shared, Tenant, TenantSpec};
use wasmfed_config::{Config, RemoteWriteConfig, DEFAULT_TENANT};
use wasmfed_remote_write::{MetadataSource, RemoteWriter, WriterContext};
use wasmfed_scrape::ScrapeManager;
use wasmfed_storage::blocks::block_ranges;
use wasmfed_storage::wal::{Retention, WalOptions};

use super::cursors::keep_cursors;
use super::storage::{enforce_retention, open_wal, TenantStorage};
use anyhow::Context;
use wasmfed_scrape::every_sample::CURSORS_FILE;

/// What the tenant's active targets said of their metrics, for remote write's metadata.
fn metadata_of(scrape: Arc<ScrapeManager>) -> MetadataSource {
    Arc::new(move || {
        let mut out = Vec::new();
        for target in scrape.targets().active {
            let metadata = target.metadata.lock().expect("metadata lock");
            out.extend(
                metadata
                    .list()
                    .map(|(name, m)| (name.to_owned(), m.clone())),
            );
        }
        out
    })
}

/// How tenants' storage is kept.
#[derive(Clone)]
pub struct Durability {
    /// `None`: memory only.
    pub storage: Option<PathBuf>,
    pub wal: WalOptions,
    pub retention: Retention,
    /// The range of a block cut from the head (`--storage.tsdb.min-block-duration`).
    pub block_range: std::time::Duration,
    /// The largest block compaction makes (`--storage.tsdb.max-block-duration`).
    pub max_block: std::time::Duration,
}

/// Starts, reconfigures and stops tenants.
pub struct Fleet {
    pub shared: Shared,
    pub durability: Durability,
    /// The retention task of every tenant whose storage is open, by tenant name (names are
    /// unique among running tenants, and a name is stopped before it is started again).
    retainers: Mutex<HashMap<String, Retainer>>,
}

/// A tenant's retention task and the switch that ends it (as does dropping the switch, so the
/// tasks end with the fleet).
struct Retainer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Writes the tenant's every-sample cursors (a node with a storage path).
    cursors: Option<JoinHandle<()>>,
}

impl Fleet {
    pub fn new(shared: Shared, durability: Durability) -> Fleet {
        Fleet {
            shared,
            durability,
            retainers: Mutex::new(HashMap::new()),
        }
    }

    /// A tenant with its log replayed and its retention running, not yet configured.
    pub async fn start(&self, spec: &TenantSpec) -> anyhow::Result<Arc<Tenant>> {
        let tenant = self.create(spec).await?;
        self.open_storage(&tenant, &spec.config.remote_write)
            .await?;
        Ok(tenant)
    }

    /// A tenant with an empty head: nothing replayed, nothing running.
    pub async fn create(&self, spec: &TenantSpec) -> anyhow::Result<Arc<Tenant>> {
        let (spec, shared) = (spec.clone(), self.shared.clone());
        Ok(Arc::new(
            tokio::task::spawn_blocking(move || Tenant::new(&spec, &shared)).await??,
        ))
    }

    /// Replays a [`Fleet::create`]d tenant's log into its head (nothing else may write to it
    /// meanwhile) and starts its retention, after holding the log where the tenant's
    /// `remote_write` queues (to be started with its configuration) left off.
    pub async fn open_storage(
        &self,
        tenant: &Tenant,
        remote_write: &[RemoteWriteConfig],
    ) -> anyhow::Result<()> {
        let wal = match &self.durability.storage {
            None => None,
            Some(storage) => {
                let dir = tenant.wal_dir(storage);
                let wal = open_wal(
                    &tenant.head,
                    &tenant.blocks,
                    &self.shared.telemetry,
                    dir.clone(),
                    self.durability.wal,
                    self.durability.retention,
                )
                .await?;
                let _ = tenant.wal.set(wal.clone());
                let writer = RemoteWriter::new(WriterContext {
                    tenant: tenant.name.clone(),
                    wal: wal.clone(),
                    state_dir: dir.with_file_name("remote_write"),
                    fetcher: self.shared.fetcher.clone(),
                    telemetry: self.shared.telemetry.clone(),
                    runtime: self.shared.runtime.clone(),
                    plugin_limits: tenant.plugin_limits(),
                    compat: self.shared.engine.compat,
                    metadata: Some(metadata_of(tenant.scrape.clone())),
                });
                writer.hold_kept(remote_write);
                let _ = tenant.remote_write.set(Arc::new(writer));
                let cursors = dir.with_file_name(CURSORS_FILE);
                let known = tenant
                    .cursors
                    .attach(cursors.clone())
                    .with_context(|| format!("reading {}", cursors.display()))?;
                if known > 0 {
                    tracing::info!(tenant = %tenant.name, targets = known, "every-sample cursors read");
                }
                Some(wal)
            }
        };
        let (stop, stopped) = watch::channel(false);
        let cursors = wal.clone().map(|wal| {
            let (book, telemetry) = (tenant.cursors.clone(), self.shared.telemetry.clone());
            tokio::spawn(keep_cursors(book, wal, telemetry, stopped.clone()))
        });
        let storage = TenantStorage {
            head: tenant.head.clone(),
            wal,
            blocks: tenant.blocks.clone(),
            metrics: self.shared.telemetry.blocks.clone(),
        };
        let task = tokio::spawn(enforce_retention(
            storage,
            self.durability.retention,
            block_ranges(
                self.durability.block_range.as_millis() as i64,
                self.durability.max_block.as_millis() as i64,
            ),
            stopped,
        ));
        self.retainers.lock().insert(
            tenant.name.clone(),
            Retainer {
                stop,
                task,
                cursors,
            },
        );
        Ok(())
    }

    /// Stops a tenant: its scrapes and rules (`Tenant::shutdown`, whose stale markers still go
    /// to the log), then its storage ([`Fleet::close_storage`]). The head goes with the
    /// tenant's last reference.
    pub async fn stop(&self, tenant: &Tenant) {
        tenant.shutdown(&self.shared.telemetry).await;
        self.close_storage(tenant).await;
    }

    /// Ends a stopped tenant's retention task (waiting for a pass or checkpoint under way),
    /// then closes its log, everything written and fsynced.
    pub async fn close_storage(&self, tenant: &Tenant) {
        let retainer = self.retainers.lock().remove(&tenant.name);
        if let Some(Retainer {
            stop,
            task,
            cursors,
        }) = retainer
        {
            let _ = stop.send(true);
            let _ = task.await;
            if let Some(cursors) = cursors {
                let _ = cursors.await; // its last write, before the log closes
            }
        }
        if let Some(writer) = tenant.remote_write.get() {
            writer.stop().await;
        }
        let Some(wal) = tenant.wal.get().cloned() else {
            return;
        };
        let closed = tokio::task::spawn_blocking(move || wal.close()).await;
        if let Ok(Err(e)) = closed {
            tracing::error!(tenant = %tenant.name, error = %e, "closing the write-ahead log");
        }
    }

    /// Applies `config` to the node's tenants, starting and stopping tenants as it lists them.
    pub async fn apply(&self, state: &NodeState, config: &Config) -> Result<(), String> {
        let specs = tenant_specs(config);
        let mut next: Vec<Arc<Tenant>> = Vec::with_capacity(specs.len());
        let mut started: Vec<Arc<Tenant>> = Vec::new();
        for spec in &specs {
            match self.take_up(state, spec, &mut started).await {
                Ok(tenant) => next.push(tenant),
                Err(e) => {
                    for t in &started {
                        self.stop(t).await;
                    }
                    return Err(e);
                }
            }
        }
        let removed: Vec<Arc<Tenant>> = state
            .tenants()
            .into_iter()
            .filter(|t| t.name != DEFAULT_TENANT && !specs.iter().any(|s| s.name == t.name))
            .collect();
        state.set_tenants(next);
        for tenant in removed {
            tracing::info!(tenant = %tenant.name, "tenant removed");
            self.stop(&tenant).await;
        }
        Ok(())
    }

    /// The tenant `spec` names with `spec` applied: running already, or started now and
    /// added to `started`.
    async fn take_up(
        &self,
        state: &NodeState,
        spec: &TenantSpec,
        started: &mut Vec<Arc<Tenant>>,
    ) -> Result<Arc<Tenant>, String> {
        let tenant = match state.tenant(&spec.name) {
            Some(tenant) => tenant,
            None => {
                let tenant = self
                    .start(spec)
                    .await
                    .map_err(|e| format!("starting tenant {:?}: {e:#}", spec.name))?;
                started.push(tenant.clone());
                tenant
            }
        };
        tenant.apply(spec).await?;
        Ok(tenant)
    }
}
