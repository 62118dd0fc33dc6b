//! The objects a role's target groups are built from, kept by kind, and the LISTs (each
//! followed by a WATCH) that fill them: a [`Feed`] is one resource in one namespace with the
//! role's selectors, and [`Objects`] holds what every feed of a role last reported.
//!
//! Groups are rebuilt from all objects whenever one changes ([`build`]), rather than patched
//! per object as Prometheus' informers do: the endpoints roles join each object with services,
//! pods and nodes that change on their own, and rebuilding keeps those joins in one place.
//! Objects are kept in the API server's LIST order (namespace, then name), so the groups come
//! out in that order whichever feed reported them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;
use wasmfed_config::{KubernetesRole, KubernetesSdConfig, TargetGroup};

use super::groups::{self, EndpointsJoin, NodesByName};
use super::objects::{EndpointSlice, Endpoints, Ingress, Node, ObjectMeta, Pod, Service};
use super::{endpointslice, ingress};

/// A kind of object discovery reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Node,
    Service,
    Pod,
    Endpoints,
    EndpointSlice,
    Ingress,
}

impl Kind {
    /// Its resource, as named in API paths.
    pub(super) fn resource(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::Service => "services",
            Kind::Pod => "pods",
            Kind::Endpoints => "endpoints",
            Kind::EndpointSlice => "endpointslices",
            Kind::Ingress => "ingresses",
        }
    }

    /// The API group and version it is read from (`beta`: from an API server older than
    /// `v1`'s, see [`super::version`]).
    pub(super) fn group(self, beta: bool) -> &'static str {
        match (self, beta) {
            (Kind::EndpointSlice, false) => "apis/discovery.k8s.io/v1",
            (Kind::EndpointSlice, true) => "apis/discovery.k8s.io/v1beta1",
            (Kind::Ingress, false) => "apis/networking.k8s.io/v1",
            (Kind::Ingress, true) => "apis/networking.k8s.io/v1beta1",
            _ => "api/v1",
        }
    }

    /// The role whose `selectors` entry applies to its LISTs.
    fn selector_role(self) -> KubernetesRole {
        match self {
            Kind::Node => KubernetesRole::Node,
            Kind::Service => KubernetesRole::Service,
            Kind::Pod => KubernetesRole::Pod,
            Kind::Endpoints => KubernetesRole::Endpoints,
            Kind::EndpointSlice => KubernetesRole::EndpointSlice,
            Kind::Ingress => KubernetesRole::Ingress,
        }
    }
}

/// One resource LISTed and watched in one namespace (`""`: all, or not namespaced).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Feed {
    pub kind: Kind,
    pub namespace: String,
    /// `labelSelector` and `fieldSelector`, empty when not given.
    pub label: String,
    pub field: String,
}

/// The feeds of `config`'s role over `namespaces`, in the order they are first LISTed: the
/// nodes `attach_metadata.node` needs, then per namespace the role's objects and what they
/// are joined with (as Prometheus' informers for the role).
pub(super) fn feeds(config: &KubernetesSdConfig, namespaces: &[String]) -> Vec<Feed> {
    let feed = |kind: Kind, namespace: &str| {
        let (label, field) = config.selector(kind.selector_role());
        Feed {
            kind,
            namespace: namespace.to_owned(),
            label: label.to_owned(),
            field: field.to_owned(),
        }
    };
    let mut feeds = Vec::new();
    let (main, joined): (Kind, &[Kind]) = match config.role {
        KubernetesRole::Node => return vec![feed(Kind::Node, "")],
        KubernetesRole::Service => (Kind::Service, &[]),
        KubernetesRole::Pod => (Kind::Pod, &[]),
        KubernetesRole::Endpoints => (Kind::Endpoints, &[Kind::Service, Kind::Pod]),
        KubernetesRole::EndpointSlice => (Kind::EndpointSlice, &[Kind::Service, Kind::Pod]),
        KubernetesRole::Ingress => (Kind::Ingress, &[]),
    };
    if config.attach_node_metadata && main != Kind::Ingress && main != Kind::Service {
        feeds.push(feed(Kind::Node, ""));
    }
    for namespace in namespaces {
        feeds.push(feed(main, namespace));
        feeds.extend(joined.iter().map(|&kind| feed(kind, namespace)));
    }
    feeds
}

/// Objects by namespace and name.
type Store<T> = BTreeMap<(String, String), T>;

/// Every object the feeds of a role reported.
#[derive(Default)]
pub(super) struct Objects {
    nodes: Store<Node>,
    services: Store<Service>,
    pods: Store<Pod>,
    endpoints: Store<Endpoints>,
    slices: Store<EndpointSlice>,
    ingresses: Store<Ingress>,
}

/// Runs `$body` with `$store` bound to the store of `$kind`.
macro_rules! with_store {
    ($objects:expr, $kind:expr, |$store:ident| $body:expr) => {
        match $kind {
            Kind::Node => {
                let $store = &mut $objects.nodes;
                $body
            }
            Kind::Service => {
                let $store = &mut $objects.services;
                $body
            }
            Kind::Pod => {
                let $store = &mut $objects.pods;
                $body
            }
            Kind::Endpoints => {
                let $store = &mut $objects.endpoints;
                $body
            }
            Kind::EndpointSlice => {
                let $store = &mut $objects.slices;
                $body
            }
            Kind::Ingress => {
                let $store = &mut $objects.ingresses;
                $body
            }
        }
    };
}

impl Objects {
    /// Replaces what `feed` reported with a LIST's `items`; on an object that does not
    /// decode, keeps what it had.
    pub(super) fn replace(&mut self, feed: &Feed, items: Vec<Value>) -> Result<(), String> {
        with_store!(self, feed.kind, |store| replace(
            store,
            &feed.namespace,
            items
        ))
    }

    /// Adds or updates `object` (a WATCH's ADDED or MODIFIED).
    pub(super) fn put(&mut self, kind: Kind, object: Value) -> Result<(), String> {
        with_store!(self, kind, |store| put(store, object))
    }

    /// Removes `object` (a WATCH's DELETED).
    pub(super) fn delete(&mut self, kind: Kind, object: &Value) {
        with_store!(self, kind, |store| {
            store.remove(&key_of(object));
        })
    }
}

fn decode<T: DeserializeOwned>(object: Value) -> Result<((String, String), T), String> {
    let key = key_of(&object);
    let decoded =
        serde_json::from_value(object).map_err(|e| format!("decoding {}/{}: {e}", key.0, key.1))?;
    Ok((key, decoded))
}

fn replace<T: DeserializeOwned>(
    store: &mut Store<T>,
    namespace: &str,
    items: Vec<Value>,
) -> Result<(), String> {
    let decoded = items
        .into_iter()
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?;
    store.retain(|(ns, _), _| !namespace.is_empty() && ns != namespace);
    store.extend(decoded);
    Ok(())
}

fn put<T: DeserializeOwned>(store: &mut Store<T>, object: Value) -> Result<(), String> {
    let (key, decoded) = decode(object)?;
    store.insert(key, decoded);
    Ok(())
}

/// An object's namespace and name, read from its JSON.
fn key_of(object: &Value) -> (String, String) {
    let field = |name: &str| {
        object["metadata"][name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    (field("namespace"), field("name"))
}

/// The role's target groups from what its feeds hold.
pub(super) fn build(config: &KubernetesSdConfig, objects: &Objects) -> Vec<TargetGroup> {
    let nodes: Option<NodesByName<'_>> = config.attach_node_metadata.then(|| {
        objects
            .nodes
            .values()
            .map(|n| (n.metadata.name.as_str(), n))
            .collect()
    });
    match config.role {
        KubernetesRole::Node => objects
            .nodes
            .values()
            .filter_map(groups::node_group)
            .collect(),
        KubernetesRole::Service => objects
            .services
            .values()
            .map(groups::service_group)
            .collect(),
        KubernetesRole::Pod => objects
            .pods
            .values()
            .map(|p| groups::pod_group(p, nodes.as_ref()))
            .collect(),
        KubernetesRole::Endpoints | KubernetesRole::EndpointSlice => {
            let join = EndpointsJoin {
                services: by_key(&objects.services, |s| &s.metadata),
                pods: by_key(&objects.pods, |p| &p.metadata),
                nodes: nodes.as_ref(),
            };
            let endpoints = objects
                .endpoints
                .values()
                .map(|e| groups::endpoints_group(e, &join));
            let slices = objects
                .slices
                .values()
                .map(|s| endpointslice::endpointslice_group(s, &join));
            endpoints.chain(slices).collect()
        }
        KubernetesRole::Ingress => objects
            .ingresses
            .values()
            .map(ingress::ingress_group)
            .collect(),
    }
}

fn by_key<'a, T>(
    store: &'a Store<T>,
    meta: impl Fn(&'a T) -> &'a ObjectMeta,
) -> std::collections::HashMap<(&'a str, &'a str), &'a T> {
    store
        .values()
        .map(|item| {
            let m = meta(item);
            ((m.namespace.as_str(), m.name.as_str()), item)
        })
        .collect()
}
