//! DNS service discovery (`dns_sd_configs`), as Prometheus' `discovery/dns` reads it: names
//! looked up every `refresh_interval` as SRV records (the default), or as A, AAAA, MX or NS
//! records with a fixed `port`.
//!
//! The checks and messages are Prometheus'. MX and NS came after 2.42, which refuses them; so
//! does `--query.compat=2`. The lookups and the `__meta_dns_*` labels are the scrape side's.

use serde::Deserialize;

use super::duration::Duration;
use super::yaml::{checked_map, null_as_zero};
use wasmfed_model::compat::Compat;

/// The label names DNS SD gives each target.
pub const DNS_NAME_LABEL: &str = "__meta_dns_name";
pub const DNS_SRV_TARGET_LABEL: &str = "__meta_dns_srv_record_target";
pub const DNS_SRV_PORT_LABEL: &str = "__meta_dns_srv_record_port";
pub const DNS_MX_TARGET_LABEL: &str = "__meta_dns_mx_record_target";
pub const DNS_NS_TARGET_LABEL: &str = "__meta_dns_ns_record_target";

/// The record type a name is looked up as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsRecordType {
    Srv,
    A,
    Aaaa,
    Mx,
    Ns,
}

/// One `dns_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSdConfig {
    pub names: Vec<String>,
    pub refresh_interval: Duration,
    pub record_type: DnsRecordType,
    /// The targets' port for every type but SRV (whose records carry theirs).
    pub port: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDnsSdConfig {
    #[serde(default, deserialize_with = "null_as_zero")]
    names: Vec<String>,
    #[serde(
        default = "default_refresh_interval",
        deserialize_with = "null_as_zero"
    )]
    refresh_interval: Duration,
    #[serde(
        default = "default_type",
        rename = "type",
        deserialize_with = "null_as_zero"
    )]
    record_type: String,
    #[serde(default, deserialize_with = "null_as_zero")]
    port: u16,
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(30)
}

fn default_type() -> String {
    "SRV".into()
}

impl RawDnsSdConfig {
    fn validate(self) -> Result<DnsSdConfig, String> {
        if self.names.is_empty() {
            return Err("DNS-SD config must contain at least one SRV record name".into());
        }
        let record_type = match self.record_type.to_ascii_uppercase().as_str() {
            "SRV" => DnsRecordType::Srv,
            "A" => DnsRecordType::A,
            "AAAA" => DnsRecordType::Aaaa,
            "MX" => DnsRecordType::Mx,
            "NS" => DnsRecordType::Ns,
            _ => return Err(format!("invalid DNS-SD records type {}", self.record_type)),
        };
        if record_type != DnsRecordType::Srv && self.port == 0 {
            return Err(
                "a port is required in DNS-SD configs for all record types except SRV".into(),
            );
        }
        if self.refresh_interval.is_zero() {
            return Err("DNS-SD refresh_interval must be greater than 0s".into());
        }
        Ok(DnsSdConfig {
            names: self.names,
            refresh_interval: self.refresh_interval,
            record_type,
            port: self.port,
        })
    }
}

impl<'de> Deserialize<'de> for DnsSdConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_map(d, "a dns_sd config", RawDnsSdConfig::validate)
    }
}

impl DnsSdConfig {
    /// Prometheus 2.42 knows SRV, A and AAAA only.
    pub(super) fn check_generation(&self, compat: Compat) -> Result<(), String> {
        match (compat, self.record_type) {
            (Compat::V2, DnsRecordType::Mx) => Err("invalid DNS-SD records type MX".into()),
            (Compat::V2, DnsRecordType::Ns) => Err("invalid DNS-SD records type NS".into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> Result<DnsSdConfig, String> {
        serde_yaml::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_types() {
        let c = read("names: [_prometheus._tcp.example.org]").unwrap();
        assert_eq!(c.record_type, DnsRecordType::Srv);
        assert_eq!(c.refresh_interval, Duration::from_secs(30));
        let c =
            read("names: [node.example.org]\ntype: a\nport: 9100\nrefresh_interval: 5s").unwrap();
        assert_eq!((c.record_type, c.port), (DnsRecordType::A, 9100));
        assert!(c.check_generation(Compat::V2).is_ok());
        let mx = read("names: [example.org]\ntype: MX\nport: 25").unwrap();
        assert!(mx.check_generation(Compat::V3).is_ok());
        assert_eq!(
            mx.check_generation(Compat::V2).unwrap_err(),
            "invalid DNS-SD records type MX"
        );
    }

    #[test]
    fn refuses_as_prometheus_refuses() {
        for (yaml, want) in [
            (
                "type: SRV",
                "DNS-SD config must contain at least one SRV record name",
            ),
            ("names: [a]\ntype: TXT", "invalid DNS-SD records type TXT"),
            (
                "names: [a]\ntype: AAAA",
                "a port is required in DNS-SD configs for all record types except SRV",
            ),
            ("names: [a]\nrefresh: 1s", "unknown field `refresh`"),
        ] {
            let err = read(yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}: {err}");
        }
    }
}
