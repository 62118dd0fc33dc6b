//! Containers and networks turned into the one target group Prometheus 2.42's Docker
//! discovery builds (`discovery/moby/docker.go`, `network.go`): for each named container,
//! on each network it is attached to, a target per exposed TCP port (`<ip>:<private port>`),
//! or, when it exposes none, one target on the configured `port`, or on
//! `host_networking_host` alone for a container in `host` network mode.
//!
//! 2.42 does nothing more for a container in `container:<id>` network mode: the Docker
//! Engine lists such a container with no networks of its own, so it has no targets (the
//! join to the other container's networks came with later Prometheus releases).
//!
//! A pure function of the two lists; where labels collide (two container labels that
//! sanitize to the same name), the later in name order wins, where Go's map order decides.

use std::collections::HashMap;

use wasmfed_config::TargetGroup;
use wasmfed_model::Labels;

use super::super::labels::{group, sanitize_label_name, ADDRESS};
use super::objects::{Container, Endpoint, Network};
use crate::fetch::join_host_port;

/// The group's source, as Prometheus names it.
pub(super) const SOURCE: &str = "Docker";

const CONTAINER_ID: &str = "__meta_docker_container_id";
const CONTAINER_NAME: &str = "__meta_docker_container_name";
const CONTAINER_NETWORK_MODE: &str = "__meta_docker_container_network_mode";
const CONTAINER_LABEL: &str = "__meta_docker_container_label_";
const NETWORK: &str = "__meta_docker_network_";
const NETWORK_IP: &str = "__meta_docker_network_ip";
const PORT_PRIVATE: &str = "__meta_docker_port_private";
const PORT_PUBLIC: &str = "__meta_docker_port_public";
const PORT_PUBLIC_IP: &str = "__meta_docker_port_public_ip";

/// What turns the lists into targets besides the lists themselves.
pub(super) struct TargetRules<'a> {
    /// The port of a container's targets on a network where it exposes no TCP port; Go's
    /// `int`, formatted as Prometheus formats it (`uint64(port)`).
    pub port: i64,
    /// The `__address__` of a container in `host` network mode.
    pub host_networking_host: &'a str,
}

/// Prometheus' `getNetworksLabels`: each network's labels, by network ID.
fn network_labels(networks: &[Network]) -> HashMap<&str, Vec<(String, String)>> {
    networks
        .iter()
        .map(|n| {
            let mut labels = vec![
                (format!("{NETWORK}id"), n.id.clone()),
                (format!("{NETWORK}name"), n.name.clone()),
                (format!("{NETWORK}scope"), n.scope.clone()),
                (format!("{NETWORK}internal"), n.internal.to_string()),
                (format!("{NETWORK}ingress"), n.ingress.to_string()),
            ];
            labels.extend(n.labels.iter().map(|(name, value)| {
                let name = sanitize_label_name(name);
                (format!("{NETWORK}label_{name}"), value.clone())
            }));
            (n.id.as_str(), labels)
        })
        .collect()
}

/// The container's own labels, shared by all its targets.
fn container_labels(c: &Container, name: &str) -> Labels {
    let mut labels = Labels::new();
    labels.set(CONTAINER_ID, c.id.as_str());
    labels.set(CONTAINER_NAME, name);
    labels.set(CONTAINER_NETWORK_MODE, c.host_config.network_mode.as_str());
    for (name, value) in &c.labels {
        let name = sanitize_label_name(name);
        labels.set(format!("{CONTAINER_LABEL}{name}"), value.as_str());
    }
    labels
}

/// The target group of `containers` on `networks`, as Prometheus 2.42 builds it.
pub(super) fn docker_group(
    containers: &[Container],
    networks: &[Network],
    rules: &TargetRules<'_>,
) -> TargetGroup {
    let by_id = network_labels(networks);
    let (no_labels, unattached) = (Vec::new(), Endpoint::default());
    let mut targets = Vec::new();
    for c in containers {
        let Some(name) = c.names.first() else {
            continue;
        };
        let common = container_labels(c, name);
        for endpoint in c.network_settings.networks.values() {
            let endpoint = endpoint.as_ref().unwrap_or(&unattached);
            let network = by_id
                .get(endpoint.network_id.as_str())
                .unwrap_or(&no_labels);
            // Prometheus' order: the target's own labels, then the container's, then the
            // network's, each overriding the one before, and the address last.
            let target = |own: Vec<(&str, String)>, address: String| {
                let mut labels = Labels::new();
                labels.set(NETWORK_IP, endpoint.ip_address.as_str());
                for (name, value) in own {
                    labels.set(name, value);
                }
                for label in common.iter() {
                    labels.set(label.name.as_str(), label.value.as_str());
                }
                for (name, value) in network {
                    labels.set(name.as_str(), value.as_str());
                }
                labels.set(ADDRESS, address);
                labels
            };
            let before = targets.len();
            for p in c.ports.iter().filter(|p| p.kind == "tcp") {
                let mut own = vec![(PORT_PRIVATE, p.private_port.to_string())];
                if p.public_port > 0 {
                    own.push((PORT_PUBLIC, p.public_port.to_string()));
                    own.push((PORT_PUBLIC_IP, p.ip.clone()));
                }
                let address = join_host_port(&endpoint.ip_address, p.private_port);
                targets.push(target(own, address));
            }
            if targets.len() == before {
                // Containers in host networking mode have no ports: they only end up here.
                let address = if c.host_config.network_mode != "host" {
                    join_host_port(&endpoint.ip_address, rules.port as u64)
                } else {
                    rules.host_networking_host.to_owned()
                };
                targets.push(target(Vec::new(), address));
            }
        }
    }
    group(SOURCE.to_owned(), Labels::new(), targets)
}
