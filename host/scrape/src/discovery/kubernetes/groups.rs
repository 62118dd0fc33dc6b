//! Kubernetes objects turned into target groups with exactly Prometheus 2.42's labels
//! (`discovery/kubernetes/{node,service,pod,endpoints}.go`): one group per object, its source
//! `node/<name>`, `svc/<ns>/<name>`, `pod/<ns>/<name>` or `endpoints/<ns>/<name>`.
//!
//! Pure functions of the objects: the LISTs they come from, and the joins the endpoints role
//! needs (its service, its pods, their nodes), are handed in by the caller.

use std::collections::{BTreeMap, HashMap};

use wasmfed_config::TargetGroup;
use wasmfed_model::Labels;

pub(super) use super::super::labels::{group, sanitize_label_name, ADDRESS};
use super::objects::{
    Container, ContainerPort, Endpoints, Node, ObjectMeta, ObjectReference, Pod, Service,
};
use crate::fetch::join_host_port;

pub(super) const PREFIX: &str = "__meta_kubernetes_";
pub(super) const NAMESPACE: &str = "__meta_kubernetes_namespace";
pub(super) const PRESENT: &str = "true";

/// `<kind>_label_<name>` and `<kind>_labelpresent_<name>` for each of `map` (or
/// `annotation`/`annotationpresent` for annotations: `what`).
fn add_map(labels: &mut Labels, kind: &str, what: &str, map: &BTreeMap<String, String>) {
    for (name, value) in map {
        let name = sanitize_label_name(name);
        labels.set(format!("{PREFIX}{kind}_{what}_{name}"), value.as_str());
        labels.set(format!("{PREFIX}{kind}_{what}present_{name}"), PRESENT);
    }
}

pub(super) fn add_meta(labels: &mut Labels, kind: &str, meta: &ObjectMeta) {
    add_map(labels, kind, "label", &meta.labels);
    add_map(labels, kind, "annotation", &meta.annotations);
}

/// Nodes by name, for `attach_metadata.node`.
pub(super) type NodesByName<'a> = HashMap<&'a str, &'a Node>;

/// Prometheus' `addNodeLabels`: the node's name and labels (not its annotations), when the
/// node is known.
pub(super) fn add_node_labels(
    labels: &mut Labels,
    nodes: Option<&NodesByName<'_>>,
    name: Option<&str>,
) {
    let (Some(nodes), Some(name)) = (nodes, name) else {
        return;
    };
    let Some(node) = nodes.get(name) else {
        return;
    };
    labels.set(format!("{PREFIX}node_name"), name);
    add_map(labels, "node", "label", &node.metadata.labels);
}

/// Prometheus' `nodeAddress`: the first address of the first type present in this order.
fn node_address(node: &Node) -> Option<&str> {
    const PRIORITY: [&str; 6] = [
        "InternalIP",
        "InternalDNS",
        "ExternalIP",
        "ExternalDNS",
        "LegacyHostIP",
        "Hostname",
    ];
    PRIORITY.iter().find_map(|kind| {
        node.status
            .addresses
            .iter()
            .find(|a| a.kind == *kind)
            .map(|a| a.address.as_str())
    })
}

/// `node.go` `buildNode`; `None` for a node without an address (Prometheus logs and skips it).
pub(super) fn node_group(node: &Node) -> Option<TargetGroup> {
    let meta = &node.metadata;
    let mut labels = Labels::new();
    labels.set(format!("{PREFIX}node_name"), meta.name.as_str());
    labels.set(
        format!("{PREFIX}node_provider_id"),
        node.spec.provider_id.as_str(),
    );
    add_meta(&mut labels, "node", meta);

    let address = node_address(node)?;
    let port = node.status.daemon_endpoints.kubelet_endpoint.port;
    let mut target = Labels::new();
    target.set(ADDRESS, join_host_port(address, port as u16));
    target.set("instance", meta.name.as_str());
    // The first address of each type.
    for a in node.status.addresses.iter().rev() {
        let name = sanitize_label_name(&format!("{PREFIX}node_address_{}", a.kind));
        target.set(name, a.address.as_str());
    }
    Some(group(format!("node/{}", meta.name), labels, vec![target]))
}

pub(super) fn service_labels(service: &Service) -> Labels {
    let meta = &service.metadata;
    let mut labels = Labels::new();
    labels.set(format!("{PREFIX}service_name"), meta.name.as_str());
    labels.set(NAMESPACE, meta.namespace.as_str());
    add_meta(&mut labels, "service", meta);
    labels
}

/// `service.go` `buildService`: one target per port, at `<name>.<namespace>.svc:<port>`.
pub(super) fn service_group(service: &Service) -> TargetGroup {
    let (meta, spec) = (&service.metadata, &service.spec);
    let targets = spec
        .ports
        .iter()
        .map(|port| {
            let mut t = Labels::new();
            let host = format!("{}.{}.svc", meta.name, meta.namespace);
            t.set(ADDRESS, join_host_port(&host, port.port as u16));
            t.set(format!("{PREFIX}service_port_name"), port.name.as_str());
            t.set(
                format!("{PREFIX}service_port_number"),
                port.port.to_string(),
            );
            t.set(
                format!("{PREFIX}service_port_protocol"),
                port.protocol.as_str(),
            );
            t.set(format!("{PREFIX}service_type"), spec.kind.as_str());
            if spec.kind == "ExternalName" {
                t.set(
                    format!("{PREFIX}service_external_name"),
                    spec.external_name.as_str(),
                );
            } else {
                t.set(
                    format!("{PREFIX}service_cluster_ip"),
                    spec.cluster_ip.as_str(),
                );
            }
            if spec.kind == "LoadBalancer" {
                t.set(
                    format!("{PREFIX}service_loadbalancer_ip"),
                    spec.load_balancer_ip.as_str(),
                );
            }
            t
        })
        .collect();
    group(
        format!("svc/{}/{}", meta.namespace, meta.name),
        service_labels(service),
        targets,
    )
}

/// `pod.go` `podLabels` (without the namespace, which the pod role adds to its group and
/// the endpoints role has on its own).
pub(super) fn pod_labels(pod: &Pod) -> Labels {
    let (meta, status) = (&pod.metadata, &pod.status);
    let ready = status
        .conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .map_or("unknown".to_owned(), |c| c.status.to_lowercase());
    let mut labels = Labels::new();
    labels.set(format!("{PREFIX}pod_name"), meta.name.as_str());
    labels.set(format!("{PREFIX}pod_ip"), status.pod_ip.as_str());
    labels.set(format!("{PREFIX}pod_ready"), ready);
    labels.set(format!("{PREFIX}pod_phase"), status.phase.as_str());
    labels.set(
        format!("{PREFIX}pod_node_name"),
        pod.spec.node_name.as_str(),
    );
    labels.set(format!("{PREFIX}pod_host_ip"), status.host_ip.as_str());
    labels.set(format!("{PREFIX}pod_uid"), meta.uid.as_str());
    if let Some(owner) = meta
        .owner_references
        .iter()
        .find(|o| o.controller == Some(true))
    {
        if !owner.kind.is_empty() {
            labels.set(format!("{PREFIX}pod_controller_kind"), owner.kind.as_str());
        }
        if !owner.name.is_empty() {
            labels.set(format!("{PREFIX}pod_controller_name"), owner.name.as_str());
        }
    }
    add_meta(&mut labels, "pod", meta);
    labels
}

pub(super) fn merge(target: &mut Labels, other: &Labels) {
    for label in other.iter() {
        target.set(label.name.as_str(), label.value.as_str());
    }
}

/// `pod.go` `buildPod`: one target per container port, or one per container without ports
/// (at the pod's IP alone); init containers too. A pod without an IP yet is an empty group.
pub(super) fn pod_group(pod: &Pod, nodes: Option<&NodesByName<'_>>) -> TargetGroup {
    let (meta, status) = (&pod.metadata, &pod.status);
    let source = format!("pod/{}/{}", meta.namespace, meta.name);
    if status.pod_ip.is_empty() {
        return group(source, Labels::new(), Vec::new());
    }
    let mut labels = pod_labels(pod);
    labels.set(NAMESPACE, meta.namespace.as_str());
    add_node_labels(&mut labels, nodes, Some(&pod.spec.node_name));

    let containers = pod.spec.containers.iter().map(|c| (c, false));
    let inits = pod.spec.init_containers.iter().map(|c| (c, true));
    let mut targets = Vec::new();
    for (c, init) in containers.chain(inits) {
        let statuses = if init {
            &status.init_container_statuses
        } else {
            &status.container_statuses
        };
        let id = statuses
            .iter()
            .find(|s| s.name == c.name)
            .map_or("", |s| s.container_id.as_str());
        let mut base = Labels::new();
        base.set(format!("{PREFIX}pod_container_name"), c.name.as_str());
        base.set(format!("{PREFIX}pod_container_id"), id);
        base.set(format!("{PREFIX}pod_container_image"), c.image.as_str());
        base.set(format!("{PREFIX}pod_container_init"), init.to_string());
        if c.ports.is_empty() {
            base.set(ADDRESS, status.pod_ip.as_str());
            targets.push(base);
            continue;
        }
        for port in &c.ports {
            let mut t = base.clone();
            let number = port.container_port.to_string();
            t.set(
                ADDRESS,
                join_host_port(&status.pod_ip, port.container_port as u16),
            );
            t.set(format!("{PREFIX}pod_container_port_number"), number);
            t.set(
                format!("{PREFIX}pod_container_port_name"),
                port.name.as_str(),
            );
            t.set(
                format!("{PREFIX}pod_container_port_protocol"),
                port.protocol.as_str(),
            );
            targets.push(t);
        }
    }
    group(source, labels, targets)
}

/// The first container port of `pod` numbered `number`, with its container.
pub(super) fn container_port(pod: &Pod, number: i32) -> Option<(&Container, &ContainerPort)> {
    pod.spec.containers.iter().find_map(|c| {
        (c.ports.iter())
            .find(|p| p.container_port == number)
            .map(|p| (c, p))
    })
}

/// A container port's labels on an endpoints target.
pub(super) fn container_labels(
    t: &mut Labels,
    c: &Container,
    port: &ContainerPort,
    protocol: &str,
) {
    t.set(format!("{PREFIX}pod_container_name"), c.name.as_str());
    t.set(format!("{PREFIX}pod_container_image"), c.image.as_str());
    t.set(
        format!("{PREFIX}pod_container_port_name"),
        port.name.as_str(),
    );
    let number = port.container_port.to_string();
    t.set(format!("{PREFIX}pod_container_port_number"), number);
    t.set(format!("{PREFIX}pod_container_port_protocol"), protocol);
}

/// The pods endpoints pointed at, in the order first seen, each with the endpoint ports that
/// made targets of it (`seenPods` of `endpoints.go` and `endpointslice.go`).
#[derive(Default)]
pub(super) struct SeenPods<'a>(Vec<(&'a Pod, Vec<i32>)>);

impl<'a> SeenPods<'a> {
    /// Records that `port` (None: a slice port without a number) made a target of `pod`.
    pub(super) fn cover(&mut self, pod: &'a Pod, port: Option<i32>) {
        let at = match self.0.iter().position(|(p, _)| std::ptr::eq(*p, pod)) {
            Some(at) => at,
            None => {
                self.0.push((pod, Vec::new()));
                self.0.len() - 1
            }
        };
        self.0[at].1.extend(port);
    }

    /// A target for each container port of a seen pod that no endpoint port covered.
    pub(super) fn uncovered_targets(self, targets: &mut Vec<Labels>) {
        for (pod, ports) in self.0 {
            for c in &pod.spec.containers {
                for cport in c
                    .ports
                    .iter()
                    .filter(|p| !ports.contains(&p.container_port))
                {
                    let mut t = Labels::new();
                    let address = join_host_port(&pod.status.pod_ip, cport.container_port as u16);
                    t.set(ADDRESS, address);
                    container_labels(&mut t, c, cport, &cport.protocol);
                    merge(&mut t, &pod_labels(pod));
                    targets.push(t);
                }
            }
        }
    }
}

/// What endpoints (and endpoint slice) objects are joined with: the services and pods LISTed
/// with them, by namespace and name, and the nodes when `attach_metadata.node` is set.
pub(super) struct EndpointsJoin<'a> {
    pub services: HashMap<(&'a str, &'a str), &'a Service>,
    pub pods: HashMap<(&'a str, &'a str), &'a Pod>,
    pub nodes: Option<&'a NodesByName<'a>>,
}

impl<'a> EndpointsJoin<'a> {
    /// The pod a target reference names, if it names a known pod (`resolvePodRef`).
    pub(super) fn pod(&self, target: Option<&ObjectReference>) -> Option<&'a Pod> {
        let target = target.filter(|r| r.kind == "Pod")?;
        self.pods
            .get(&(target.namespace.as_str(), target.name.as_str()))
            .copied()
    }

    /// The group labels of the service named `name` in `namespace`, if it is known.
    pub(super) fn service_labels(&self, namespace: &str, name: &str) -> Option<Labels> {
        self.services
            .get(&(namespace, name))
            .map(|s| service_labels(s))
    }
}

/// `endpoints.go` `buildEndpoints`: a target per address and port, ready addresses then
/// not-ready ones; a target whose address is a known pod gets the pod's labels and, when a
/// container port matches, the container's; then each such pod's container ports no
/// endpoint port covered, as targets of their own.
pub(super) fn endpoints_group(eps: &Endpoints, join: &EndpointsJoin<'_>) -> TargetGroup {
    let meta = &eps.metadata;
    let mut labels = Labels::new();
    labels.set(NAMESPACE, meta.namespace.as_str());
    labels.set(format!("{PREFIX}endpoints_name"), meta.name.as_str());
    if let Some(service) = join.service_labels(&meta.namespace, &meta.name) {
        merge(&mut labels, &service);
    }
    add_map(&mut labels, "endpoints", "label", &meta.labels);

    let mut seen = SeenPods::default();
    let mut targets = Vec::new();
    for subset in &eps.subsets {
        for port in &subset.ports {
            let ready = subset.addresses.iter().map(|a| (a, "true"));
            let not_ready = subset.not_ready_addresses.iter().map(|a| (a, "false"));
            for (addr, ready) in ready.chain(not_ready) {
                let mut t = Labels::new();
                t.set(ADDRESS, join_host_port(&addr.ip, port.port as u16));
                t.set(format!("{PREFIX}endpoint_port_name"), port.name.as_str());
                t.set(
                    format!("{PREFIX}endpoint_port_protocol"),
                    port.protocol.as_str(),
                );
                t.set(format!("{PREFIX}endpoint_ready"), ready);
                if let Some(target) = &addr.target_ref {
                    t.set(
                        format!("{PREFIX}endpoint_address_target_kind"),
                        target.kind.as_str(),
                    );
                    t.set(
                        format!("{PREFIX}endpoint_address_target_name"),
                        target.name.as_str(),
                    );
                }
                if let Some(node) = &addr.node_name {
                    t.set(format!("{PREFIX}endpoint_node_name"), node.as_str());
                }
                if !addr.hostname.is_empty() {
                    t.set(format!("{PREFIX}endpoint_hostname"), addr.hostname.as_str());
                }
                add_node_labels(&mut t, join.nodes, addr.node_name.as_deref());

                let Some(pod) = join.pod(addr.target_ref.as_ref()) else {
                    targets.push(t);
                    continue;
                };
                merge(&mut t, &pod_labels(pod));
                if let Some((c, cport)) = container_port(pod, port.port) {
                    // The protocol is the endpoint port's, as in Prometheus.
                    container_labels(&mut t, c, cport, &port.protocol);
                }
                seen.cover(pod, Some(port.port));
                targets.push(t);
            }
        }
    }
    seen.uncovered_targets(&mut targets);
    group(
        format!("endpoints/{}/{}", meta.namespace, meta.name),
        labels,
        targets,
    )
}
