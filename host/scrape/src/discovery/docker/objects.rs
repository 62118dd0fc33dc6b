//! The parts of the Docker Engine API's answers that discovery reads, in the API's JSON
//! shape (`GET /containers/json`: Go's `types.Container`; `GET /networks`:
//! `types.NetworkResource`).
//!
//! Only the fields Prometheus turns into labels are declared. Each defaults when absent or
//! null, as Go's decoder leaves a field at its zero value then; other fields are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// For `#[serde(deserialize_with)]`: null is the zero value, as Go decodes it.
fn null_as_zero<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One container of the list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Container {
    #[serde(rename = "Id", deserialize_with = "null_as_zero")]
    pub id: String,
    /// The first is the container's name (`/name`); a container without one is skipped.
    #[serde(rename = "Names", deserialize_with = "null_as_zero")]
    pub names: Vec<String>,
    #[serde(rename = "Ports", deserialize_with = "null_as_zero")]
    pub ports: Vec<Port>,
    #[serde(rename = "Labels", deserialize_with = "null_as_zero")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "HostConfig", deserialize_with = "null_as_zero")]
    pub host_config: HostConfig,
    #[serde(rename = "NetworkSettings", deserialize_with = "null_as_zero")]
    pub network_settings: NetworkSettings,
}

/// A port the container exposes, and where the host publishes it if it does.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Port {
    /// The host address a published port is bound to.
    #[serde(rename = "IP", deserialize_with = "null_as_zero")]
    pub ip: String,
    #[serde(rename = "PrivatePort", deserialize_with = "null_as_zero")]
    pub private_port: u16,
    /// 0 when the port is not published.
    #[serde(rename = "PublicPort", deserialize_with = "null_as_zero")]
    pub public_port: u16,
    /// `tcp`, `udp` or `sctp`; only TCP ports become targets.
    #[serde(rename = "Type", deserialize_with = "null_as_zero")]
    pub kind: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HostConfig {
    /// `host`, `bridge`, `none`, `container:<id>` or a network's name.
    #[serde(rename = "NetworkMode", deserialize_with = "null_as_zero")]
    pub network_mode: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NetworkSettings {
    /// The networks the container is attached to, by network name (ordered here; Go's map
    /// has no order).
    #[serde(rename = "Networks", deserialize_with = "null_as_zero")]
    pub networks: BTreeMap<String, Option<Endpoint>>,
}

/// The container's attachment to one network.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Endpoint {
    #[serde(rename = "NetworkID", deserialize_with = "null_as_zero")]
    pub network_id: String,
    #[serde(rename = "IPAddress", deserialize_with = "null_as_zero")]
    pub ip_address: String,
}

/// One network of the list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Network {
    #[serde(rename = "Id", deserialize_with = "null_as_zero")]
    pub id: String,
    #[serde(rename = "Name", deserialize_with = "null_as_zero")]
    pub name: String,
    /// `local`, `global` or `swarm`.
    #[serde(rename = "Scope", deserialize_with = "null_as_zero")]
    pub scope: String,
    #[serde(rename = "Internal", deserialize_with = "null_as_zero")]
    pub internal: bool,
    #[serde(rename = "Ingress", deserialize_with = "null_as_zero")]
    pub ingress: bool,
    #[serde(rename = "Labels", deserialize_with = "null_as_zero")]
    pub labels: BTreeMap<String, String>,
}
