//! `POST /api/v1/write`: Prometheus' remote-write receiver, on with
//! `--web.enable-remote-write-receiver` (or 2.42's `--enable-feature=remote-write-receiver`).
//!
//! Prometheus agents, vmagent or other wasmfed nodes push samples into the tenant that
//! `X-Scope-OrgID` and the token select, under its limits as scraped samples are. A request is
//! stored whole or not at all: one the decoder refuses (not snappy, not a `WriteRequest`, a bad
//! label set, samples out of order within a series) or with a sample the head refuses (older
//! than the newest stored, a different value at the same timestamp, before the head's start)
//! is answered 400 with the reason and stores nothing, as Prometheus answers it, so the sender
//! does not retry it. New series past the tenant's series limit are left out and counted, as a
//! scrape's are; native histograms and exemplars, which wasmfed does not store, are counted.

use std::sync::Arc;

use http::{Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use wasmfed_node::tenant::Tenant;
use wasmfed_node::NodeState;
use wasmfed_telemetry::RemoteWriteMetrics;

use crate::body::ResponseBody;
use crate::server::text;

/// The most a request body may be, compressed (vmagent sends at most 32 MiB by default).
const MAX_COMPRESSED_BYTES: usize = 64 << 20;
/// The most it may be once decompressed.
const MAX_DECOMPRESSED_BYTES: usize = 256 << 20;

pub async fn receive(
    state: &NodeState,
    tenant: &Arc<Tenant>,
    req: Request<Incoming>,
) -> http::Response<ResponseBody> {
    if !state.remote_write_receiver {
        return text(
            StatusCode::NOT_FOUND,
            "remote write receiver needs to be enabled with --web.enable-remote-write-receiver\n",
        );
    }
    if !state.is_ready() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    let metrics = &state.telemetry.remote_write;
    let refuse = |reason: &str, message: String| {
        metrics
            .refused
            .get_or_create(&RemoteWriteMetrics::label(&tenant.name, reason))
            .inc();
        tracing::warn!(tenant = %tenant.name, %message, "remote write refused");
        text(StatusCode::BAD_REQUEST, &format!("{message}\n"))
    };
    let body = match http_body_util::Limited::new(req.into_body(), MAX_COMPRESSED_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => return refuse("decode", format!("reading the request body: {e}")),
    };
    // Decompressing, decoding and checking up to 256 MiB is CPU work: off the async threads,
    // with the storing.
    let head = tenant.head.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let batch = wasmfed_remote::decode_write_request(&body, MAX_DECOMPRESSED_BYTES)
            .map_err(|e| ("decode", e.to_string()))?;
        let (histograms, exemplars) = (batch.histograms, batch.exemplars);
        let series: Vec<_> = batch
            .series
            .into_iter()
            .map(|s| (s.labels, s.samples))
            .collect();
        let outcome = head
            .append_batch(&series)
            .map_err(|refused| ("sample", refused.to_string()))?;
        Ok((outcome, histograms, exemplars))
    })
    .await;
    let (outcome, histograms, exemplars) = match stored {
        Ok(Ok(stored)) => stored,
        Ok(Err((reason, message))) => return refuse(reason, message),
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("storing the request: {e}\n"),
            )
        }
    };
    metrics
        .samples
        .get_or_create(&wasmfed_telemetry::TenantLabel {
            tenant: tenant.name.clone(),
        })
        .inc_by(outcome.stored as u64);
    for (reason, n) in [
        ("histogram", histograms),
        ("exemplar", exemplars),
        ("series_limit", outcome.over_limit),
    ] {
        if n > 0 {
            metrics
                .not_stored
                .get_or_create(&RemoteWriteMetrics::label(&tenant.name, reason))
                .inc_by(n as u64);
        }
    }
    if let Some((labels, error)) = outcome.raced {
        // Stored but for what a concurrent writer made too old since the check.
        return refuse("sample", format!("{error}: series {labels}"));
    }
    http::Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(crate::body::full(""))
        .expect("a bare status is valid")
}
