//! The `ingress` role: `networking.k8s.io/v1` ingresses turned into target groups with
//! exactly Prometheus 2.42's labels (`discovery/kubernetes/ingress.go` `buildIngress`), one
//! group per ingress, its source `ingress/<ns>/<name>`.
//!
//! A target per rule and path, addressed by the rule's host alone: the ingress says which
//! host serves a path, not on which port, so the scheme label (https when a TLS entry's host
//! or wildcard covers the rule's host) is what relabeling turns into `__scheme__`.
//! Prometheus 2.42 falls back to `networking.k8s.io/v1beta1` on API servers older than
//! Kubernetes 1.19; wasmfed reads `v1` only.

use wasmfed_config::TargetGroup;
use wasmfed_model::Labels;

use super::groups::{add_meta, group, ADDRESS, NAMESPACE, PREFIX};
use super::objects::{Ingress, IngressRule};

/// `buildIngress`.
pub(super) fn ingress_group(ingress: &Ingress) -> TargetGroup {
    let meta = &ingress.metadata;
    let mut labels = Labels::new();
    labels.set(format!("{PREFIX}ingress_name"), meta.name.as_str());
    labels.set(NAMESPACE, meta.namespace.as_str());
    if let Some(class) = &ingress.spec.ingress_class_name {
        labels.set(format!("{PREFIX}ingress_class_name"), class.as_str());
    }
    add_meta(&mut labels, "ingress", meta);

    let tls_hosts: Vec<&str> = ingress
        .spec
        .tls
        .iter()
        .flat_map(|tls| tls.hosts.iter().map(String::as_str))
        .collect();
    let mut targets = Vec::new();
    for rule in &ingress.spec.rules {
        let scheme = if tls_hosts
            .iter()
            .any(|pattern| matches_hostname_pattern(pattern, &rule.host))
        {
            "https"
        } else {
            "http"
        };
        for path in paths(rule) {
            let mut target = Labels::new();
            target.set(ADDRESS, rule.host.as_str());
            target.set(format!("{PREFIX}ingress_scheme"), scheme);
            target.set(format!("{PREFIX}ingress_host"), rule.host.as_str());
            target.set(format!("{PREFIX}ingress_path"), path);
            targets.push(target);
        }
    }
    group(
        format!("ingress/{}/{}", meta.namespace, meta.name),
        labels,
        targets,
    )
}

/// `pathsFromIngressPaths`: a rule without `http` is served at `/`, an empty path is `/`, and
/// a rule whose `http` lists no paths has no targets.
fn paths(rule: &IngressRule) -> Vec<&str> {
    match &rule.http {
        None => vec!["/"],
        Some(http) => http
            .paths
            .iter()
            .map(|p| {
                if p.path.is_empty() {
                    "/"
                } else {
                    p.path.as_str()
                }
            })
            .collect(),
    }
}

/// `matchesHostnamePattern`: equal, or a `*.` pattern with as many dot-separated parts whose
/// parts after the first are equal.
fn matches_hostname_pattern(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let mut pattern_parts = pattern.split('.');
    if pattern_parts.next() != Some("*") {
        return false;
    }
    let mut host_parts = host.split('.');
    host_parts.next();
    pattern_parts.eq(host_parts)
}

#[cfg(test)]
mod tests {
    use super::matches_hostname_pattern;

    #[test]
    fn hostname_patterns_match_as_prometheus_does() {
        for (pattern, host, want) in [
            ("example.com", "example.com", true),
            ("*.example.com", "test.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "a.test.example.com", false),
            ("*.example.com", "test.example.org", false),
            ("test.*.com", "test.example.com", false),
            ("*", "localhost", true),
            ("*", "", true),
            ("", "", true),
            ("example.com", "test.example.com", false),
        ] {
            assert_eq!(
                matches_hostname_pattern(pattern, host),
                want,
                "{pattern} {host}"
            );
        }
    }
}
