//! Test exporters: in-process HTTP targets that answer as a test says, and Debian's
//! node_exporter as a real one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;

use super::{free_port, get, wait_for};

/// What a test exporter answers to one scrape.
pub enum Reply {
    Text(String),
    /// A body with this Content-Type header, or none.
    Typed(Option<&'static str>, String),
    Status(u16),
    /// Never answers.
    Hang,
    /// A body of this many bytes of valid exposition, streamed.
    Huge(usize),
}

/// An in-test HTTP exporter on its own runtime thread; `reply` decides each answer by path.
pub struct Exporter {
    pub addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl Exporter {
    pub fn start(reply: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Exporter {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let reply = Arc::new(reply);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let reply = reply.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let answer = reply(req.uri().path());
                            async move { respond(answer).await }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Exporter {
            addr,
            _runtime: runtime,
        }
    }
}

type ExporterBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

async fn respond(reply: Reply) -> Result<hyper::Response<ExporterBody>, std::io::Error> {
    let full = |s: String| {
        Full::new(Bytes::from(s))
            .map_err(|never| match never {})
            .boxed()
    };
    Ok(match reply {
        Reply::Text(text) => hyper::Response::builder()
            .header("Content-Type", "text/plain; version=0.0.4")
            .body(full(text))
            .unwrap(),
        Reply::Typed(content_type, text) => {
            let mut response = hyper::Response::builder();
            if let Some(content_type) = content_type {
                response = response.header("Content-Type", content_type);
            }
            response.body(full(text)).unwrap()
        }
        Reply::Status(code) => hyper::Response::builder()
            .status(code)
            .body(full("failure\n".into()))
            .unwrap(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            unreachable!("the scraper gives up first")
        }
        Reply::Huge(bytes) => {
            let line = Bytes::from_static(
                b"huge_metric_with_a_long_name{label=\"value value value value\"} 1\n",
            );
            let chunk: Bytes = line
                .iter()
                .copied()
                .cycle()
                .take(line.len() * 1024)
                .collect::<Vec<u8>>()
                .into();
            let count = bytes / chunk.len() + 1;
            let stream = futures_stream(chunk, count);
            hyper::Response::builder()
                .header("Content-Type", "text/plain; version=0.0.4")
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .unwrap()
        }
    })
}

fn futures_stream(
    chunk: Bytes,
    count: usize,
) -> impl futures_core::Stream<Item = Result<Frame<Bytes>, std::io::Error>> {
    struct Repeat(Bytes, usize);
    impl futures_core::Stream for Repeat {
        type Item = Result<Frame<Bytes>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            if self.1 == 0 {
                return std::task::Poll::Ready(None);
            }
            self.1 -= 1;
            std::task::Poll::Ready(Some(Ok(Frame::data(self.0.clone()))))
        }
    }
    Repeat(chunk, count)
}

/// Debian's `prometheus-node-exporter` (installed by `./test.sh`) on loopback with only its
/// meminfo collector, which is all the seed deployment's rules read and keeps it light; killed
/// on drop.
pub struct NodeExporter {
    pub addr: SocketAddr,
    child: Child,
}

impl NodeExporter {
    pub fn start() -> NodeExporter {
        let exporter = Self::launch(&[]);
        wait_for("node_exporter to serve", Duration::from_secs(20), || {
            exporter
                .metric("node_memory_MemTotal_bytes")
                .map(|_| ())
                .ok_or_else(|| "no node_memory_MemTotal_bytes yet".to_string())
        });
        exporter
    }

    /// With `--web.config.file` (TLS, basic auth, client certificates as the file says);
    /// ready once it accepts connections.
    pub fn with_web_config(web_config: &Path) -> NodeExporter {
        let exporter = Self::launch(&[format!("--web.config.file={}", web_config.display())]);
        wait_for("node_exporter to listen", Duration::from_secs(20), || {
            std::net::TcpStream::connect(exporter.addr)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        exporter
    }

    fn launch(extra_args: &[String]) -> NodeExporter {
        let binary = std::env::var_os("NODE_EXPORTER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/usr/bin/prometheus-node-exporter".into());
        assert!(
            binary.exists(),
            "{} not found: ./test.sh installs Debian's prometheus-node-exporter",
            binary.display()
        );
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new(binary)
            .arg(format!("--web.listen-address={addr}"))
            .arg("--collector.disable-defaults")
            .arg("--collector.meminfo")
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus-node-exporter");
        NodeExporter { addr, child }
    }

    /// The value of an unlabeled series on its `/metrics`.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let text = get(self.addr, "/metrics").ok()?.text();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
