//! A GET whose body is read as it arrives instead of whole: a Kubernetes WATCH, a stream of
//! JSON events that ends only when the server ends the watch.
//!
//! It runs on a connection of its own, never handed back to the pool (the body may never end),
//! follows no redirects (the API server sends none), and asks for no compression, so each
//! event can be decoded as soon as its bytes arrive.

use http::Uri;

use super::http1::{BodyParts, Connection};
use super::{status_text, transport_error, Ask, Endpoint, FetchError, Fetcher, HttpClient};

/// A response body being read piece by piece ([`Fetcher::stream`]).
pub struct BodyStream {
    connection: Connection,
    parts: BodyParts,
    url: String,
}

impl Fetcher {
    /// GETs `url` asking for JSON and returns its body unread, once the server answered 200.
    pub async fn stream(&self, client: &HttpClient, url: &str) -> Result<BodyStream, FetchError> {
        let uri: Uri = url.parse().map_err(|e| transport_error(url, e))?;
        let endpoint = Endpoint::parse(url, &uri)?;
        let (connection, head, _) = self
            .exchange(client, &endpoint, &Ask::Stream)
            .await
            .map_err(|e| transport_error(url, e))?;
        if head.status != 200 {
            return Err(FetchError::Status(status_text(head.status)));
        }
        if head.gzip {
            return Err(transport_error(
                url,
                "compressed stream that was not asked for",
            ));
        }
        Ok(BodyStream {
            connection,
            parts: BodyParts::new(head.framing),
            url: url.to_owned(),
        })
    }
}

impl BodyStream {
    /// Appends the next bytes of the body to `out`, waiting for them; false once it ended.
    pub async fn next(&mut self, out: &mut Vec<u8>) -> Result<bool, FetchError> {
        self.connection
            .read_body_part(&mut self.parts, out)
            .await
            .map_err(|e| transport_error(&self.url, format!("reading body: {e}")))
    }
}
