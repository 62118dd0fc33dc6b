//! `oauth2`: a job's bearer token from the OAuth 2.0 client credentials grant, as
//! prometheus/common gets it through golang.org/x/oauth2: a form POST to `token_url` with the
//! client's id and secret in a basic auth header, the token kept until 10 s before it expires,
//! and a new one fetched as soon as the client secret (file) changes.
//!
//! Token endpoints answering JSON are understood (RFC 6749 §5.1); the older form-encoded
//! answer some providers give is not.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use wasmfed_config::{Auth, HttpClientConfig, OAuth2Config, Secret};

use super::client::{read_text, HttpClient};
use super::Fetcher;

/// golang.org/x/oauth2 treats a token as expired this long before it does.
const EXPIRY_DELTA: Duration = Duration::from_secs(10);
/// How long a token request may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct TokenSource {
    config: OAuth2Config,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

struct Cached {
    /// The `Authorization` header's value.
    header: String,
    expires: Option<Instant>,
    /// The client secret the token was fetched with.
    secret: String,
}

impl TokenSource {
    pub(crate) fn new(config: &OAuth2Config) -> TokenSource {
        TokenSource {
            config: config.clone(),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The `Authorization` header for the next request: the cached token while it is valid
    /// and the secret unchanged, else a new one. Boxed, and `Send` by its type, because a
    /// token request is itself a request through the fetcher (the compiler could not prove a
    /// recursive future `Send` otherwise).
    pub(crate) fn header<'a>(
        &'a self,
        fetcher: &'a Fetcher,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(async move {
            let secret = read_text(self.config.client_secret.as_ref())
                .map_err(|e| format!("unable to read oauth2 client secret: {e}"))?;
            let mut cached = self.cached.lock().await;
            if let Some(c) = cached.as_ref() {
                let fresh = c
                    .expires
                    .is_none_or(|at| Instant::now() + EXPIRY_DELTA < at);
                if fresh && c.secret == secret {
                    return Ok(c.header.clone());
                }
            }
            let fresh = self.fetch(fetcher, secret).await?;
            let header = fresh.header.clone();
            *cached = Some(fresh);
            Ok(header)
        })
    }

    async fn fetch(&self, fetcher: &Fetcher, secret: String) -> Result<Cached, String> {
        let client = HttpClient::new(&HttpClientConfig {
            auth: Some(Auth::Basic {
                username: Some(Secret::Inline(form_escape(&self.config.client_id))),
                password: Some(Secret::Inline(form_escape(&secret))),
            }),
            tls: self.config.tls.clone(),
            proxy: self.config.proxy.clone(),
            proxy_connect_headers: self.config.proxy_connect_headers.clone(),
            ..HttpClientConfig::default()
        });
        let form = self.form();
        let asked = Instant::now();
        let answer = fetcher
            .post_form(&client, &self.config.token_url, form, TOKEN_TIMEOUT)
            .await
            .map_err(|e| format!("oauth2: cannot fetch token: {e}"))?;
        let token: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("oauth2: cannot parse token response: {e}"))?;
        let access = token["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or("oauth2: server response missing access_token")?;
        // RFC 6750's scheme, whatever case the server spelled it in, as x/oauth2 does.
        let kind = match token["token_type"].as_str() {
            None | Some("") => "Bearer",
            Some(t) if t.eq_ignore_ascii_case("bearer") => "Bearer",
            Some(t) => t,
        };
        let expires_in = match &token["expires_in"] {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        };
        Ok(Cached {
            header: format!("{kind} {access}"),
            expires: expires_in
                .filter(|s| *s > 0.0)
                .map(|s| asked + Duration::from_secs_f64(s)),
            secret,
        })
    }
}

impl TokenSource {
    /// The token request's body: the grant, the scopes, the endpoint parameters.
    fn form(&self) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if !self.config.scopes.is_empty() {
            form.append_pair("scope", &self.config.scopes.join(" "));
        }
        for (name, value) in &self.config.endpoint_params {
            form.append_pair(name, value);
        }
        form.finish()
    }
}

/// `url.QueryEscape`, which x/oauth2 applies to the id and secret of its basic auth header.
fn form_escape(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests;
