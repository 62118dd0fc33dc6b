//! The node's live plugins: which plugins run right now, for which tenant and for what (a
//! job's stages, a rule group, the query handler).
//!
//! Plugins come and go with configuration reloads, so nothing registers them one by one: the
//! scrape manager keeps each job's list here, the rule manager each group's, the tenant its
//! query plugin's. Three readers walk it: `/metrics` (see `metrics`), the admin API (which
//! finds plugins by name to swap or shadow them) and the file watcher (which finds them by
//! file).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::Plugin;

/// A job's plugins, each with the stage it runs in, in stage order.
pub type JobPlugins = Vec<(String, Arc<Plugin>)>;

/// What runs a set of plugins: its tenant, the label naming it, and its value.
type Owner = (String, &'static str, String);

/// Live plugins by what runs them; clones share one list.
#[derive(Debug, Default, Clone)]
pub struct LivePlugins {
    live: Arc<Mutex<BTreeMap<Owner, JobPlugins>>>,
}

impl LivePlugins {
    /// Replaces the plugins listed for a tenant's `job`.
    pub fn track(&self, tenant: &str, job: &str, plugins: JobPlugins) {
        self.track_for(tenant, "job", job, plugins);
    }

    pub fn untrack(&self, tenant: &str, job: &str) {
        self.untrack_for(tenant, "job", job);
    }

    /// Replaces the plugins listed for what `label="value"` names in a tenant
    /// (`rule_group="file;name"`, `handler="/api/v1/query"`).
    pub fn track_for(&self, tenant: &str, label: &'static str, value: &str, plugins: JobPlugins) {
        self.track_owner((tenant.to_owned(), label, value.to_owned()), plugins);
    }

    pub fn untrack_for(&self, tenant: &str, label: &'static str, value: &str) {
        self.untrack_owner(&(tenant.to_owned(), label, value.to_owned()));
    }

    fn track_owner(&self, owner: Owner, plugins: JobPlugins) {
        self.live
            .lock()
            .expect("live plugins lock")
            .insert(owner, plugins);
    }

    fn untrack_owner(&self, owner: &Owner) {
        self.live.lock().expect("live plugins lock").remove(owner);
    }

    /// Every live plugin with what runs it.
    pub fn live(&self) -> Vec<LivePlugin> {
        let live = self.live.lock().expect("live plugins lock");
        live.iter()
            .flat_map(|((tenant, label, owner), plugins)| {
                plugins.iter().map(move |(stage, plugin)| LivePlugin {
                    tenant: tenant.clone(),
                    owner_label: label,
                    owner: owner.clone(),
                    stage: stage.clone(),
                    plugin: plugin.clone(),
                })
            })
            .collect()
    }

    /// The distinct live plugins matching `keep`.
    pub fn find(&self, keep: impl Fn(&LivePlugin) -> bool) -> Vec<Arc<Plugin>> {
        let mut found: Vec<Arc<Plugin>> = Vec::new();
        for p in self.live() {
            if keep(&p) && !found.iter().any(|f| Arc::ptr_eq(f, &p.plugin)) {
                found.push(p.plugin);
            }
        }
        found
    }
}

/// One live plugin and what runs it.
#[derive(Clone, Debug)]
pub struct LivePlugin {
    pub tenant: String,
    /// `job`, `rule_group` or `handler`.
    pub owner_label: &'static str,
    pub owner: String,
    pub stage: String,
    pub plugin: Arc<Plugin>,
}
