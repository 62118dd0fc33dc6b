//! Which proxy a request takes, as Prometheus' HTTP client decides it: `proxy_url` alone
//! proxies every request (Go's `http.ProxyURL`); with `no_proxy`, or from the environment
//! (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` and their lower-case forms), the rules of Go's
//! `x/net/http/httpproxy` apply: `localhost` and loopback addresses are never proxied, and
//! `NO_PROXY` lists `*`, IPs, CIDRs and domains (with their subdomains), each with an
//! optional port.
//!
//! How a request then travels is [`super::stream`]'s business: through an http(s) proxy a
//! plain request goes in absolute form and an https one through a `CONNECT` tunnel, through a
//! SOCKS5 proxy every request goes through a tunnel ([`super::socks5`]). Credentials in an
//! http(s) proxy's URL become `Proxy-Authorization`.

use std::net::IpAddr;

use base64::Engine;
use wasmfed_config::{Proxy, ProxyScheme, ProxyUrl};

/// `Proxy-Authorization`'s value for an http(s) proxy whose URL has a user (Go's
/// `connectMethod.proxyAuth`); SOCKS5 proxies authenticate in their own handshake.
pub(crate) fn authorization(proxy: &ProxyUrl) -> Option<String> {
    if proxy.scheme == ProxyScheme::Socks5 {
        return None;
    }
    let user = proxy.username.as_deref()?;
    let password = proxy.password.as_deref().unwrap_or_default();
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    ))
}

/// The proxy for a request to `host:port` (`https` for its scheme), if it takes one.
pub(crate) fn route(
    proxy: &Proxy,
    https: bool,
    host: &str,
    port: u16,
) -> Result<Option<ProxyUrl>, String> {
    match proxy {
        Proxy::Direct => Ok(None),
        Proxy::Url { url, no_proxy } if no_proxy.is_empty() => ProxyUrl::parse(url).map(Some),
        Proxy::Url { url, no_proxy } => {
            if bypasses(no_proxy, host, port) {
                Ok(None)
            } else {
                ProxyUrl::parse(url).map(Some)
            }
        }
        Proxy::FromEnvironment => {
            let env = |names: [&str; 2]| {
                names
                    .iter()
                    .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
            };
            let url = if https {
                env(["HTTPS_PROXY", "https_proxy"])
            } else {
                env(["HTTP_PROXY", "http_proxy"])
            };
            let no_proxy = env(["NO_PROXY", "no_proxy"]).unwrap_or_default();
            match url {
                Some(url) if !bypasses(&no_proxy, host, port) => ProxyUrl::parse(&url).map(Some),
                _ => Ok(None),
            }
        }
    }
}

/// httpproxy's `useProxy`, negated: whether a request to `host:port` goes direct.
fn bypasses(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let ip: Option<IpAddr> = host.parse().ok();
    if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    let port = port.to_string();
    no_proxy
        .split(',')
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some((net, bits)) = entry.split_once('/') {
                return match (ip, net.parse::<IpAddr>(), bits.parse::<u32>()) {
                    (Some(ip), Ok(net), Ok(bits)) => in_cidr(ip, net, bits),
                    _ => false,
                };
            }
            let (name, want_port) = split_port(&entry);
            if want_port.is_some_and(|p| p != port) {
                return false;
            }
            if let Ok(entry_ip) = name.parse::<IpAddr>() {
                return ip == Some(entry_ip);
            }
            let name = name.strip_prefix('*').unwrap_or(name);
            match name.strip_prefix('.') {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => host == name || host.ends_with(&format!(".{name}")),
            }
        })
}

/// An entry's host and port, `[v6]:port` included.
fn split_port(entry: &str) -> (&str, Option<&str>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => (entry, None),
        };
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port))
        }
        _ => (entry, None),
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_authorization() {
        let auth = |url| authorization(&ProxyUrl::parse(url).unwrap());
        let basic = |s: &str| {
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            ))
        };
        assert_eq!(auth("http://user:p%40ss@proxy:3128"), basic("user:p@ss"));
        assert_eq!(auth("https://user@proxy"), basic("user:"));
        assert_eq!(auth("http://proxy"), None);
        assert_eq!(auth("socks5://user:pw@proxy"), None);
    }

    #[test]
    fn no_proxy_as_httpproxy_reads_it() {
        let list = "example.com, .internal, 10.0.0.0/8, 192.168.1.1, other.org:8080, *.wild.test";
        for (host, port, bypass) in [
            ("localhost", 80, true),
            ("127.0.0.1", 80, true),
            ("::1", 80, true),
            ("example.com", 80, true),
            ("api.example.com", 80, true),
            ("notexample.com", 80, false),
            ("svc.internal", 80, true),
            ("internal", 80, false),
            ("10.1.2.3", 80, true),
            ("11.1.2.3", 80, false),
            ("192.168.1.1", 9100, true),
            ("other.org", 8080, true),
            ("other.org", 9090, false),
            ("a.wild.test", 80, true),
            ("node.corp", 80, false),
        ] {
            assert_eq!(bypasses(list, host, port), bypass, "{host}:{port}");
        }
        assert!(bypasses("*", "anything", 1));
        assert!(!bypasses("", "node.corp", 1));
    }

    #[test]
    fn routes() {
        let url = Proxy::Url {
            url: "http://proxy:3128".into(),
            no_proxy: String::new(),
        };
        // proxy_url alone proxies everything, loopback included (Go's http.ProxyURL).
        assert!(route(&url, false, "127.0.0.1", 9100).unwrap().is_some());
        let with_list = Proxy::Url {
            url: "http://proxy:3128".into(),
            no_proxy: "node.corp".into(),
        };
        assert!(route(&with_list, false, "127.0.0.1", 9100)
            .unwrap()
            .is_none());
        assert!(route(&with_list, true, "node.corp", 443).unwrap().is_none());
        assert!(route(&with_list, true, "web.corp", 443).unwrap().is_some());
        assert!(route(&Proxy::Direct, false, "web.corp", 80)
            .unwrap()
            .is_none());
    }
}
