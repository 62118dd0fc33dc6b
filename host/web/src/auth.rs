//! Who may read what: the tenant a request is for, and bearer-token checks.
//!
//! A request without `X-Scope-OrgID` reads the node's own tenant, with no credential, as a
//! plain Prometheus is read. With `X-Scope-OrgID: <tenant>` (Mimir's and Cortex's header) it
//! must carry that tenant's bearer token: 401 without a token, 403 with a wrong one. An
//! unknown tenant gets the same 403 after the same work, so a caller cannot tell which tenant
//! names exist by the answer or its timing. Tokens are compared through their SHA-256 digests,
//! in time that depends on neither their contents nor their lengths.

use std::sync::Arc;

use http::{header, HeaderMap, Response, StatusCode};
use sha2::{Digest, Sha256};

use wasmfed_node::tenant::Tenant;

use super::body::{full, ResponseBody};
use wasmfed_node::NodeState;

/// The header naming the tenant a request is for.
pub const TENANT_HEADER: &str = "X-Scope-OrgID";

/// Whether `given` equals `expected`, in time independent of both.
pub fn tokens_match(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .filter(|t| !t.is_empty())
}

/// The tenant a request may read, or the answer refusing it.
pub fn tenant_for(
    state: &NodeState,
    headers: &HeaderMap,
) -> Result<Arc<Tenant>, Box<Response<ResponseBody>>> {
    let Some(name) = headers.get(TENANT_HEADER) else {
        return Ok(state.own_tenant());
    };
    let Some(given) = bearer(headers) else {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required",
        ));
    };
    let tenant = name
        .to_str()
        .ok()
        .and_then(|name| state.tenant(name))
        .filter(|t| t.token().is_some());
    // An unknown tenant is checked against a stand-in, so it costs what a wrong token does.
    let expected = tenant
        .as_ref()
        .and_then(|t| t.token())
        .unwrap_or_else(|| "\0no such tenant\0".to_string());
    match tenant {
        Some(tenant) if tokens_match(given, &expected) => Ok(tenant),
        _ => Err(refuse(StatusCode::FORBIDDEN, "not allowed for this tenant")),
    }
}

fn refuse(status: StatusCode, why: &str) -> Box<Response<ResponseBody>> {
    Box::new(
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(full(format!("{why}\n")))
            .expect("static headers are valid"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_when_equal() {
        let cases = [
            ("s3cret", "s3cret", true),
            ("s3cret", "s3cre", false),
            ("", "s3cret", false),
            ("S3CRET", "s3cret", false),
        ];
        for (given, expected, want) in cases {
            assert_eq!(
                tokens_match(given, expected),
                want,
                "{given:?} {expected:?}"
            );
        }
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer t0k".parse().unwrap());
        assert_eq!(bearer(&headers), Some("t0k"));
    }
}
