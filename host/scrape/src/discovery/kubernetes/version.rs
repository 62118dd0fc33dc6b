//! Which API version the `endpointslice` and `ingress` roles read, as Prometheus 2.42 decides
//! it (`checkDiscoveryV1Supported`, `checkNetworkingV1Supported`): the API server's `/version`
//! is asked once when discovery starts, and a server older than Kubernetes 1.21 (endpoint
//! slices) or 1.19 (ingresses) is read through the `v1beta1` group, whose objects carry the
//! same fields Prometheus labels (`topology` is v1's `deprecatedTopology`).
//!
//! The version is read as apimachinery's `ParseSemantic` reads `gitVersion` (an optional `v`,
//! exactly three numbers, then `-pre-release` or `+build`), and compared as Prometheus
//! compares it: major at least 1 *and* minor at least the threshold.

use serde::Deserialize;
use wasmfed_config::KubernetesRole;

/// The part of `/version`'s answer that decides.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServerVersion {
    pub git_version: String,
}

/// The minor version from which the role's `v1` group is served, for the roles that check.
fn v1_since(role: KubernetesRole) -> Option<u64> {
    match role {
        KubernetesRole::EndpointSlice => Some(21),
        KubernetesRole::Ingress => Some(19),
        _ => None,
    }
}

/// Whether discovery asks the server's version before reading the role's objects.
pub(super) fn checked(role: KubernetesRole) -> bool {
    v1_since(role).is_some()
}

/// Whether a server at `git_version` is read through the role's `v1beta1` group; an error
/// when the version cannot be read, in apimachinery's words.
pub(super) fn beta(role: KubernetesRole, git_version: &str) -> Result<bool, String> {
    let Some(since) = v1_since(role) else {
        return Ok(false);
    };
    let (major, minor) = semantic(git_version)?;
    Ok(!(major >= 1 && minor >= since))
}

/// apimachinery's `ParseSemantic`: major and minor of `v?X.Y.Z[-pre][+build]`.
fn semantic(text: &str) -> Result<(u64, u64), String> {
    let invalid = || format!("could not parse {text:?} as version");
    let trimmed = text.trim_start();
    let trimmed = trimmed.strip_prefix('v').unwrap_or(trimmed);
    let numbers_end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (numbers, extra) = trimmed.split_at(numbers_end);
    if !(extra.is_empty() || extra.starts_with('-') || extra.starts_with('+')) {
        return Err(invalid());
    }
    let parts: Vec<&str> = numbers.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "illegal version string {text:?}: semantic version must have 3 components"
        ));
    }
    let number = |part: &str| {
        // Leading zeros are refused, as apimachinery refuses them.
        if part.is_empty() || (part.len() > 1 && part.starts_with('0')) {
            return Err(invalid());
        }
        part.parse::<u64>().map_err(|_| invalid())
    };
    number(parts[2])?;
    Ok((number(parts[0])?, number(parts[1])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_servers_are_read_through_v1beta1() {
        use KubernetesRole::{EndpointSlice, Ingress, Pod};
        for (role, version, want) in [
            (EndpointSlice, "v1.21.0", Ok(false)),
            (EndpointSlice, "v1.25.3-eks-2d98532", Ok(false)),
            (EndpointSlice, "1.20.0", Ok(true)),
            (EndpointSlice, "v1.20.15+k3s1", Ok(true)),
            // Prometheus compares the minor alone once the major is 1 or more.
            (EndpointSlice, "v2.0.0", Ok(true)),
            (Ingress, "v1.18.0", Ok(true)),
            (Ingress, "v1.19.0", Ok(false)),
            (Pod, "nonsense", Ok(false)),
            (
                Ingress,
                "v1.19",
                Err("semantic version must have 3 components".to_owned()),
            ),
            (Ingress, "v1.19.x", Err("could not parse".to_owned())),
            (Ingress, "v1.019.0", Err("could not parse".to_owned())),
        ] {
            match (beta(role, version), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{version}"),
                (Err(got), Err(want)) => assert!(got.contains(&want), "{version}: {got}"),
                (got, want) => panic!("{version}: {got:?}, want {want:?}"),
            }
        }
    }
}
