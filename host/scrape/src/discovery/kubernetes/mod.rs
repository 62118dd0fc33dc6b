//! Kubernetes discovery (`kubernetes_sd_configs`) for the `node`, `service`, `pod`,
//! `endpoints`, `endpointslice` and `ingress` roles: the role's objects LISTed from the API
//! server and then WATCHed ([`watch`]), as Prometheus' informers do, kept by kind ([`store`])
//! and turned into Prometheus' target groups ([`groups`], [`endpointslice`], [`ingress`]).
//!
//! The endpoints and endpointslice roles join each object with its service and its pods, as
//! Prometheus' informers do, from feeds of the same namespace; `attach_metadata.node` adds a
//! feed of the nodes. Each LIST and WATCH carries the role's `labelSelector` and
//! `fieldSelector` from `selectors`. Endpoint slices are read from `discovery.k8s.io/v1`
//! and ingresses from `networking.k8s.io/v1`, or from their `v1beta1` on API servers older
//! than Kubernetes 1.21 and 1.19, as Prometheus 2.42 falls back ([`version`]).
//!
//! With `kubeconfig_file` the API server and credentials are its current context's
//! ([`load_kubeconfig`]), read when discovery starts. Without it or `api_server` the API
//! server is found as client-go's `rest.InClusterConfig` finds it: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the service account's
//! token (read again on every request, so a rotated token is picked up) and CA from
//! [`SERVICE_ACCOUNT_DIR`]. The tests run against recorded API answers served on loopback,
//! not against a cluster.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wasmfed_config::{
    load_kubeconfig, Auth, HttpClientConfig, KubernetesRole, KubernetesSdConfig, Secret,
    TargetGroup,
};

use self::objects::List;
use self::store::{Feed, Objects};
use super::polled::{Counters, PolledSource};
use crate::fetch::{join_host_port, Fetcher, HttpClient};

mod endpointslice;
mod groups;
mod ingress;
mod objects;
mod store;
#[cfg(test)]
mod tests;
mod version;
mod watch;

/// How long a LIST may take.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long discovery waits before asking an API server's version again.
const VERSION_RETRY: Duration = Duration::from_secs(10);

/// Where a pod's service account is mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Starts the source's task: each feed LISTed at once and then WATCHed ([`watch`]). A
/// configuration that cannot reach an API server (not in a cluster) fails every
/// [`LIST_TIMEOUT`], logged and counted.
pub(super) fn start(
    config: KubernetesSdConfig,
    fetcher: Fetcher,
    counters: Counters,
) -> PolledSource {
    let api = Api::new(&config, &env, Path::new(SERVICE_ACCOUNT_DIR));
    PolledSource::spawn(move |publisher| async move {
        match api {
            Ok(mut api) => {
                // Asked until answered, as Prometheus retries it every 10 s.
                while let Err(e) = api.read_version(&fetcher, config.role).await {
                    counters.failures.inc();
                    tracing::error!(source = "kubernetes_sd", role = config.role.as_str(), error = %e, "failed to check the API server's version");
                    tokio::time::sleep(VERSION_RETRY).await;
                }
                let (config, api) = (Arc::new(config), Arc::new(api));
                watch::run(config, api, fetcher, counters, publisher).await
            }
            Err(e) => loop {
                counters.failures.inc();
                tracing::error!(source = "kubernetes_sd", role = config.role.as_str(), error = %e, "discovery failed");
                tokio::time::sleep(LIST_TIMEOUT).await;
            },
        }
    })
}

/// The source LISTed once (for one-off tools).
pub(super) async fn once(
    config: &KubernetesSdConfig,
    fetcher: &Fetcher,
) -> Result<PolledSource, String> {
    let mut api = Api::new(config, &env, Path::new(SERVICE_ACCOUNT_DIR))?;
    api.read_version(fetcher, config.role).await?;
    Ok(PolledSource::fixed(discover(config, &api, fetcher).await?))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// An API server and the namespaces to LIST in it.
struct Api {
    /// `scheme://host[:port][/prefix]`, without a trailing slash.
    base: String,
    client: HttpClient,
    /// Namespaces to LIST namespaced objects in; `""` is all of them.
    namespaces: Vec<String>,
    /// The role's objects are read through their `v1beta1` group ([`version`]).
    beta: bool,
}

impl Api {
    /// `config`'s API server, the current context's of its `kubeconfig_file`, or the
    /// in-cluster one from `env` and the service account files in `account_dir` (Prometheus'
    /// `kubernetes.New`).
    fn new(
        config: &KubernetesSdConfig,
        env: &dyn Fn(&str) -> Option<String>,
        account_dir: &Path,
    ) -> Result<Api, String> {
        let mut namespaces = config.namespaces.clone();
        let (base, client) = match (&config.api_server, &config.kubeconfig_file) {
            (Some(url), _) => (url.clone(), config.http_client.clone()),
            (None, Some(path)) => {
                let kubeconfig = load_kubeconfig(path).map_err(|e| e.to_string())?;
                (kubeconfig.server, kubeconfig.http_client)
            }
            (None, None) => {
                let (base, client) = in_cluster(env, account_dir)?;
                if config.own_namespace {
                    let path = account_dir.join("namespace");
                    let own = std::fs::read_to_string(&path)
                        .map_err(|e| format!("could not determine the pod's namespace: {e}"))?;
                    if own.is_empty() {
                        return Err("could not read own namespace name (empty file)".into());
                    }
                    namespaces.push(own);
                }
                (base, client)
            }
        };
        if namespaces.is_empty() {
            namespaces.push(String::new());
        }
        Ok(Api {
            base: base.trim_end_matches('/').to_owned(),
            client: HttpClient::new(&client),
            namespaces,
            beta: false,
        })
    }

    /// Asks the API server's `/version` for a role whose API group depends on it.
    async fn read_version(
        &mut self,
        fetcher: &Fetcher,
        role: KubernetesRole,
    ) -> Result<(), String> {
        if !version::checked(role) {
            return Ok(());
        }
        let url = format!("{}/version", self.base);
        let answer = fetcher
            .fetch_json(&self.client, &url, LIST_TIMEOUT)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let server: Result<version::ServerVersion, _> = serde_json::from_slice(&answer.body);
        fetcher.recycle(answer.body);
        let server = server.map_err(|e| format!("{url}: {e}"))?;
        self.beta = version::beta(role, &server.git_version)?;
        Ok(())
    }

    /// The URL of `feed`'s LIST, with `extra` query parameters.
    fn list_url(&self, feed: &Feed, extra: &[(&str, &str)]) -> String {
        let (group, resource) = (feed.kind.group(self.beta), feed.kind.resource());
        let mut url = match feed.namespace.as_str() {
            "" => format!("{}/{group}/{resource}", self.base),
            ns => format!("{}/{group}/namespaces/{ns}/{resource}", self.base),
        };
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !feed.label.is_empty() {
            query.append_pair("labelSelector", &feed.label);
        }
        if !feed.field.is_empty() {
            query.append_pair("fieldSelector", &feed.field);
        }
        for (name, value) in extra {
            query.append_pair(name, value);
        }
        let query = query.finish();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        url
    }

    /// The URL of `feed`'s WATCH from `version`.
    fn watch_url(&self, feed: &Feed, version: &str) -> String {
        let timeout = watch::WATCH_SECONDS.to_string();
        self.list_url(
            feed,
            &[
                ("allowWatchBookmarks", "true"),
                ("resourceVersion", version),
                ("timeoutSeconds", &timeout),
                ("watch", "1"),
            ],
        )
    }

    /// `feed`'s LIST: its items, undecoded, and its version.
    async fn list(&self, fetcher: &Fetcher, feed: &Feed) -> Result<Listed, String> {
        let url = self.list_url(feed, &[]);
        let answer = fetcher
            .fetch_json(&self.client, &url, LIST_TIMEOUT)
            .await
            .map_err(|e| format!("listing {url}: {e}"))?;
        let list: Result<List<serde_json::Value>, _> = serde_json::from_slice(&answer.body);
        fetcher.recycle(answer.body);
        let list = list.map_err(|e| format!("listing {url}: {e}"))?;
        Ok(Listed {
            items: list.items,
            version: list.metadata.resource_version,
        })
    }
}

/// A LIST's answer.
struct Listed {
    items: Vec<serde_json::Value>,
    /// Where a WATCH of the same objects starts.
    version: String,
}

/// client-go's `rest.InClusterConfig`: the API server's URL and a client with the service
/// account's token and CA (the system's roots when the CA cannot be read, as client-go falls
/// back to them).
fn in_cluster(
    env: &dyn Fn(&str) -> Option<String>,
    account_dir: &Path,
) -> Result<(String, HttpClientConfig), String> {
    let (host, port) = (
        env("KUBERNETES_SERVICE_HOST").unwrap_or_default(),
        env("KUBERNETES_SERVICE_PORT").unwrap_or_default(),
    );
    if host.is_empty() || port.is_empty() {
        return Err(
            "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and \
                    KUBERNETES_SERVICE_PORT must be defined"
                .into(),
        );
    }
    let port: u16 = port
        .parse()
        .map_err(|e| format!("KUBERNETES_SERVICE_PORT={port:?}: {e}"))?;
    let token = account_dir.join("token");
    std::fs::read(&token).map_err(|e| format!("reading {}: {e}", token.display()))?;
    let ca = account_dir.join("ca.crt");
    let mut client = HttpClientConfig {
        auth: Some(Auth::Authorization {
            kind: "Bearer".into(),
            credentials: Some(Secret::File(token)),
        }),
        ..HttpClientConfig::default()
    };
    if ca.is_file() {
        client.tls.ca = Some(Secret::File(ca));
    } else {
        tracing::error!(path = %ca.display(), "expected to load the in-cluster root CA; using the system's roots");
    }
    Ok((format!("https://{}", join_host_port(&host, port)), client))
}

/// Every feed of the role LISTed once, and the groups built from what they hold.
async fn discover(
    config: &KubernetesSdConfig,
    api: &Api,
    fetcher: &Fetcher,
) -> Result<Vec<TargetGroup>, String> {
    let mut objects = Objects::default();
    for feed in store::feeds(config, &api.namespaces) {
        let listed = api.list(fetcher, &feed).await?;
        objects
            .replace(&feed, listed.items)
            .map_err(|e| format!("listing {}: {e}", api.list_url(&feed, &[])))?;
    }
    Ok(store::build(config, &objects))
}
