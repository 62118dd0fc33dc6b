//! The `endpointslice` role: `discovery.k8s.io/v1` endpoint slices turned into target groups
//! with exactly Prometheus 2.42's labels (`discovery/kubernetes/endpointslice.go`
//! `buildEndpointSlice`), one group per slice, its source `endpointslice/<ns>/<name>`.
//!
//! Like the endpoints role, a slice is joined with its service (named by the slice's
//! `kubernetes.io/service-name` label rather than by its own name), the pods its endpoints
//! point at, and with `attach_metadata.node` their nodes; unlike it, a slice's ports and
//! conditions are optional, and a label is written only for what the slice holds.

use wasmfed_config::TargetGroup;
use wasmfed_model::Labels;

use super::groups::{
    add_node_labels, container_labels, container_port, group, merge, pod_labels,
    sanitize_label_name, EndpointsJoin, SeenPods, ADDRESS, NAMESPACE, PREFIX, PRESENT,
};
use super::objects::{EndpointSlice, SliceEndpoint, SlicePort};
use crate::fetch::join_host_port;

/// The label naming a slice's service (`discovery/v1.LabelServiceName`).
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// `buildEndpointSlice`: a target per endpoint, port and address (in that nesting); a
/// target whose endpoint points at a known pod gets the pod's labels and, when a container
/// port matches, the container's; then each such pod's container ports no slice port
/// covered, as targets of their own.
pub(super) fn endpointslice_group(slice: &EndpointSlice, join: &EndpointsJoin<'_>) -> TargetGroup {
    let meta = &slice.metadata;
    let mut labels = Labels::new();
    labels.set(NAMESPACE, meta.namespace.as_str());
    labels.set(format!("{PREFIX}endpointslice_name"), meta.name.as_str());
    labels.set(
        format!("{PREFIX}endpointslice_address_type"),
        slice.address_type.as_str(),
    );
    let service = meta.labels.get(SERVICE_NAME_LABEL);
    if let Some(service) = service.and_then(|name| join.service_labels(&meta.namespace, name)) {
        merge(&mut labels, &service);
    }

    let mut seen = SeenPods::default();
    let mut targets = Vec::new();
    for endpoint in &slice.endpoints {
        for port in &slice.ports {
            for address in &endpoint.addresses {
                let mut t = endpoint_labels(address, endpoint, port);
                add_node_labels(&mut t, join.nodes, endpoint.node_name.as_deref());
                let Some(pod) = join.pod(endpoint.target_ref.as_ref()) else {
                    targets.push(t);
                    continue;
                };
                merge(&mut t, &pod_labels(pod));
                if let Some((c, cport)) = port.port.and_then(|n| container_port(pod, n)) {
                    // The container port's own protocol, unlike the endpoints role.
                    container_labels(&mut t, c, cport, &cport.protocol);
                }
                seen.cover(pod, port.port);
                targets.push(t);
            }
        }
    }
    seen.uncovered_targets(&mut targets);
    group(
        format!("endpointslice/{}/{}", meta.namespace, meta.name),
        labels,
        targets,
    )
}

/// The labels of one address of `endpoint` at `port`.
fn endpoint_labels(address: &str, endpoint: &SliceEndpoint, port: &SlicePort) -> Labels {
    let label = |name: &str| format!("{PREFIX}endpointslice_{name}");
    let mut t = Labels::new();
    t.set(
        ADDRESS,
        match port.port {
            Some(number) => join_host_port(address, number as u16),
            None => address.to_owned(),
        },
    );
    let optional = [
        ("port_name", port.name.clone()),
        ("port_protocol", port.protocol.clone()),
        ("port", port.port.map(|p| p.to_string())),
        ("port_app_protocol", port.app_protocol.clone()),
        (
            "endpoint_conditions_ready",
            endpoint.conditions.ready.map(|b| b.to_string()),
        ),
        (
            "endpoint_conditions_serving",
            endpoint.conditions.serving.map(|b| b.to_string()),
        ),
        (
            "endpoint_conditions_terminating",
            endpoint.conditions.terminating.map(|b| b.to_string()),
        ),
        ("endpoint_hostname", endpoint.hostname.clone()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            t.set(label(name), value);
        }
    }
    if let Some(target) = &endpoint.target_ref {
        t.set(label("address_target_kind"), target.kind.as_str());
        t.set(label("address_target_name"), target.name.as_str());
    }
    for (name, value) in &endpoint.deprecated_topology {
        let name = sanitize_label_name(name);
        t.set(label(&format!("endpoint_topology_{name}")), value.as_str());
        t.set(label(&format!("endpoint_topology_present_{name}")), PRESENT);
    }
    t
}
