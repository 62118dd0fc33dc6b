//! `oauth2` in an HTTP client: the OAuth 2.0 client credentials grant, as prometheus/common
//! reads it (`client_id`, `client_secret` or `client_secret_file`, `scopes`, `token_url`,
//! `endpoint_params`, and a `tls_config` and proxy keys of its own for the token endpoint).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::http_client::{tls_config, RawTls, Secret, TlsConfig};
use super::proxy::{HeaderValues, Proxy, RawProxy};
use super::yaml::{Bool, UniqueMap};

/// `oauth2`, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth2Config {
    pub client_id: String,
    /// Read again before each token request; a changed secret fetches a new token.
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
    pub token_url: String,
    pub endpoint_params: BTreeMap<String, String>,
    /// For the token endpoint.
    pub tls: TlsConfig,
    /// The token endpoint's proxy (`proxy_url`, `no_proxy`, `proxy_from_environment`).
    pub proxy: Proxy,
    /// Its `proxy_connect_header`.
    pub proxy_connect_headers: HeaderValues,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth2 {
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    token_url: Option<String>,
    #[serde(default)]
    endpoint_params: BTreeMap<String, String>,
    tls_config: Option<RawTls>,
    proxy_url: Option<String>,
    no_proxy: Option<String>,
    #[serde(default)]
    proxy_from_environment: Bool,
    proxy_connect_header: Option<UniqueMap<String, Option<Vec<String>>>>,
}

impl RawOAuth2 {
    /// prometheus/common's `oauth2` checks and messages.
    pub(super) fn resolve(self, dir: &Path) -> Result<OAuth2Config, String> {
        let client_id = self.client_id.unwrap_or_default();
        if client_id.is_empty() {
            return Err("oauth2 client_id must be configured".into());
        }
        let token_url = self.token_url.unwrap_or_default();
        if token_url.is_empty() {
            return Err("oauth2 token_url must be configured".into());
        }
        let (secret, file) = (
            self.client_secret.filter(|s| !s.is_empty()),
            self.client_secret_file.filter(|s| !s.is_empty()),
        );
        if secret.is_some() && file.is_some() {
            return Err(
                "at most one of oauth2 client_secret & client_secret_file must be configured"
                    .into(),
            );
        }
        let (proxy, proxy_connect_headers) = RawProxy {
            url: self.proxy_url.unwrap_or_default(),
            no_proxy: self.no_proxy.unwrap_or_default(),
            from_environment: self.proxy_from_environment.0,
            connect_header: self
                .proxy_connect_header
                .map(RawProxy::connect_header_of)
                .unwrap_or_default(),
        }
        .resolve()
        .map_err(|e| format!("oauth2: {e}"))?;
        Ok(OAuth2Config {
            client_id,
            client_secret: Secret::from_pair(secret, file, dir),
            scopes: self.scopes,
            token_url,
            endpoint_params: self.endpoint_params,
            tls: tls_config(self.tls_config.unwrap_or_default(), dir)?,
            proxy,
            proxy_connect_headers,
        })
    }
}
