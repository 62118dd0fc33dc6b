//! The plugin admin API: list the live plugins, hot-swap a component, run a candidate in shadow
//! mode and promote or drop it.
//!
//! ```text
//! GET    /api/v1/plugins                          every live plugin, what runs it, its sha256
//! PUT    /api/v1/plugins/{name}                   body: component bytes; swap every plugin so named
//! PUT    /api/v1/plugins/{name}/shadow            body: component bytes; start a shadow candidate
//! GET    /api/v1/plugins/{name}/shadow            what the candidates saw: batches, differences
//! GET    /api/v1/plugins/{name}/fixture?job=J     its current input and answers as a
//!        [&stage=target|series][&target=T]        `wasmfed plugin test` fixture (plugin_fixture)
//! POST   /api/v1/plugins/{name}/shadow/promote    make the candidates live
//! DELETE /api/v1/plugins/{name}/shadow            drop the candidates
//! ```
//!
//! It needs the admin bearer token (`admin:` in the configuration): 401 without a valid one,
//! 403 when none is configured. Even the listing does, since it names every tenant's plugins. A
//! plugin name may be used by several jobs and rule groups; a swap replaces all of them or
//! none. All of it runs on a blocking thread, before anything is installed; the answer's
//! `seconds` is that whole step: compiling (only for bytes not compiled before: components are
//! cached by sha256), starting and `init`-ing the new instances, installing them.

use std::sync::Arc;
use std::time::Instant;

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};

use wasmfed_plugin::{FailureKind, Plugin, PluginError};

use super::auth::{tokens_match, TENANT_HEADER};
use super::body::{full, ResponseBody};
use super::plugin_fixture;
use super::targets::label_map;
use wasmfed_config::DEFAULT_TENANT;
use wasmfed_node::NodeState;

/// The largest component an upload may carry.
const MAX_COMPONENT_BYTES: usize = 64 << 20;

pub async fn handle(state: &NodeState, req: Request<Incoming>) -> Response<ResponseBody> {
    let path = req.uri().path().to_owned();
    let rest = path.trim_start_matches("/api/v1/plugins");
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let method = req.method().clone();
    if let Some(denied) = denied(state, &req) {
        return denied;
    }
    if parts.is_empty() && method == Method::GET {
        return list(state);
    }
    let name = match parts.first() {
        Some(name) => (*name).to_string(),
        None => {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "bad_data",
                "use GET to list plugins",
            )
        }
    };
    // The admin token covers every tenant; `X-Scope-OrgID` says whose plugins (default: the
    // node's own).
    let tenant = req
        .headers()
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(DEFAULT_TENANT)
        .to_string();
    let plugins = state
        .telemetry
        .plugins
        .find(|p| p.tenant == tenant && p.plugin.name() == name);
    if plugins.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("tenant {tenant:?} has no live plugin named {name:?}"),
        );
    }
    match (&method, &parts[1..]) {
        (&Method::PUT, []) => upload(state, req, plugins, Upload::Swap).await,
        (&Method::PUT, ["shadow"]) => upload(state, req, plugins, Upload::Shadow).await,
        (&Method::GET, ["shadow"]) => shadow_report(&name, &plugins),
        (&Method::GET, ["fixture"]) => match state.tenant(&tenant) {
            Some(tenant) => plugin_fixture::handle(&tenant, &name, req.uri().query()).await,
            None => error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("no tenant {tenant:?}"),
            ),
        },
        (&Method::POST, ["shadow", "promote"]) => {
            let promoted = plugins.iter().filter(|p| p.promote_shadow()).count();
            finish_shadow(&name, promoted, "promoted")
        }
        (&Method::DELETE, ["shadow"]) => {
            let dropped = plugins.iter().filter(|p| p.drop_shadow()).count();
            finish_shadow(&name, dropped, "dropped")
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no such endpoint: {method} {path}"),
        ),
    }
}

fn list(state: &NodeState) -> Response<ResponseBody> {
    let plugins: Vec<Value> = state
        .telemetry
        .plugins
        .live()
        .iter()
        .map(|p| {
            let plugin = &p.plugin;
            json!({
                "tenant": p.tenant,
                "name": plugin.name(),
                p.owner_label: p.owner,
                "stage": p.stage,
                "world": plugin.world().to_string(),
                "sha256": plugin.sha256(),
                "generation": plugin.generation(),
                "file": plugin.file().map(|f| f.display().to_string()),
                "swaps": plugin.stats().swaps(),
                "shadow": plugin.shadow_report().map(|r| r.sha256),
                "calls": plugin.stats().calls(),
                "callSeconds": plugin.stats().call_time().as_secs_f64(),
                "fuel": plugin.stats().fuel_used(),
                "failures": failures(plugin),
            })
        })
        .collect();
    success(json!({ "plugins": plugins }))
}

/// Failed calls by kind, the kinds that happened only.
fn failures(plugin: &Plugin) -> Value {
    let by_kind: serde_json::Map<String, Value> = FailureKind::ALL
        .into_iter()
        .map(|kind| (kind.as_str(), plugin.stats().failures(kind)))
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| (kind.to_owned(), json!(n)))
        .collect();
    Value::Object(by_kind)
}

enum Upload {
    Swap,
    Shadow,
}

async fn upload(
    state: &NodeState,
    req: Request<Incoming>,
    plugins: Vec<Arc<Plugin>>,
    what: Upload,
) -> Response<ResponseBody> {
    let bytes = match http_body_util::Limited::new(req.into_body(), MAX_COMPONENT_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_data",
                &format!("reading the component: {e}"),
            )
        }
    };
    let runtime = state.runtime.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let result = match what {
            Upload::Swap => runtime.swap(&plugins, &bytes),
            Upload::Shadow => runtime
                .shadow(&plugins, &bytes)
                .map(|()| wasmfed_plugin::sha256_hex(&bytes)),
        };
        (result, started.elapsed(), plugins.len())
    })
    .await;
    match outcome {
        Ok((Ok(sha256), took, count)) => success(json!({
            "sha256": sha256,
            "plugins": count,
            "seconds": took.as_secs_f64(),
        })),
        Ok((Err(e), _, _)) => {
            tracing::warn!("plugin upload refused: {e}");
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                refusal_kind(&e),
                &e.to_string(),
            )
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            &e.to_string(),
        ),
    }
}

/// How a refused component failed: `compile`, `wrong_world` or `init`.
fn refusal_kind(e: &PluginError) -> &'static str {
    match e {
        PluginError::Compile(_) => "compile",
        PluginError::WrongWorld(_) => "wrong_world",
        PluginError::Init(_) => "init",
        PluginError::Pinned(_) => "pinned",
        PluginError::Engine(_) | PluginError::Call { .. } => "internal",
    }
}

fn shadow_report(name: &str, plugins: &[Arc<Plugin>]) -> Response<ResponseBody> {
    let reports: Vec<Value> = plugins
        .iter()
        .filter_map(|p| p.shadow_report())
        .map(|r| {
            let examples: Vec<Value> = r
                .examples
                .iter()
                .map(|d| {
                    json!({
                        "input": label_map(&d.input),
                        "live": d.live.as_ref().map(label_map),
                        "candidate": d.candidate.as_ref().map(label_map),
                    })
                })
                .collect();
            json!({
                "sha256": r.sha256,
                "batches": r.batches,
                "differences": r.differences,
                "failures": r.failures,
                "examples": examples,
            })
        })
        .collect();
    if reports.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("plugin {name:?} has no shadow candidate"),
        );
    }
    success(json!({ "shadows": reports }))
}

fn finish_shadow(name: &str, count: usize, done: &str) -> Response<ResponseBody> {
    if count == 0 {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("plugin {name:?} has no shadow candidate"),
        );
    }
    success(json!({ done: count }))
}

/// Checks the request's bearer token against the admin token, in time independent of where
/// they differ (both are hashed first, so even their lengths are not revealed); the answer
/// to send when it does not match.
fn denied(state: &NodeState, req: &Request<Incoming>) -> Option<Response<ResponseBody>> {
    let Some(expected) = state.admin_token() else {
        return Some(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the admin API is disabled: configure admin.bearer_token or admin.bearer_token_file",
        ));
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    (given.is_empty() || !tokens_match(given, &expected)).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong admin bearer token",
        )
    })
}

fn success(data: Value) -> Response<ResponseBody> {
    respond(StatusCode::OK, json!({"status": "success", "data": data}))
}

pub(super) fn error(status: StatusCode, kind: &str, message: &str) -> Response<ResponseBody> {
    respond(
        status,
        json!({"status": "error", "errorType": kind, "error": message}),
    )
}

fn respond(status: StatusCode, body: Value) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body.to_string()))
        .expect("static headers are valid")
}
