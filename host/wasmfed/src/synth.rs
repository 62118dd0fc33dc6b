//! A synthetic exporter: real HTTP targets with changing values, for the demo and benchmarks.
//!
//! The demo needs something believable to federate without installing an exporter; the
//! benchmark needs many identical, cheap targets that both wasmfed and Prometheus can scrape.
//! Each target is its own listening port, so targets differ by `instance` exactly as real ones.

use std::convert::Infallible;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::{header, Response};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use wasmfed_web::body::full;

/// What each target exposes.
#[derive(Clone, Copy, Debug)]
pub enum Profile {
    /// A small web service: request counters, a latency histogram, gauges.
    Demo,
    /// `series` gauges `synth_value{series="i"}`, each changing on every scrape.
    Bench { series: usize },
}

/// Starts one target per listener, over TLS when `tls` is given (the benchmark of https
/// scraping); returns the bound addresses.
pub async fn serve(
    listeners: Vec<TcpListener>,
    profile: Profile,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> std::io::Result<Vec<SocketAddr>> {
    let mut addrs = Vec::new();
    for (index, listener) in listeners.into_iter().enumerate() {
        addrs.push(listener.local_addr()?);
        let scrapes = Arc::new(AtomicU64::new(0));
        let tls = tls.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let scrapes = scrapes.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |_req| {
                        let n = scrapes.fetch_add(1, Ordering::Relaxed);
                        let body = exposition(profile, index, n);
                        async move {
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .header(
                                        header::CONTENT_TYPE,
                                        "text/plain; version=0.0.4; charset=utf-8",
                                    )
                                    .body(full(body))
                                    .expect("static headers are valid"),
                            )
                        }
                    });
                    let server = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = server.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Some(tls) => {
                            let Ok(stream) =
                                tokio_rustls::TlsAcceptor::from(tls).accept(stream).await
                            else {
                                return;
                            };
                            let _ = server.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
        });
    }
    Ok(addrs)
}

/// The exposition of target `index` at its `n`-th scrape.
pub fn exposition(profile: Profile, index: usize, n: u64) -> String {
    let mut out = String::new();
    match profile {
        Profile::Demo => demo(&mut out, index, n),
        Profile::Bench { series } => {
            out.push_str("# HELP synth_value A synthetic gauge that changes on every scrape.\n");
            out.push_str("# TYPE synth_value gauge\n");
            for i in 0..series {
                let v = ((n as usize * 31 + i * 17 + index) % 1000) as f64 / 8.0;
                let _ = writeln!(
                    out,
                    "synth_value{{series=\"{i}\",shard=\"s{}\"}} {v}",
                    i % 16
                );
            }
        }
    }
    out
}

fn demo(out: &mut String, index: usize, n: u64) {
    out.push_str("# HELP demo_http_requests_total Requests served, by path and status code.\n");
    out.push_str("# TYPE demo_http_requests_total counter\n");
    for (p, path) in ["/", "/api", "/login"].iter().enumerate() {
        for (c, code) in ["200", "404", "500"].iter().enumerate() {
            let rate = (3 - c as u64) * (p as u64 + 1) * (index as u64 + 1);
            let _ = writeln!(
                out,
                "demo_http_requests_total{{code=\"{code}\",path=\"{path}\"}} {}",
                n * rate
            );
        }
    }
    out.push_str("# HELP demo_request_duration_seconds Request latency.\n");
    out.push_str("# TYPE demo_request_duration_seconds histogram\n");
    let mut cumulative = 0;
    for (i, le) in ["0.01", "0.1", "1", "+Inf"].iter().enumerate() {
        cumulative += n * (4 - i as u64);
        let _ = writeln!(
            out,
            "demo_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
        );
    }
    let _ = writeln!(out, "demo_request_duration_seconds_sum {}", n as f64 * 0.75);
    let _ = writeln!(out, "demo_request_duration_seconds_count {cumulative}");
    out.push_str("# HELP demo_temperature_celsius Room temperature.\n");
    out.push_str("# TYPE demo_temperature_celsius gauge\n");
    for (r, room) in ["kitchen", "server \"room\""].iter().enumerate() {
        let t = 20.0 + ((n as f64 / 10.0 + r as f64).sin() * 3.0 * 100.0).round() / 100.0;
        let room = room.replace('"', "\\\"");
        let _ = writeln!(out, "demo_temperature_celsius{{room=\"{room}\"}} {t}");
    }
    out.push_str("# HELP demo_build_info Build of the demo service.\n");
    out.push_str("# TYPE demo_build_info gauge\n");
    let _ = writeln!(out, "demo_build_info{{version=\"1.{index}.0\"}} 1");
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_scrape::parse::{Entry, Format, Parser};

    #[test]
    fn expositions_parse() {
        for profile in [Profile::Demo, Profile::Bench { series: 50 }] {
            let text = exposition(profile, 3, 7);
            let samples = Parser::new(&text, Format::PrometheusText)
                .filter(|e| matches!(e, Ok(Entry::Sample(_))))
                .count();
            assert!(Parser::new(&text, Format::PrometheusText).all(|e| e.is_ok()));
            let want = match profile {
                Profile::Demo => 9 + 6 + 2 + 1,
                Profile::Bench { series } => series,
            };
            assert_eq!(samples, want);
        }
    }
}
