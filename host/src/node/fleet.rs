//! The node's tenants over time: starting one (its head, log replay, retention task), applying a
//! configuration to all of them, and stopping those a reload removed.
//!
//! A configuration is applied tenant by tenant, each all-or-nothing (`Tenant::apply`). A new
//! tenant that fails to start or apply is dropped again, so a refused reload leaves the set of
//! tenants as it was; tenants applied before a later one failed keep their new configuration
//! (each tenant's state stays consistent on its own).

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::config::{Config, DEFAULT_TENANT};
use crate::storage::wal::{Retention, WalOptions};
use crate::tenant::{tenant_specs, Shared, Tenant, TenantSpec};
use crate::web::WebState;

use super::storage::{enforce_retention, open_wal};

/// How tenants' storage is kept.
#[derive(Clone)]
pub(super) struct Durability {
    /// `None`: memory only.
    pub storage: Option<PathBuf>,
    pub wal: WalOptions,
    pub retention: Retention,
}

/// Starts, reconfigures and stops tenants.
pub(super) struct Fleet {
    pub shared: Shared,
    pub durability: Durability,
    stopped: watch::Receiver<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Fleet {
    pub fn new(shared: Shared, durability: Durability, stopped: watch::Receiver<bool>) -> Fleet {
        Fleet {
            shared,
            durability,
            stopped,
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// A tenant with its log replayed and its retention running, not yet configured.
    pub async fn start(&self, spec: &TenantSpec) -> anyhow::Result<Arc<Tenant>> {
        let tenant = self.create(spec).await?;
        self.open_storage(&tenant).await?;
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
    /// meanwhile) and starts its retention.
    pub async fn open_storage(&self, tenant: &Tenant) -> anyhow::Result<()> {
        let wal = match &self.durability.storage {
            None => None,
            Some(storage) => {
                let dir = tenant.wal_dir(storage);
                let wal = open_wal(
                    &tenant.head,
                    &self.shared.telemetry,
                    dir,
                    self.durability.wal,
                    self.durability.retention,
                )
                .await?;
                let _ = tenant.wal.set(wal.clone());
                Some(wal)
            }
        };
        self.tasks.lock().push(tokio::spawn(enforce_retention(
            tenant.head.clone(),
            wal,
            self.durability.retention,
            self.stopped.clone(),
        )));
        Ok(())
    }

    /// Applies `config` to the node's tenants, starting and stopping tenants as it lists them.
    pub async fn apply(&self, state: &WebState, config: &Config) -> Result<(), String> {
        let specs = tenant_specs(config);
        let mut next: Vec<Arc<Tenant>> = Vec::with_capacity(specs.len());
        let mut started: Vec<Arc<Tenant>> = Vec::new();
        for spec in &specs {
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
            if let Err(e) = tenant.apply(spec).await {
                for t in &started {
                    t.shutdown(&self.shared.telemetry).await;
                }
                return Err(e);
            }
            next.push(tenant);
        }
        let removed: Vec<Arc<Tenant>> = state
            .tenants()
            .into_iter()
            .filter(|t| t.name != DEFAULT_TENANT && !specs.iter().any(|s| s.name == t.name))
            .collect();
        state.set_tenants(next);
        for tenant in removed {
            tracing::info!(tenant = %tenant.name, "tenant removed");
            tenant.shutdown(&self.shared.telemetry).await;
        }
        Ok(())
    }

    /// Waits for the retention tasks (after the stop signal).
    pub async fn join(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock());
        for task in tasks {
            let _ = task.await;
        }
    }
}
