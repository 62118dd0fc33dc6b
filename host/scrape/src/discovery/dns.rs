//! DNS discovery (`dns_sd_configs`): each name looked up at once and then every
//! `refresh_interval` ([`PolledSource`]) with hickory's resolver, servers and search path from
//! /etc/resolv.conf as Prometheus reads them, and turned into one group per name with
//! Prometheus' `__meta_dns_*` labels.
//!
//! A name that does not exist (NXDOMAIN) or has no records of the type is an empty group; a
//! name whose lookup failed keeps the targets it had, as Prometheus' discovery manager keeps a
//! group it did not hear about. No answer is cached between refreshes.
//!
//! `WASMFED_DNS_SERVER=host:port` replaces resolv.conf's name servers (resolv.conf cannot name
//! a port): for a resolver on a non-standard port, as the tests' dnsmasq is.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{ResolveError, TokioResolver};
use parking_lot::Mutex;
use wasmfed_config::{
    DnsRecordType, DnsSdConfig, TargetGroup, DNS_MX_TARGET_LABEL, DNS_NAME_LABEL,
    DNS_NS_TARGET_LABEL, DNS_SRV_PORT_LABEL, DNS_SRV_TARGET_LABEL,
};
use wasmfed_model::Labels;

use super::polled::{Counters, PolledSource};
use crate::fetch::join_host_port;

/// The environment variable naming a DNS server (`host:port`) to ask instead of resolv.conf's.
pub const DNS_SERVER_ENV: &str = "WASMFED_DNS_SERVER";

/// Starts the source's task: every name looked up at once, then every `refresh_interval`.
pub(super) fn start(config: DnsSdConfig, counters: Counters) -> PolledSource {
    let refresh: Duration = config.refresh_interval.into();
    let what = format!("dns_sd {}", config.names.join(","));
    let source = Arc::new(DnsSource {
        config,
        resolver: resolver(),
        last: Mutex::new(HashMap::new()),
    });
    PolledSource::start(what, refresh, counters, move || {
        let source = source.clone();
        async move { source.lookup_all().await }
    })
}

/// The source looked up once (for one-off tools).
pub(super) async fn once(config: &DnsSdConfig) -> Result<PolledSource, String> {
    let source = DnsSource {
        config: config.clone(),
        resolver: resolver(),
        last: Mutex::new(HashMap::new()),
    };
    Ok(PolledSource::fixed(source.lookup_all().await?))
}

struct DnsSource {
    config: DnsSdConfig,
    resolver: Result<TokioResolver, String>,
    /// Each name's last group, kept when its next lookup fails.
    last: Mutex<HashMap<String, TargetGroup>>,
}

/// A resolver as /etc/resolv.conf (or [`DNS_SERVER_ENV`]) says, without a cache.
fn resolver() -> Result<TokioResolver, String> {
    let (system, mut options) = hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| format!("could not load resolv.conf: {e}"))?;
    let config = match std::env::var(DNS_SERVER_ENV) {
        Ok(server) => {
            let addr: SocketAddr = server
                .parse()
                .map_err(|e| format!("{DNS_SERVER_ENV}={server:?}: {e}"))?;
            ResolverConfig::from_parts(
                system.domain().cloned(),
                system.search().to_vec(),
                NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true),
            )
        }
        Err(_) => system,
    };
    options.cache_size = 0;
    Ok(
        TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(options)
            .build(),
    )
}

impl DnsSource {
    async fn lookup_all(&self) -> Result<Vec<TargetGroup>, String> {
        let resolver = self.resolver.as_ref().map_err(Clone::clone)?;
        let mut groups = Vec::with_capacity(self.config.names.len());
        let mut failures = Vec::new();
        for name in &self.config.names {
            match self.lookup(resolver, name).await {
                Ok(group) => {
                    self.last.lock().insert(name.clone(), group.clone());
                    groups.push(group);
                }
                Err(e) => {
                    failures.push(format!("{name}: {e}"));
                    if let Some(previous) = self.last.lock().get(name) {
                        groups.push(previous.clone());
                    }
                }
            }
        }
        if !failures.is_empty() {
            tracing::error!(errors = %failures.join("; "), "Error refreshing DNS targets");
        }
        Ok(groups)
    }

    /// The group of one name; no such name, or no records of the type, is an empty group.
    async fn lookup(
        &self,
        resolver: &TokioResolver,
        name: &str,
    ) -> Result<TargetGroup, ResolveError> {
        let port = self.config.port;
        let targets = match self.lookup_records(resolver, name, port).await {
            Ok(targets) => targets,
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut group = TargetGroup {
            targets: Vec::with_capacity(targets.len()),
            target_labels: Vec::with_capacity(targets.len()),
            labels: Labels::default(),
            source: name.to_owned(),
        };
        for (address, extra) in targets {
            let mut labels = Labels::from_pairs([(DNS_NAME_LABEL, name)]);
            for (label, value) in extra {
                labels.set(label, &value);
            }
            group.targets.push(address);
            group.target_labels.push(labels);
        }
        Ok(group)
    }

    /// Each record as (address, labels besides the name).
    async fn lookup_records(
        &self,
        resolver: &TokioResolver,
        name: &str,
        port: u16,
    ) -> Result<Vec<(String, Vec<(&'static str, String)>)>, ResolveError> {
        // Rooted names lose their final dot in the address, as in Prometheus.
        let bare = |rooted: &str| rooted.trim_end_matches('.').to_owned();
        Ok(match self.config.record_type {
            DnsRecordType::Srv => resolver
                .srv_lookup(name)
                .await?
                .iter()
                .map(|srv| {
                    let target = srv.target().to_string();
                    let address = join_host_port(&bare(&target), srv.port());
                    let labels = vec![
                        (DNS_SRV_TARGET_LABEL, target),
                        (DNS_SRV_PORT_LABEL, srv.port().to_string()),
                    ];
                    (address, labels)
                })
                .collect(),
            DnsRecordType::A => resolver
                .ipv4_lookup(name)
                .await?
                .iter()
                .map(|a| (join_host_port(&a.0.to_string(), port), Vec::new()))
                .collect(),
            DnsRecordType::Aaaa => resolver
                .ipv6_lookup(name)
                .await?
                .iter()
                .map(|a| (join_host_port(&a.0.to_string(), port), Vec::new()))
                .collect(),
            DnsRecordType::Mx => resolver
                .mx_lookup(name)
                .await?
                .iter()
                .map(|mx| {
                    let target = mx.exchange().to_string();
                    (
                        join_host_port(&bare(&target), port),
                        vec![(DNS_MX_TARGET_LABEL, target)],
                    )
                })
                .collect(),
            DnsRecordType::Ns => resolver
                .ns_lookup(name)
                .await?
                .iter()
                .map(|ns| {
                    let target = ns.0.to_string();
                    (
                        join_host_port(&bare(&target), port),
                        vec![(DNS_NS_TARGET_LABEL, target)],
                    )
                })
                .collect(),
        })
    }
}
