//! `/api/v1/query` and `/api/v1/query_range`: PromQL evaluated by the query plugin (the stock
//! `promql-rules`, the same engine the recording rules run on) and answered in Prometheus'
//! JSON shape, so `curl`, Grafana and `promtool query instant|range` read it as they read
//! Prometheus.
//!
//! Errors carry Prometheus' `errorType` and status: `bad_data` (400) for a bad query or
//! parameter, `execution` (422) for a query that failed, `timeout` (503) for one that ran past
//! `--query.timeout` or the request's `timeout`. A range query is one plugin call, whatever
//! its number of steps: the plugin reads each selector's series once for all of them.
//!
//! A timed-out query is answered at its deadline; the plugin call itself cannot be stopped
//! from outside (plugins are bounded by fuel, not by the clock), so it runs on, on its
//! blocking thread, until it ends or its fuel does, and its answer is dropped.

mod json;
mod params;

use std::sync::Arc;
use std::time::Duration;

use http::{Response, StatusCode};

use wasmfed_model::compat::Compat;
use wasmfed_node::tenant::Tenant;
use wasmfed_plugin::{FailureKind, Plugin, QueryAnswer, QueryError};

use crate::body::ResponseBody;

pub use json::write_data;
pub(crate) use json::{error, json_response, success_data};
pub(crate) use params::value;
pub use params::{parse_time, time_param};

/// `/api/v1/query`.
pub async fn instant(
    tenant: &Arc<Tenant>,
    form: &[(String, String)],
    max_timeout: Duration,
) -> Response<ResponseBody> {
    let parsed = params::instant_time(form)
        .and_then(|at_ms| Ok((at_ms, params::timeout(form, max_timeout)?)));
    let (at_ms, timeout) = match parsed {
        Ok(parsed) => parsed,
        Err(refusal) => return bad_data(&refusal),
    };
    let expr = params::value(form, "query").unwrap_or_default().to_owned();
    let answer = run(tenant, timeout, move |plugin| plugin.query(&expr, at_ms)).await;
    match answered(tenant, answer, QueryErrorWords::Prefixed) {
        Ok(answer) => json::success(&answer, at_ms),
        Err(refusal) => refusal.response(),
    }
}

/// `/api/v1/query_range`.
pub async fn range(
    tenant: &Arc<Tenant>,
    form: &[(String, String)],
    max_timeout: Duration,
) -> Response<ResponseBody> {
    let parsed =
        params::range(form).and_then(|range| Ok((range, params::timeout(form, max_timeout)?)));
    let (range, timeout) = match parsed {
        Ok(parsed) => parsed,
        Err(refusal) => return bad_data(&refusal),
    };
    let expr = params::value(form, "query").unwrap_or_default().to_owned();
    let answer = run(tenant, timeout, move |plugin| {
        plugin.query_range(&expr, range.start_ms, range.end_ms, range.step_ms)
    })
    .await;
    // Prometheus 2.x answers a range query's bad query with the parser's words alone; 3.x
    // names the parameter, as for an instant query.
    let words = match tenant.compat() {
        Compat::V2 => QueryErrorWords::Bare,
        Compat::V3 => QueryErrorWords::Prefixed,
    };
    match answered(tenant, answer, words) {
        Ok(answer) => json::success(&answer, range.end_ms),
        Err(refusal) => refusal.response(),
    }
}

/// `/api/v1/query_exemplars`: wasmfed stores no exemplars, so a valid request is answered as
/// Prometheus answers without exemplar storage: an empty list, or 204 for an expression
/// without selectors. The expression is parsed by the query plugin (`expressions`).
pub async fn exemplars(
    tenant: &Arc<Tenant>,
    form: &[(String, String)],
    max_timeout: Duration,
) -> Response<ResponseBody> {
    let range = params::time_param(form, "start", i64::MIN).and_then(|start| {
        let end = params::time_param(form, "end", i64::MAX)?;
        if end < start {
            return Err("end timestamp must not be before start timestamp".to_owned());
        }
        params::timeout(form, max_timeout)
    });
    let timeout = match range {
        Ok(timeout) => timeout,
        Err(refusal) => return bad_data(&refusal),
    };
    let expr = params::value(form, "query").unwrap_or_default().to_owned();
    let answer = run(tenant, timeout, move |plugin| plugin.selectors(&expr)).await;
    match answered(tenant, answer, QueryErrorWords::Bare) {
        Ok(selectors) if selectors.is_empty() => Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(crate::body::full(""))
            .expect("a bare status is valid"),
        Ok(_) => json_response(
            StatusCode::OK,
            r#"{"status":"success","data":[]}"#.to_owned(),
        ),
        Err(refusal) => refusal.response(),
    }
}

/// How a `bad_data` answer from the plugin is worded.
#[derive(Clone, Copy)]
enum QueryErrorWords {
    /// `invalid parameter "query": <reason>`.
    Prefixed,
    /// `<reason>`.
    Bare,
}

/// What a query call came to: `None` when it ran past its deadline.
type Answered<T = QueryAnswer> = Option<Result<Result<T, QueryError>, tokio::task::JoinError>>;

/// Runs `call` on the tenant's query plugin off the async threads, for at most `timeout`.
async fn run<T, F>(tenant: &Arc<Tenant>, timeout: Duration, call: F) -> Answered<T>
where
    T: Send + 'static,
    F: FnOnce(&Plugin) -> Result<T, QueryError> + Send + 'static,
{
    let tenant = tenant.clone();
    let call = tokio::task::spawn_blocking(move || {
        let plugin = tenant
            .query_plugin()
            .map_err(|e| QueryError::Execution(format!("loading the query plugin: {e:#}")))?;
        call(&plugin)
    });
    tokio::time::timeout(timeout, call).await.ok()
}

/// An error answer: its status, Prometheus' `errorType` and the message.
struct Refusal {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            kind,
            message: message.into(),
        }
    }

    fn timed_out() -> Refusal {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "query timed out in expression evaluation",
        )
    }

    fn execution(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, "execution", message)
    }

    fn response(self) -> Response<ResponseBody> {
        error(self.status, self.kind, &self.message)
    }
}

/// The answer of a query call, or the error Prometheus gives in its place. A plugin that ran
/// out of fuel sized for `--query.timeout` ran out of time (503, Prometheus' words); one out of
/// a tenant's own `plugin_fuel`, memory or output room could not run the query (422); anything
/// else is the plugin's fault (500). The plugin's full message, wasm backtrace included, goes
/// to the log, not to the client.
fn answered<T>(tenant: &Tenant, answer: Answered<T>, words: QueryErrorWords) -> Result<T, Refusal> {
    let Some(answer) = answer else {
        return Err(Refusal::timed_out());
    };
    let failure = match answer {
        Ok(Ok(answer)) => return Ok(answer),
        Ok(Err(QueryError::BadData(m))) => {
            let message = match words {
                QueryErrorWords::Prefixed => params::invalid("query", &m),
                QueryErrorWords::Bare => m,
            };
            return Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_data", message));
        }
        Ok(Err(QueryError::Execution(m))) => return Err(Refusal::execution(m)),
        Ok(Err(QueryError::Plugin(e))) => e,
        Err(e) => {
            return Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                e.to_string(),
            ))
        }
    };
    tracing::warn!(tenant = %tenant.name, error = %failure, "query plugin call failed");
    Err(match failure.kind() {
        Some(FailureKind::Budget) => match tenant.plugin_fuel() {
            None => Refusal::timed_out(),
            Some(fuel) => Refusal::execution(format!(
                "the query needs more work than the tenant's plugin_fuel allows ({fuel} per call)"
            )),
        },
        Some(FailureKind::Memory) => {
            Refusal::execution("the query needs more memory than the query plugin may use")
        }
        Some(FailureKind::OutputTooLarge) => {
            Refusal::execution("the query's result is larger than the query plugin may return")
        }
        _ => Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("query plugin: {}", first_line(&failure.to_string())),
        ),
    })
}

/// A plugin error's first line: wasmtime appends the guest's backtrace on the lines after.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

fn bad_data(message: &str) -> Response<ResponseBody> {
    error(StatusCode::BAD_REQUEST, "bad_data", message)
}
