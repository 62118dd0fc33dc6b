//! What goes on the wire for a URL: where the request is sent ([`Endpoint`]) and what it asks
//! for ([`Ask`]), which decides its method and the headers Prometheus sends with it (scrape
//! timeout, refresh interval, remote read and write versions).

use std::time::Duration;

use http::Uri;
use wasmfed_remote::read::STREAMED_CONTENT_TYPE;
use wasmfed_remote::VERSION_HEADER_VALUE as REMOTE_WRITE_VERSION;

use super::{transport_error, ApiMethod, FetchError, USER_AGENT};

/// Where a URL's request goes and what it asks for.
pub(super) struct Endpoint<'a> {
    pub(super) https: bool,
    /// `scheme://host:port` (the key of kept-alive connections).
    pub(super) origin: &'a str,
    /// `host:port` as written in the URL (the `Host` header).
    pub(super) authority: &'a str,
    pub(super) host: &'a str,
    pub(super) port: u16,
    pub(super) path: &'a str,
}

impl<'a> Endpoint<'a> {
    pub(super) fn parse(url: &'a str, uri: &'a Uri) -> Result<Endpoint<'a>, FetchError> {
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(transport_error(url, "unsupported protocol scheme")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| transport_error(url, "no host in request URL"))?;
        let host = authority.host();
        let origin_end = url.find("://").map_or(0, |i| i + 3);
        let origin_end = url[origin_end..]
            .find(['/', '?'])
            .map_or(url.len(), |i| origin_end + i);
        Ok(Endpoint {
            https,
            origin: &url[..origin_end],
            authority: authority.as_str().rsplit('@').next().unwrap_or_default(),
            host: host.trim_start_matches('[').trim_end_matches(']'),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            path: uri.path_and_query().map_or("/", |p| p.as_str()),
        })
    }

    /// The request head; `extra` holds complete header lines (`Name: value\r\n`).
    /// In `absolute` form (`GET http://host/path`) for a plain request through a proxy.
    pub(super) fn request(&self, ask: &Ask, extra: &str, absolute: bool) -> Vec<u8> {
        let method = match ask {
            Ask::Post { .. } | Ask::RemoteRead { .. } | Ask::RemoteWrite { .. } => "POST",
            Ask::Api {
                method: ApiMethod::Head,
                ..
            } => "HEAD",
            _ => "GET",
        };
        let origin = if absolute { self.origin } else { "" };
        let mut request = format!(
            "{method} {origin}{} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\n",
            self.path, self.authority,
        );
        if !matches!(ask, Ask::Stream) {
            request.push_str("Accept-Encoding: gzip\r\n");
        }
        match ask {
            Ask::Scrape { timeout, accept } => request.push_str(&format!(
                "Accept: {accept}\r\nX-Prometheus-Scrape-Timeout-Seconds: {}\r\n",
                timeout.as_secs_f64()
            )),
            Ask::Discovery { refresh } => request.push_str(&format!(
                "Accept: application/json\r\nX-Prometheus-Refresh-Interval-Seconds: {}\r\n",
                refresh.as_secs_f64()
            )),
            Ask::Json | Ask::Stream => request.push_str("Accept: application/json\r\n"),
            Ask::Api { .. } => request.push_str("Accept: */*\r\n"),
            Ask::Post { content_type, body } => request.push_str(&format!(
                "Accept: application/json\r\nContent-Type: {content_type}\r\n\
                 Content-Length: {}\r\n",
                body.len()
            )),
            Ask::RemoteRead { body, timeout } => request.push_str(&format!(
                "Accept: {STREAMED_CONTENT_TYPE}\r\nContent-Type: application/x-protobuf\r\n\
                 Content-Encoding: snappy\r\nX-Prometheus-Remote-Read-Version: 0.1.0\r\n\
                 X-Prometheus-Scrape-Timeout-Seconds: {}\r\nContent-Length: {}\r\n",
                timeout.as_secs_f64(),
                body.len()
            )),
            Ask::RemoteWrite { body, headers } => request.push_str(&format!(
                "Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n\
                 X-Prometheus-Remote-Write-Version: {REMOTE_WRITE_VERSION}\r\n\
                 Content-Length: {}\r\n{headers}",
                body.len()
            )),
        }
        request.push_str(extra);
        request.push_str("\r\n");
        let mut request = request.into_bytes();
        match ask {
            Ask::Post { body, .. } => request.extend_from_slice(body.as_bytes()),
            Ask::RemoteRead { body, .. } => request.extend_from_slice(body),
            Ask::RemoteWrite { body, .. } => request.extend_from_slice(body),
            _ => {}
        }
        request
    }
}

/// What a request is for, which decides its method and the headers Prometheus sends with it.
#[derive(Clone, Debug)]
pub(super) enum Ask<'a> {
    /// A scrape with this timeout and `Accept` header (the job's, see `NameRules`).
    Scrape { timeout: Duration, accept: &'a str },
    /// An HTTP service discovery refresh, repeated at this interval.
    Discovery { refresh: Duration },
    /// A GET of a JSON document from an API (Kubernetes discovery's LISTs).
    Json,
    /// A GET of JSON read as it arrives, not compressed (Kubernetes discovery's WATCHes).
    Stream,
    /// A POST of this body: an OAuth 2.0 token request (a form), alerts to an Alertmanager
    /// (JSON).
    Post {
        content_type: &'static str,
        body: String,
    },
    /// A remote-read request (a snappy-compressed `ReadRequest`) to a Prometheus, pulling
    /// every sample of a range (`federation.remote_read`), within this scrape timeout.
    RemoteRead { body: Vec<u8>, timeout: Duration },
    /// A remote-write request (a snappy-compressed `WriteRequest`), with the destination's
    /// own header lines (`Name: value\r\n`).
    RemoteWrite { body: bytes::Bytes, headers: String },
    /// A request to an API whose answers say why in their body, whatever the status (a
    /// wasmfed node's admin API, a Docker Engine), keeping the value of the response header
    /// `capture` names (a Docker Engine's `Api-Version`).
    Api {
        method: ApiMethod,
        capture: Option<&'a str>,
    },
}

impl Ask<'_> {
    /// The response header whose value the asker wants.
    pub(super) fn captured_header(&self) -> Option<&str> {
        match self {
            Ask::Api { capture, .. } => *capture,
            _ => None,
        }
    }
}
