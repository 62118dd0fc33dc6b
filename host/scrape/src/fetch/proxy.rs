//! Which proxy a request takes, as Prometheus' HTTP client decides it: `proxy_url` alone
//! proxies every request (Go's `http.ProxyURL`); with `no_proxy`, or from the environment
//! (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` and their lower-case forms), the rules of Go's
//! `x/net/http/httpproxy` apply: `localhost` and loopback addresses are never proxied, and
//! `NO_PROXY` lists `*`, IPs, CIDRs and domains (with their subdomains), each with an
//! optional port.
//!
//! A plain request goes to the proxy in absolute form; an https one through a `CONNECT`
//! tunnel (see [`super::stream`]). Credentials in the proxy URL become `Proxy-Authorization`.

use std::net::IpAddr;

use base64::Engine;
use wasmfed_config::Proxy;

/// The proxy a request goes through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProxyRoute {
    pub host: String,
    pub port: u16,
    /// `Proxy-Authorization`'s value, from the proxy URL's user and password.
    pub authorization: Option<String>,
}

impl ProxyRoute {
    /// `http://[user[:password]@]host[:port]`; a URL without a scheme is taken as http, as
    /// httpproxy takes it.
    fn parse(url: &str) -> Result<ProxyRoute, String> {
        let rest = match url.split_once("://") {
            Some(("http", rest)) => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "proxy scheme {scheme:?}: only http:// proxies are supported"
                ))
            }
            None => url,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (
                host,
                port.parse()
                    .map_err(|_| format!("invalid proxy port in {url:?}"))?,
            ),
            _ => (hostport, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("invalid proxy URL {url:?}: no host"));
        }
        let authorization = userinfo.map(|userinfo| {
            let decoded: String = percent_decode(userinfo);
            let with_password = if decoded.contains(':') {
                decoded
            } else {
                format!("{decoded}:")
            };
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(with_password)
            )
        });
        Ok(ProxyRoute {
            host: host.to_owned(),
            port,
            authorization,
        })
    }
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The proxy for a request to `host:port` (`https` for its scheme), if it takes one.
pub(crate) fn route(
    proxy: &Proxy,
    https: bool,
    host: &str,
    port: u16,
) -> Result<Option<ProxyRoute>, String> {
    match proxy {
        Proxy::Direct => Ok(None),
        Proxy::Url { url, no_proxy } if no_proxy.is_empty() => ProxyRoute::parse(url).map(Some),
        Proxy::Url { url, no_proxy } => {
            if bypasses(no_proxy, host, port) {
                Ok(None)
            } else {
                ProxyRoute::parse(url).map(Some)
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
                Some(url) if !bypasses(&no_proxy, host, port) => ProxyRoute::parse(&url).map(Some),
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
    fn proxy_urls() {
        assert_eq!(
            ProxyRoute::parse("http://user:p%40ss@proxy.corp:3128/").unwrap(),
            ProxyRoute {
                host: "proxy.corp".into(),
                port: 3128,
                authorization: Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("user:p@ss")
                )),
            }
        );
        assert_eq!(ProxyRoute::parse("proxy:8080").unwrap().port, 8080);
        assert_eq!(ProxyRoute::parse("http://proxy").unwrap().port, 80);
        assert_eq!(ProxyRoute::parse("http://[::1]:3128").unwrap().host, "::1");
        assert!(ProxyRoute::parse("socks5://p:1080").is_err());
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
