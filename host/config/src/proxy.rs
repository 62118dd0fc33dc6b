//! The proxy keys of an HTTP client (`proxy_url`, `no_proxy`, `proxy_from_environment`,
//! `proxy_connect_header`), checked with prometheus/common's rules and messages.
//!
//! HTTP proxies only (`http://[user:password@]host:port`): a plain target is asked for through
//! the proxy, an https one through a `CONNECT` tunnel. Which proxy a request takes, and the
//! environment's `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`, are the scrape side's business.

use std::collections::BTreeMap;

use super::http_client::Secret;

/// Where a client's requests go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Proxy {
    /// Straight to the target.
    #[default]
    Direct,
    /// Through `url`, except for hosts `no_proxy` names (Go's `NO_PROXY` syntax).
    Url { url: String, no_proxy: String },
    /// As `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (or their lower-case forms) say.
    FromEnvironment,
}

/// Header lines by name, each with its values (`http_headers`, `proxy_connect_header`).
pub type HeaderValues = Vec<(String, Vec<Secret>)>;

/// The proxy keys as read.
#[derive(Default)]
pub(super) struct RawProxy {
    pub url: String,
    pub no_proxy: String,
    pub from_environment: bool,
    pub connect_header: BTreeMap<String, Vec<String>>,
}

impl RawProxy {
    /// prometheus/common's `ProxyConfig.Validate`, then wasmfed's own limit: HTTP proxies.
    pub(super) fn resolve(self) -> Result<(Proxy, HeaderValues), String> {
        let url = !self.url.is_empty();
        if !self.connect_header.is_empty() && !self.from_environment && !url {
            return Err("if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured".into());
        }
        if self.from_environment && url {
            return Err(
                "if proxy_from_environment is configured, proxy_url must not be configured".into(),
            );
        }
        if self.from_environment && !self.no_proxy.is_empty() {
            return Err(
                "if proxy_from_environment is configured, no_proxy must not be configured".into(),
            );
        }
        if !url && !self.no_proxy.is_empty() {
            return Err("if no_proxy is configured, proxy_url must also be configured".into());
        }
        if url && !self.url.starts_with("http://") {
            return Err(format!(
                "proxy_url {:?}: not supported by wasmfed yet (only http:// proxies)",
                self.url
            ));
        }
        let headers = self
            .connect_header
            .into_iter()
            .map(|(name, values)| (name, values.into_iter().map(Secret::Inline).collect()))
            .collect();
        let proxy = if self.from_environment {
            Proxy::FromEnvironment
        } else if url {
            Proxy::Url {
                url: self.url,
                no_proxy: self.no_proxy,
            }
        } else {
            Proxy::Direct
        };
        Ok((proxy, headers))
    }
}
