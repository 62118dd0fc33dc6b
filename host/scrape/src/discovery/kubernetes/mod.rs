//! Kubernetes discovery (`kubernetes_sd_configs`) for the `node`, `service`, `pod`,
//! `endpoints`, `endpointslice` and `ingress` roles: the role's objects LISTed from the API
//! server at once and then every [`REFRESH`] (30 s) by a [`PolledSource`], and turned into
//! Prometheus' target groups ([`groups`], [`endpointslice`], [`ingress`]).
//!
//! Prometheus keeps a LIST+WATCH informer per object kind and sends a group as each object
//! changes; wasmfed polls the LIST instead, a simpler first step that sees the same objects a
//! little later (a WATCH can come later without changing the groups). The endpoints and
//! endpointslice roles join each object with its service and its pods, as Prometheus'
//! informers do, from LISTs of the same namespace; `attach_metadata.node` adds a LIST of the
//! nodes. Each LIST carries the role's `labelSelector` and `fieldSelector` from `selectors`.
//! Endpoint slices are LISTed from `discovery.k8s.io/v1` (Kubernetes 1.21 and later) and
//! ingresses from `networking.k8s.io/v1` (1.19 and later); Prometheus 2.42's fallbacks to
//! `v1beta1` for older API servers are not done.
//!
//! Without `api_server` the API server is found as client-go's `rest.InClusterConfig` finds
//! it: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the service account's
//! token (read again on every request, so a rotated token is picked up) and CA from
//! [`SERVICE_ACCOUNT_DIR`]. The tests run against recorded API answers served on loopback,
//! not against a cluster.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use wasmfed_config::{
    Auth, HttpClientConfig, KubernetesRole, KubernetesSdConfig, Secret, TargetGroup,
};

use self::groups::EndpointsJoin;
use self::objects::{EndpointSlice, Endpoints, Ingress, List, Node, Pod, Service};
use super::polled::{Counters, PolledSource};
use crate::fetch::{join_host_port, Fetcher, HttpClient};

mod endpointslice;
mod groups;
mod ingress;
mod objects;
#[cfg(test)]
mod tests;

/// How often the LISTs are repeated, and how long one may take.
pub const REFRESH: Duration = Duration::from_secs(30);

/// Where a pod's service account is mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Starts the source's task: the LISTs at once, then every [`REFRESH`]. A configuration that
/// cannot reach an API server (not in a cluster) fails every refresh, logged and counted.
pub(super) fn start(
    config: KubernetesSdConfig,
    fetcher: Fetcher,
    counters: Counters,
) -> PolledSource {
    let what = format!("kubernetes_sd role {}", config.role.as_str());
    let api = Arc::new(Api::new(&config, &env, Path::new(SERVICE_ACCOUNT_DIR)));
    let config = Arc::new(config);
    PolledSource::start(what, REFRESH, counters, move || {
        let (config, api, fetcher) = (config.clone(), api.clone(), fetcher.clone());
        async move {
            let api = api.as_ref().as_ref().map_err(Clone::clone)?;
            discover(&config, api, &fetcher).await
        }
    })
}

/// The source LISTed once (for one-off tools).
pub(super) async fn once(
    config: &KubernetesSdConfig,
    fetcher: &Fetcher,
) -> Result<PolledSource, String> {
    let api = Api::new(config, &env, Path::new(SERVICE_ACCOUNT_DIR))?;
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
}

impl Api {
    /// `config`'s API server, or the in-cluster one from `env` and the service account
    /// files in `account_dir` (Prometheus' `kubernetes.New`).
    fn new(
        config: &KubernetesSdConfig,
        env: &dyn Fn(&str) -> Option<String>,
        account_dir: &Path,
    ) -> Result<Api, String> {
        let mut namespaces = config.namespaces.clone();
        let (base, client) = match &config.api_server {
            Some(url) => (url.clone(), config.http_client.clone()),
            None => {
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
        })
    }

    /// The URL of the LIST of `resource` in `namespace` (`""`: all, or not namespaced).
    fn list_url(&self, namespace: &str, resource: &str, (label, field): (&str, &str)) -> String {
        let group = match resource {
            "endpointslices" => "apis/discovery.k8s.io/v1",
            "ingresses" => "apis/networking.k8s.io/v1",
            _ => "api/v1",
        };
        let mut url = match namespace {
            "" => format!("{}/{group}/{resource}", self.base),
            ns => format!("{}/{group}/namespaces/{ns}/{resource}", self.base),
        };
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !label.is_empty() {
            query.append_pair("labelSelector", label);
        }
        if !field.is_empty() {
            query.append_pair("fieldSelector", field);
        }
        let query = query.finish();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        url
    }

    /// The items of a LIST.
    async fn list<T: DeserializeOwned>(
        &self,
        fetcher: &Fetcher,
        namespace: &str,
        resource: &str,
        selector: (&str, &str),
    ) -> Result<Vec<T>, String> {
        let url = self.list_url(namespace, resource, selector);
        let answer = fetcher
            .fetch_json(&self.client, &url, REFRESH)
            .await
            .map_err(|e| format!("listing {url}: {e}"))?;
        let list: Result<List<T>, _> = serde_json::from_slice(&answer.body);
        fetcher.recycle(answer.body);
        Ok(list.map_err(|e| format!("listing {url}: {e}"))?.items)
    }
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

/// One refresh: the role's LISTs turned into target groups.
async fn discover(
    config: &KubernetesSdConfig,
    api: &Api,
    fetcher: &Fetcher,
) -> Result<Vec<TargetGroup>, String> {
    let selector = |role| config.selector(role);
    let nodes: Option<Vec<Node>> = match config.role {
        KubernetesRole::Pod | KubernetesRole::Endpoints | KubernetesRole::EndpointSlice
            if config.attach_node_metadata =>
        {
            Some(
                api.list(fetcher, "", "nodes", selector(KubernetesRole::Node))
                    .await?,
            )
        }
        _ => None,
    };
    let nodes_by_name = nodes
        .as_ref()
        .map(|nodes| by_name(nodes, |n: &Node| &n.metadata.name));
    let mut groups = Vec::new();
    match config.role {
        KubernetesRole::Node => {
            let nodes: Vec<Node> = api
                .list(fetcher, "", "nodes", selector(KubernetesRole::Node))
                .await?;
            groups.extend(nodes.iter().filter_map(groups::node_group));
        }
        KubernetesRole::Service => {
            for ns in &api.namespaces {
                let services: Vec<Service> = api
                    .list(fetcher, ns, "services", selector(KubernetesRole::Service))
                    .await?;
                groups.extend(services.iter().map(groups::service_group));
            }
        }
        KubernetesRole::Pod => {
            for ns in &api.namespaces {
                let pods: Vec<Pod> = api
                    .list(fetcher, ns, "pods", selector(KubernetesRole::Pod))
                    .await?;
                groups.extend(
                    pods.iter()
                        .map(|p| groups::pod_group(p, nodes_by_name.as_ref())),
                );
            }
        }
        role @ (KubernetesRole::Endpoints | KubernetesRole::EndpointSlice) => {
            for ns in &api.namespaces {
                let (endpoints, slices): (Vec<Endpoints>, Vec<EndpointSlice>) =
                    if role == KubernetesRole::Endpoints {
                        let list = api.list(fetcher, ns, "endpoints", selector(role));
                        (list.await?, Vec::new())
                    } else {
                        let list = api.list(fetcher, ns, "endpointslices", selector(role));
                        (Vec::new(), list.await?)
                    };
                let services: Vec<Service> = api
                    .list(fetcher, ns, "services", selector(KubernetesRole::Service))
                    .await?;
                let pods: Vec<Pod> = api
                    .list(fetcher, ns, "pods", selector(KubernetesRole::Pod))
                    .await?;
                let join = EndpointsJoin {
                    services: services.iter().map(|s| (key(&s.metadata), s)).collect(),
                    pods: pods.iter().map(|p| (key(&p.metadata), p)).collect(),
                    nodes: nodes_by_name.as_ref(),
                };
                groups.extend(endpoints.iter().map(|e| groups::endpoints_group(e, &join)));
                groups.extend(
                    slices
                        .iter()
                        .map(|s| endpointslice::endpointslice_group(s, &join)),
                );
            }
        }
        KubernetesRole::Ingress => {
            for ns in &api.namespaces {
                let ingresses: Vec<Ingress> = api
                    .list(fetcher, ns, "ingresses", selector(KubernetesRole::Ingress))
                    .await?;
                groups.extend(ingresses.iter().map(ingress::ingress_group));
            }
        }
    }
    Ok(groups)
}

fn by_name<'a, T>(items: &'a [T], name: impl Fn(&'a T) -> &'a String) -> HashMap<&'a str, &'a T> {
    items
        .iter()
        .map(|item| (name(item).as_str(), item))
        .collect()
}

/// An object's namespace and name.
fn key(meta: &objects::ObjectMeta) -> (&str, &str) {
    (&meta.namespace, &meta.name)
}
