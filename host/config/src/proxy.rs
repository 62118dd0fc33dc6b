//! The proxy keys of an HTTP client (`proxy_url`, `no_proxy`, `proxy_from_environment`,
//! `proxy_connect_header`), checked with prometheus/common's rules and messages.
//!
//! A proxy URL names one of the kinds Go's `http.Transport` speaks: `http://` and `https://`
//! (TLS to the proxy) forward proxies, and `socks5://` (or `socks5h://`; both let the proxy
//! resolve names), each with optional `user:password@`. [`ProxyUrl::parse`] is the one reader
//! of such URLs, for the configuration and for the environment's `HTTP_PROXY`/`HTTPS_PROXY`
//! alike; which proxy a request takes and how it talks to it are the scrape side's business.

use std::collections::BTreeMap;

use super::http_client::Secret;
use super::yaml::UniqueMap;

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
    /// `proxy_connect_header` as read: a null list of values is an empty one.
    pub(super) fn connect_header_of(
        headers: UniqueMap<String, Option<Vec<String>>>,
    ) -> BTreeMap<String, Vec<String>> {
        (headers.0.into_iter())
            .map(|(name, values)| (name, values.unwrap_or_default()))
            .collect()
    }

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
        if url {
            ProxyUrl::parse(&self.url).map_err(|e| format!("proxy_url: {e}"))?;
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

/// How a client talks to its proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyScheme {
    /// A forward proxy over TCP: plain requests in absolute form, https through `CONNECT`.
    Http,
    /// The same over TLS to the proxy.
    Https,
    /// SOCKS5 (RFC 1928), with username/password authentication (RFC 1929) when the URL has a
    /// user.
    Socks5,
}

/// A proxy URL, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub scheme: ProxyScheme,
    /// Without brackets for IPv6.
    pub host: String,
    pub port: u16,
    /// The URL's user, percent-decoded; None without `@`.
    pub username: Option<String>,
    /// None when the user has no `:password`.
    pub password: Option<String>,
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

impl ProxyUrl {
    /// `scheme://[user[:password]@]host[:port][/]`, the port defaulting as Go's transport
    /// defaults it (80, 443, 1080). A URL without a scheme is an http proxy, as Go's
    /// `httpproxy` takes it.
    pub fn parse(url: &str) -> Result<ProxyUrl, String> {
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_owned(), url),
        };
        let (scheme, default_port) = match scheme.as_str() {
            "http" => (ProxyScheme::Http, 80),
            "https" => (ProxyScheme::Https, 443),
            "socks5" | "socks5h" => (ProxyScheme::Socks5, 1080),
            other => {
                return Err(format!(
                "proxy scheme {other:?} in {:?} is not supported (http, https, socks5, socks5h)",
                redacted(url)
            ))
            }
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port))
                if !port.contains(']') && (!host.contains(':') || host.ends_with(']')) =>
            {
                let port = match port {
                    "" => default_port,
                    port => port.parse().map_err(|_| {
                        format!("invalid port {port:?} in proxy URL {:?}", redacted(url))
                    })?,
                };
                (host, port)
            }
            _ => (hostport, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("proxy URL {:?} has no host", redacted(url)));
        }
        let (username, password) = match userinfo {
            None => (None, None),
            Some(userinfo) => match userinfo.split_once(':') {
                Some((user, password)) => {
                    (Some(percent_decode(user)), Some(percent_decode(password)))
                }
                None => (Some(percent_decode(userinfo)), None),
            },
        };
        Ok(ProxyUrl {
            scheme,
            host: host.to_owned(),
            port,
            username,
            password,
        })
    }
}

/// A URL with its password (if any) replaced, for messages.
fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let sep = if scheme.is_empty() { "" } else { "://" };
            format!("{scheme}{sep}{user}:xxxxx@{host}{}", &rest[authority_end..])
        }
        _ => url.to_owned(),
    }
}

/// Go's `url.PathUnescape` for a URL's user and password.
fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let url = |scheme, host: &str, port, user: Option<&str>, password: Option<&str>| ProxyUrl {
            scheme,
            host: host.into(),
            port,
            username: user.map(Into::into),
            password: password.map(Into::into),
        };
        use ProxyScheme::*;
        for (text, want) in [
            (
                "http://user:p%40ss@proxy.corp:3128/",
                url(Http, "proxy.corp", 3128, Some("user"), Some("p@ss")),
            ),
            ("proxy:8080", url(Http, "proxy", 8080, None, None)),
            ("http://proxy", url(Http, "proxy", 80, None, None)),
            ("HTTPS://proxy", url(Https, "proxy", 443, None, None)),
            ("https://proxy:8443", url(Https, "proxy", 8443, None, None)),
            ("http://[::1]:3128", url(Http, "::1", 3128, None, None)),
            ("http://[::1]", url(Http, "::1", 80, None, None)),
            ("socks5://p", url(Socks5, "p", 1080, None, None)),
            (
                "socks5h://u:@p:1081",
                url(Socks5, "p", 1081, Some("u"), Some("")),
            ),
            (
                "socks5://u@127.0.0.1:1080",
                url(Socks5, "127.0.0.1", 1080, Some("u"), None),
            ),
        ] {
            assert_eq!(ProxyUrl::parse(text), Ok(want), "{text}");
        }
        for (text, error) in [
            (
                "ftp://u:secret@p:21",
                r#"proxy scheme "ftp" in "ftp://u:xxxxx@p:21" is not supported (http, https, socks5, socks5h)"#,
            ),
            (
                "http://p:x80",
                r#"invalid port "x80" in proxy URL "http://p:x80""#,
            ),
            ("http://:3128", r#"proxy URL "http://:3128" has no host"#),
            (
                "socks5://u:secret@:1",
                r#"proxy URL "socks5://u:xxxxx@:1" has no host"#,
            ),
        ] {
            assert_eq!(ProxyUrl::parse(text), Err(error.into()), "{text}");
        }
        assert!(
            !format!("{:?}", ProxyUrl::parse("http://u:hunter2@p").unwrap()).contains("hunter2")
        );
    }
}
