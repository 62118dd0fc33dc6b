//! Accepting connections and routing requests to the endpoint modules.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::body::{full, ResponseBody};
use super::encoding::ContentEncoding;
use super::federate::{self, FederateJob};
use super::request_line::EscapingStream;
use super::web_config::{add_headers, Current, WebGate};
use super::{
    auth, metadata, metric_metadata, plugins, query, relabel, remote_write, rules_api, status,
    targets, ui,
};
use wasmfed_model::clock::unix_millis;
use wasmfed_node::tenant::Tenant;
use wasmfed_node::NodeState;
use wasmfed_storage::Head;

/// Largest form body accepted on POST endpoints.
const MAX_FORM_BYTES: usize = 1 << 20;

/// A TLS handshake taking longer than this is abandoned (Go's `TLSHandshakeTimeout`).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until `shutdown` turns true; connections in flight are finished. `gate` holds the
/// `--web.config.file` (TLS, basic auth, headers), read again for each connection.
pub async fn serve(
    listener: TcpListener,
    state: Arc<NodeState>,
    gate: Arc<WebGate>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = shutdown.changed() => return Ok(()),
        };
        let (state, gate) = (state.clone(), gate.clone());
        tokio::spawn(async move {
            let current = match gate.current() {
                Ok(current) => current,
                Err(e) => {
                    tracing::error!(%peer, error = %e, "refusing a connection: the web config file is invalid");
                    return;
                }
            };
            match current.tls.clone() {
                None => serve_connection(stream, peer, state, gate, current).await,
                Some(tls) => {
                    let accept = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, state, gate, current).await
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// Serves the requests of one connection, plain or TLS.
async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    state: Arc<NodeState>,
    gate: Arc<WebGate>,
    current: Current,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let (state, gate, config) = (state.clone(), gate.clone(), current.config.clone());
        async move {
            // exporter-toolkit refuses over the limit before anything else, headers included.
            if !gate.allows_request() {
                state.telemetry.count_request("rate_limit", 429);
                return Ok(text(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n"));
            }
            let mut response = if gate.admits(&config, req.headers()) {
                route(state, req).await
            } else {
                state.telemetry.count_request("basic_auth", 401);
                unauthorized()
            };
            add_headers(&config, response.headers_mut());
            Ok::<_, Infallible>(response)
        }
    });
    // HTTP/1.1 only: the request-target escaping follows HTTP/1 framing.
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(EscapingStream::new(stream)), service)
        .await;
    if let Err(e) = conn {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// exporter-toolkit's answer to a request without valid basic auth credentials.
fn unauthorized() -> Response<ResponseBody> {
    let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic"),
    );
    response
}

/// The address the server is bound to, for logs and tests.
pub fn local_addr(listener: &TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}

async fn route(state: Arc<NodeState>, req: Request<Incoming>) -> Response<ResponseBody> {
    let Some(path) = within_prefix(&state.route_prefix, req.uri().path()) else {
        state.telemetry.count_request("other", 404);
        return text(StatusCode::NOT_FOUND, "404 page not found\n");
    };
    let path = path.to_owned();
    let (handler, response) = match tenant_scoped(&state, &req, &path) {
        Err(refused) => (
            TENANT_SCOPED
                .iter()
                .find(|p| **p == path)
                .copied()
                .unwrap_or("other"),
            *refused,
        ),
        Ok(tenant) => dispatch(&state, tenant, req, &path).await,
    };
    state
        .telemetry
        .count_request(handler, response.status().as_u16());
    response
}

/// The endpoint path of a request path under `--web.route-prefix` (`prefix` without its
/// trailing slash); None for a path outside it.
fn within_prefix<'p>(prefix: &str, path: &'p str) -> Option<&'p str> {
    if prefix.is_empty() {
        return Some(path);
    }
    match path.strip_prefix(prefix)? {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

/// Endpoints that read one tenant's data (`auth::tenant_for` decides which).
const TENANT_SCOPED: [&str; 16] = [
    "/federate",
    "/api/v1/write",
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/query_exemplars",
    "/api/v1/targets",
    "/api/v1/metadata",
    "/api/v1/targets/metadata",
    "/api/v1/status/buildinfo",
    "/api/v1/status/config",
    "/api/v1/status/tsdb",
    "/api/v1/relabel",
    "/api/v1/rules",
    "/api/v1/alerts",
    "/api/v1/series",
    "/api/v1/labels",
];

/// `/api/v1/label/<name>/values`: the label name, for a path of that shape.
fn label_values_path(path: &str) -> Option<&str> {
    path.strip_prefix("/api/v1/label/")?.strip_suffix("/values")
}

/// The tenant a tenant-scoped request is for (the node's own for the others).
fn tenant_scoped(
    state: &NodeState,
    req: &Request<Incoming>,
    path: &str,
) -> Result<Arc<Tenant>, Box<Response<ResponseBody>>> {
    if TENANT_SCOPED.contains(&path) || label_values_path(path).is_some() {
        auth::tenant_for(state, req.headers())
    } else {
        Ok(state.own_tenant())
    }
}

async fn dispatch(
    state: &Arc<NodeState>,
    tenant: Arc<Tenant>,
    req: Request<Incoming>,
    path: &str,
) -> (&'static str, Response<ResponseBody>) {
    let state = state.clone();
    let max_timeout = state.query_timeout;
    match (req.method(), path) {
        (&Method::GET | &Method::POST, "/federate") => {
            ("/federate", handle_federate(&state, &tenant, req).await)
        }
        (&Method::POST, "/api/v1/write") => (
            "/api/v1/write",
            remote_write::receive(&state, &tenant, req).await,
        ),
        (&Method::GET | &Method::HEAD, "/-/healthy") => {
            ("/-/healthy", text(StatusCode::OK, "wasmfed is Healthy.\n"))
        }
        (&Method::GET | &Method::HEAD, "/-/ready") => ("/-/ready", ready(&state)),
        (&Method::GET, "/metrics") => ("/metrics", metrics(&state)),
        (&Method::GET, "/api/v1/relabel") => (
            "/api/v1/relabel",
            relabel::handle(&tenant, req.uri().query()).await,
        ),
        (&Method::GET | &Method::POST, "/api/v1/query") => (
            "/api/v1/query",
            with_form(&state, req, |form| async move {
                query::instant(&tenant, &form, max_timeout).await
            })
            .await,
        ),
        (&Method::GET | &Method::POST, "/api/v1/query_exemplars") => (
            "/api/v1/query_exemplars",
            with_form(&state, req, |form| async move {
                query::exemplars(&tenant, &form, max_timeout).await
            })
            .await,
        ),
        (&Method::GET | &Method::POST, "/api/v1/query_range") => (
            "/api/v1/query_range",
            with_form(&state, req, |form| async move {
                query::range(&tenant, &form, max_timeout).await
            })
            .await,
        ),
        (_, p) if p == "/api/v1/plugins" || p.starts_with("/api/v1/plugins/") => {
            ("/api/v1/plugins", plugins::handle(&state, req).await)
        }
        (&Method::GET, "/api/v1/targets") => (
            "/api/v1/targets",
            targets::handle(&tenant, req.uri().query()),
        ),
        (&Method::GET, "/api/v1/rules") => (
            "/api/v1/rules",
            rules_api::rules(&tenant, req.uri().query()),
        ),
        (&Method::GET, "/api/v1/alerts") => ("/api/v1/alerts", rules_api::alerts(&tenant)),
        (&Method::GET, "/api/v1/status/buildinfo") => (
            "/api/v1/status/buildinfo",
            with_form(&state, req, |_| async { status::buildinfo(&tenant) }).await,
        ),
        (&Method::GET, "/api/v1/status/config") => (
            "/api/v1/status/config",
            with_form(&state, req, |_| async { status::config(&state, &tenant) }).await,
        ),
        (&Method::GET, "/api/v1/status/flags") => (
            "/api/v1/status/flags",
            with_form(&state, req, |_| async { status::flags(&state) }).await,
        ),
        (&Method::GET, "/api/v1/status/runtimeinfo") => (
            "/api/v1/status/runtimeinfo",
            with_form(&state, req, |_| async { status::runtimeinfo(&state) }).await,
        ),
        (&Method::GET, "/api/v1/status/tsdb") => (
            "/api/v1/status/tsdb",
            with_form(&state, req, |_| async { status::tsdb(&tenant) }).await,
        ),
        (&Method::GET, "/api/v1/metadata") => (
            "/api/v1/metadata",
            with_form(&state, req, |form| async move {
                metric_metadata::metrics(&tenant, &form)
            })
            .await,
        ),
        (&Method::GET, "/api/v1/targets/metadata") => (
            "/api/v1/targets/metadata",
            with_form(&state, req, |form| async move {
                metric_metadata::targets(&tenant, &form)
            })
            .await,
        ),
        (&Method::GET | &Method::POST, "/api/v1/series") => (
            "/api/v1/series",
            with_form(&state, req, |form| async move {
                metadata::series(&tenant, &form).await
            })
            .await,
        ),
        (&Method::GET | &Method::POST, "/api/v1/labels") => (
            "/api/v1/labels",
            with_form(&state, req, |form| async move {
                metadata::labels(&tenant, &form).await
            })
            .await,
        ),
        (&Method::GET, p) if label_values_path(p).is_some() => {
            let name = label_values_path(p).unwrap_or_default().to_string();
            (
                "/api/v1/label/:name/values",
                with_form(&state, req, |form| async move {
                    metadata::label_values(&tenant, &name, &form).await
                })
                .await,
            )
        }
        (&Method::POST | &Method::PUT, "/-/quit") => ("/-/quit", quit(&state)),
        (&Method::POST | &Method::PUT, "/-/reload") => ("/-/reload", reload(&state).await),
        (&Method::GET, "/") if wants_html(&req) => ("/", ui::redirect(&state.route_prefix)),
        (&Method::GET, "/") => ("/", text(StatusCode::OK, INDEX)),
        (&Method::GET, "/ui") => ("/ui", ui::redirect(&state.route_prefix)),
        (&Method::GET, p) if p.starts_with("/ui/") => {
            ("/ui", ui::asset(&p["/ui/".len()..], &state.page_title))
        }
        _ => ("other", text(StatusCode::NOT_FOUND, "404 page not found\n")),
    }
}

const INDEX: &str = "wasmfed: a Prometheus-compatible federation node\n\n\
/ui/                          the node's web page (a browser asking for / is sent there)\n\
/federate?match[]=<selector>  newest samples of the selected series\n\
  &cursor=<from last answer>  every sample since the cursor (wasmfed's every-sample mode)\n\
/api/v1/query?query=<expr>    an instant PromQL query (Prometheus' JSON)\n\
POST /api/v1/write            remote write in (--web.enable-remote-write-receiver)\n\
/api/v1/query_range?query=<expr>&start=&end=&step=  a range query\n\
/api/v1/targets               scrape targets and their health\n\
/api/v1/rules                 rule groups, rules and their health (Prometheus' JSON)\n\
/api/v1/alerts                pending and firing alerts\n\
/api/v1/series?match[]=<sel>  label sets of the selected series\n\
/api/v1/labels                label names; /api/v1/label/<name>/values its values\n\
/api/v1/metadata              metric types and help; /api/v1/targets/metadata per target\n\
/api/v1/status/<page>         buildinfo, config, flags, runtimeinfo, tsdb\n\
/api/v1/plugins               live plugins; PUT /api/v1/plugins/<name> hot-swaps (admin token)\n\
/api/v1/relabel?job=<name>    each target through the job's target-stage plugins\n\
/metrics                      wasmfed's own metrics\n\
/-/healthy, /-/ready          liveness and readiness\n";

async fn handle_federate(
    state: &NodeState,
    tenant: &Tenant,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    if !state.is_ready() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    let encoding = ContentEncoding::negotiate(
        req.headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let escaping = federate::negotiate::escaping(accept, tenant.compat());
    let form = match form_values(req).await {
        Ok(form) => form,
        Err(reason) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("error parsing form values: {reason}\n"),
            )
        }
    };
    let pairs = form.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let matcher_sets = match federate::parse_match_params(pairs.clone(), tenant.compat()) {
        Ok(sets) => sets,
        Err(reason) => return text(StatusCode::BAD_REQUEST, &format!("{reason}\n")),
    };
    let every = match federate::EveryRequest::from_form(pairs.clone()) {
        Ok(every) => every,
        Err(reason) => return text(StatusCode::BAD_REQUEST, &format!("{reason}\n")),
    };
    let external_labels = state.external_labels.read().expect("labels lock").clone();
    let job = FederateJob {
        head: tenant.head.clone(),
        blocks: tenant.blocks.clone(),
        matcher_sets,
        external_labels,
        now_ms: unix_millis(std::time::SystemTime::now()),
        lookback_ms: state.lookback.as_millis() as i64,
        encoding,
        escaping,
        telemetry: state.telemetry.clone(),
    };
    match every {
        Some(every) => federate::every_sample::respond(job, every).await,
        None => federate::respond(job).await,
    }
}

/// Answers with `answer` for the request's form: 400 when the form cannot be read, 503 until
/// the node is ready (its log replayed), as Prometheus answers its APIs.
async fn with_form<F, Fut>(
    state: &NodeState,
    req: Request<Incoming>,
    answer: F,
) -> Response<ResponseBody>
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: std::future::Future<Output = Response<ResponseBody>>,
{
    if !state.is_ready() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    match form_values(req).await {
        Ok(form) => answer(form).await,
        Err(reason) => text(
            StatusCode::BAD_REQUEST,
            &format!("error parsing form values: {reason}\n"),
        ),
    }
}

/// A urlencoded POST body's pairs, then the query string's, as Go's `ParseForm` merges them
/// (so for a single-valued parameter, the body wins).
pub(super) async fn form_values(req: Request<Incoming>) -> Result<Vec<(String, String)>, String> {
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let mut pairs = Vec::new();
    if req.method() == Method::POST && is_form {
        let limited = http_body_util::Limited::new(req.into_body(), MAX_FORM_BYTES);
        let body = limited
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        pairs.extend(form_urlencoded::parse(&body).into_owned());
    }
    pairs.extend(query);
    Ok(pairs)
}

fn ready(state: &NodeState) -> Response<ResponseBody> {
    if state.is_ready() {
        text(StatusCode::OK, "wasmfed is Ready.\n")
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    }
}

fn metrics(state: &NodeState) -> Response<ResponseBody> {
    let tenants = state.tenants();
    let sum = |of: fn(&Head) -> usize| tenants.iter().map(|t| of(&t.head)).sum::<usize>() as i64;
    let telemetry = &state.telemetry;
    telemetry.head_series.set(sum(Head::num_series));
    telemetry
        .head_chunk_page_bytes
        .set(sum(Head::chunk_page_bytes));
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
        .body(full(state.telemetry.encode()))
        .expect("static headers are valid")
}

fn quit(state: &NodeState) -> Response<ResponseBody> {
    if !state.enable_lifecycle {
        return text(StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n");
    }
    state.request_quit();
    text(StatusCode::OK, "Requesting termination... Goodbye!\n")
}

/// Reloads the configuration as Prometheus' `/-/reload` does: 200 on success, 500 with the
/// reason (the old configuration keeps running) on failure.
async fn reload(state: &NodeState) -> Response<ResponseBody> {
    if !state.enable_lifecycle {
        return text(StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n");
    }
    let Some(reload) = &state.reload else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed to reload config: this node has no configuration file\n",
        );
    };
    let (answer, outcome) = tokio::sync::oneshot::channel();
    if reload.send(answer).await.is_err() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    match outcome.await {
        Ok(Ok(())) => text(StatusCode::OK, ""),
        Ok(Err(reason)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("failed to reload config: {reason}\n"),
        ),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
    }
}

/// A plain-text answer.
/// Whether the client is a browser asking for a page (`Accept: text/html`).
fn wants_html(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

pub fn text(status: StatusCode, body: &str) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(full(body.to_owned()))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::within_prefix;

    #[test]
    fn route_prefix_strips_or_refuses() {
        for (prefix, path, want) in [
            ("", "/federate", Some("/federate")),
            ("/prom", "/prom/federate", Some("/federate")),
            ("/prom", "/prom", Some("/")),
            ("/prom", "/prom/", Some("/")),
            ("/prom", "/prometheus/federate", None),
            ("/prom", "/federate", None),
        ] {
            assert_eq!(within_prefix(prefix, path), want, "{prefix} {path}");
        }
    }
}
