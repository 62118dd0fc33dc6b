//! Kubernetes service discovery (`kubernetes_sd_configs`), read and checked as Prometheus 2.42's
//! `discovery/kubernetes.SDConfig` is: the same keys, the same defaults, the same refusals
//! with the same messages, so a configuration Prometheus refuses is refused here for the same
//! reason.
//!
//! `kubeconfig_file` is only located here: the file is read when discovery starts, as
//! Prometheus reads it ([`crate::load_kubeconfig`]). Selector expressions are handed to the API
//! server as written: a malformed one fails the LIST (and is logged) instead of the load.
//! Talking to the API server is the scrape side's business.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::http_client::{self, HttpClientConfig, RawHttpClient};
use super::http_sd::check_url;
use super::yaml::{zero_if_null, Bool, KeySet};

/// What a Kubernetes SD config discovers (`role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KubernetesRole {
    Node,
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    Ingress,
}

impl KubernetesRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KubernetesRole::Node => "node",
            KubernetesRole::Pod => "pod",
            KubernetesRole::Service => "service",
            KubernetesRole::Endpoints => "endpoints",
            KubernetesRole::EndpointSlice => "endpointslice",
            KubernetesRole::Ingress => "ingress",
        }
    }

    fn parse(name: &str) -> Result<KubernetesRole, String> {
        Ok(match name {
            "node" => KubernetesRole::Node,
            "pod" => KubernetesRole::Pod,
            "service" => KubernetesRole::Service,
            "endpoints" => KubernetesRole::Endpoints,
            "endpointslice" => KubernetesRole::EndpointSlice,
            "ingress" => KubernetesRole::Ingress,
            other => return Err(format!("unknown Kubernetes SD role {other:?}")),
        })
    }

    /// The selector roles a config of this role may carry (Prometheus' `allowedSelectors`).
    fn allowed_selectors(self) -> &'static [KubernetesRole] {
        use KubernetesRole::*;
        match self {
            Pod => &[Pod],
            Service => &[Service],
            EndpointSlice => &[Pod, Service, EndpointSlice],
            Endpoints => &[Pod, Service, Endpoints],
            Node => &[Node],
            Ingress => &[Ingress],
        }
    }
}

impl<'de> Deserialize<'de> for KubernetesRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = zero_if_null(Option::<String>::deserialize(d)?);
        KubernetesRole::parse(&name).map_err(de::Error::custom)
    }
}

/// One `selectors` entry: the label and field selectors of the LISTs of `role`'s objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesSelector {
    /// `None` when the entry named no role (Prometheus then refuses it as not allowed).
    pub role: Option<KubernetesRole>,
    pub label: String,
    pub field: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelector {
    role: Option<KubernetesRole>,
    label: Option<String>,
    field: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamespaces {
    #[serde(default)]
    own_namespace: Bool,
    names: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttachMetadata {
    #[serde(default)]
    node: Bool,
}

/// One `kubernetes_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesSdConfig {
    pub role: KubernetesRole,
    /// Without one, the in-cluster configuration of the pod wasmfed runs in (its service
    /// account's token and CA, the API server from `KUBERNETES_SERVICE_HOST`/`_PORT`).
    pub api_server: Option<String>,
    /// `kubeconfig_file`, joined to the configuration's directory: read when discovery
    /// starts, as Prometheus reads it.
    pub kubeconfig_file: Option<PathBuf>,
    /// `namespaces.names`; empty with `own_namespace` false means all namespaces.
    pub namespaces: Vec<String>,
    /// `namespaces.own_namespace`: the pod's own namespace too (in-cluster only).
    pub own_namespace: bool,
    pub selectors: Vec<KubernetesSelector>,
    /// `attach_metadata.node`: pod, endpoints and endpointslice targets get their node's
    /// labels.
    pub attach_node_metadata: bool,
    /// The client towards `api_server`; the default when running in the cluster.
    pub http_client: HttpClientConfig,
}

impl KubernetesSdConfig {
    /// The label and field selectors of the LISTs of `role`'s objects ("" when none).
    pub fn selector(&self, role: KubernetesRole) -> (&str, &str) {
        self.selectors
            .iter()
            .find(|s| s.role == Some(role))
            .map_or(("", ""), |s| (s.label.as_str(), s.field.as_str()))
    }
}

/// As written; the HTTP client's files are joined to the configuration's directory by
/// [`RawKubernetesSdConfig::resolve`], where the checks that need the whole entry run.
pub(super) struct RawKubernetesSdConfig {
    role: Option<KubernetesRole>,
    api_server: Option<String>,
    kubeconfig_file: String,
    namespaces: RawNamespaces,
    selectors: Vec<RawSelector>,
    attach_metadata: RawAttachMetadata,
    http_client: RawHttpClient,
}

impl RawKubernetesSdConfig {
    /// Prometheus' `SDConfig.UnmarshalYAML` checks, in its order, then wasmfed's refusals
    /// of what it does not implement.
    pub(super) fn resolve(self, dir: &Path) -> Result<KubernetesSdConfig, String> {
        let role = self.role.ok_or(
            "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
        )?;
        let http_client = self.http_client.resolve(dir)?;
        let custom_client = http_client != HttpClientConfig::default();
        let kubeconfig = !self.kubeconfig_file.is_empty();
        let own_namespace = self.namespaces.own_namespace.0;
        if self.api_server.is_some() && kubeconfig {
            return Err("cannot use 'kubeconfig_file' and 'api_server' simultaneously".into());
        }
        if kubeconfig && custom_client {
            return Err(
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'"
                    .into(),
            );
        }
        if self.api_server.is_none() && !kubeconfig && custom_client {
            return Err("to use custom HTTP client configuration please provide the 'api_server' URL explicitly".into());
        }
        if self.api_server.is_some() && own_namespace {
            return Err(
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        if kubeconfig && own_namespace {
            return Err(
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        let mut selectors: Vec<KubernetesSelector> = Vec::new();
        for raw in self.selectors {
            if selectors.iter().any(|s| s.role == raw.role) {
                let name = raw.role.map_or("", KubernetesRole::as_str);
                return Err(format!("duplicated selector role: {name}"));
            }
            let allowed = role.allowed_selectors();
            if !raw.role.is_some_and(|r| allowed.contains(&r)) {
                let names: Vec<_> = allowed.iter().map(|r| r.as_str()).collect();
                return Err(format!(
                    "{} role supports only {} selectors",
                    role.as_str(),
                    names.join(", ")
                ));
            }
            selectors.push(KubernetesSelector {
                role: raw.role,
                label: raw.label.unwrap_or_default(),
                field: raw.field.unwrap_or_default(),
            });
        }
        if let Some(url) = &self.api_server {
            check_url(url).map_err(|e| format!("api_server: {e}"))?;
        }
        Ok(KubernetesSdConfig {
            role,
            api_server: self.api_server,
            kubeconfig_file: kubeconfig.then(|| dir.join(&self.kubeconfig_file)),
            namespaces: self.namespaces.names.unwrap_or_default(),
            own_namespace,
            selectors,
            attach_node_metadata: self.attach_metadata.node.0,
            http_client,
        })
    }
}

impl<'de> Deserialize<'de> for RawKubernetesSdConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(KubernetesSdVisitor)
    }
}

struct KubernetesSdVisitor;

impl<'de> Visitor<'de> for KubernetesSdVisitor {
    type Value = RawKubernetesSdConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a kubernetes_sd_configs entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawKubernetesSdConfig, A::Error> {
        let mut raw = RawKubernetesSdConfig {
            role: None,
            api_server: None,
            kubeconfig_file: String::new(),
            namespaces: RawNamespaces::default(),
            selectors: Vec::new(),
            attach_metadata: RawAttachMetadata::default(),
            http_client: RawHttpClient::default(),
        };
        let mut seen = KeySet::default();
        while let Some(key) = map.next_key::<String>()? {
            seen.check(&key)?;
            match key.as_str() {
                "role" => raw.role = map.next_value()?,
                "api_server" => {
                    raw.api_server = map
                        .next_value::<Option<String>>()?
                        .filter(|url| !url.is_empty())
                }
                "kubeconfig_file" => raw.kubeconfig_file = zero_if_null(map.next_value()?),
                "namespaces" => raw.namespaces = zero_if_null(map.next_value()?),
                "selectors" => raw.selectors = zero_if_null(map.next_value()?),
                "attach_metadata" => raw.attach_metadata = zero_if_null(map.next_value()?),
                k if http_client::KEYS.contains(&k) => raw.http_client.read(k, &mut map)?,
                other => {
                    return Err(de::Error::custom(format!(
                        "field {other} not found in type kubernetes.plain"
                    )))
                }
            }
        }
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> Result<KubernetesSdConfig, String> {
        let raw: RawKubernetesSdConfig = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        raw.resolve(Path::new("/etc/prometheus"))
    }

    #[test]
    fn reads_every_key() {
        let c = read("role: pod").unwrap();
        assert_eq!(c.role, KubernetesRole::Pod);
        assert_eq!(c.api_server, None);
        assert_eq!(c.http_client, HttpClientConfig::default());
        assert!(c.namespaces.is_empty() && !c.own_namespace && !c.attach_node_metadata);
        assert_eq!(c.kubeconfig_file, None);
        let c = read("role: pod\nkubeconfig_file: kube/config").unwrap();
        assert_eq!(
            c.kubeconfig_file.as_deref(),
            Some(Path::new("/etc/prometheus/kube/config"))
        );

        let c = read(
            "role: endpoints\napi_server: https://k8s.example:6443\nbearer_token_file: t\n\
             tls_config: {ca_file: ca.crt}\nnamespaces: {names: [a, b]}\n\
             attach_metadata: {node: true}\n\
             selectors:\n  - {role: pod, label: 'app=x'}\n  - {role: endpoints, field: 'metadata.name=y'}\n",
        )
        .unwrap();
        assert_eq!(c.api_server.as_deref(), Some("https://k8s.example:6443"));
        assert_eq!(c.namespaces, ["a", "b"]);
        assert!(c.attach_node_metadata);
        assert!(c.http_client.auth.is_some());
        assert_eq!(c.selector(KubernetesRole::Pod), ("app=x", ""));
        assert_eq!(
            c.selector(KubernetesRole::Endpoints),
            ("", "metadata.name=y")
        );
        assert_eq!(c.selector(KubernetesRole::Service), ("", ""));

        let c = read("role: node\nnamespaces: {own_namespace: true}").unwrap();
        assert!(c.own_namespace);

        let c = read("role: ingress\nselectors: [{role: ingress, label: a=b}]").unwrap();
        assert_eq!(c.role, KubernetesRole::Ingress);
        assert_eq!(c.selector(KubernetesRole::Ingress), ("a=b", ""));
    }

    /// The refusals of Prometheus 2.42's `SDConfig.UnmarshalYAML` (and its config tests'
    /// `kubernetes_*.bad.yml` files), then wasmfed's own.
    #[test]
    fn refuses_as_prometheus_refuses() {
        for (yaml, want) in [
            ("api_server: http://k", "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"),
            ("role: vm", "unknown Kubernetes SD role \"vm\""),
            ("role: pod\nbearer_token: x", "to use custom HTTP client configuration please provide the 'api_server' URL explicitly"),
            ("role: pod\napi_server: http://k\nkubeconfig_file: /k", "cannot use 'kubeconfig_file' and 'api_server' simultaneously"),
            ("role: pod\nkubeconfig_file: /k\nbasic_auth: {username: u}", "cannot use a custom HTTP client configuration together with 'kubeconfig_file'"),
            ("role: pod\napi_server: http://k\nnamespaces: {own_namespace: true}", "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously"),
            ("role: pod\nkubeconfig_file: /k\nnamespaces: {own_namespace: true}", "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously"),
            ("role: pod\nselectors: [{role: pod}, {role: pod}]", "duplicated selector role: pod"),
            ("role: pod\nselectors: [{role: node}]", "pod role supports only pod selectors"),
            ("role: endpoints\nselectors: [{role: node}]", "endpoints role supports only pod, service, endpoints selectors"),
            ("role: node\nselectors: [{label: a}]", "node role supports only node selectors"),
            ("role: ingress\nselectors: [{role: pod}]", "ingress role supports only ingress selectors"),
            ("role: pod\nselectors: [{role: nodes}]", "unknown Kubernetes SD role \"nodes\""),
            ("role: pod\napi_server: http://k\nbearer_token: a\nbearer_token_file: b", "at most one of bearer_token & bearer_token_file"),
            ("role: pod\nnamespaces: {name: [a]}", "unknown field `name`"),
            ("role: pod\nzone: a", "field zone not found in type kubernetes.plain"),
            ("role: pod\napi_server: k8s:6443", "api_server: URL scheme must be 'http' or 'https'"),
        ] {
            let err = read(yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}: {err}");
        }
    }
}
