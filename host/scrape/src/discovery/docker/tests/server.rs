//! A stand-in Docker Engine on loopback (a Unix socket in a temporary directory, or TCP on
//! 127.0.0.1): it serves a `testdata/<dir>` of recorded Docker Engine answers named as
//! Prometheus' `discovery/moby/mock_test.go` names them, with the recorded headers
//! (`headers.yml`, whose `Api-Version` is the API prefix it answers under), and remembers
//! the request heads it read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

use super::super::super::labels::sanitize_label_name;
use crate::fetch::tests::read_head;

/// An answer: status line, extra headers, body.
pub(super) type Answer = (&'static str, Vec<(String, String)>, Vec<u8>);

/// What the engine answers to a request line (`HEAD /_ping`, `GET /v1.40/networks`).
pub(super) type Routes = Arc<dyn Fn(&str, &str) -> Answer + Send + Sync>;

/// The request heads the engine read, in order.
#[derive(Clone, Default)]
pub(super) struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    /// Each request's line (`GET /path HTTP/1.1` without the version).
    pub(super) fn lines(&self) -> Vec<String> {
        (self.0.lock().iter())
            .map(|head| {
                let line = head.lines().next().unwrap_or_default();
                line.trim_end_matches(" HTTP/1.1").to_owned()
            })
            .collect()
    }

    /// Each request's `Host` header.
    pub(super) fn hosts(&self) -> Vec<String> {
        (self.0.lock().iter())
            .map(|head| {
                let host = head.lines().find_map(|l| l.strip_prefix("Host: "));
                host.unwrap_or_default().to_owned()
            })
            .collect()
    }
}

/// Where a test engine listens.
pub(super) enum Listen {
    /// A socket file in this directory.
    Unix(PathBuf),
    Tcp,
}

/// Starts an engine answering with `routes`; the `host` to configure for it.
pub(super) async fn serve(listen: Listen, routes: Routes) -> (String, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let host = match listen {
        Listen::Unix(dir) => {
            let path = dir.join("docker.sock");
            let listener = UnixListener::bind(&path).unwrap();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(answer(stream, routes.clone(), log.clone()));
                }
            });
            format!("unix://{}", path.display())
        }
        Listen::Tcp => {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(answer(stream, routes.clone(), log.clone()));
                }
            });
            format!("tcp://{address}")
        }
    };
    (host, seen)
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, routes: Routes, seen: Seen) {
    loop {
        let Some(head) = read_head(&mut stream).await else {
            return;
        };
        let mut words = head.split(' ');
        let (method, target) = (words.next().unwrap_or_default(), words.next());
        let (status, headers, body) = routes(method, target.unwrap_or_default());
        seen.0.lock().push(head.clone());
        let mut reply = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
        for (name, value) in headers {
            reply.push_str(&format!("{name}: {value}\r\n"));
        }
        reply.push_str("\r\n");
        let mut reply = reply.into_bytes();
        if method != "HEAD" {
            reply.extend_from_slice(&body);
        }
        if stream.write_all(&reply).await.is_err() {
            return;
        }
    }
}

/// Routes serving `testdata/<dir>` as Prometheus' mock does: `/_ping` from `_ping.json`,
/// `/v<Api-Version>/<path>` from `<path>.json`, a last path segment with a query sanitized
/// into the file name (`containers/json?limit=0` → `containers/json_limit_0.json`), JSON
/// files as `application/json`; anything else is a 500.
pub(super) fn recorded(dir: &str) -> Routes {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/discovery/docker/testdata")
        .join(dir);
    let headers: HashMap<String, String> =
        serde_yaml::from_str(&std::fs::read_to_string(root.join("headers.yml")).unwrap()).unwrap();
    let prefix = format!("/v{}/", headers["Api-Version"]);
    let headers: Vec<(String, String)> = headers.into_iter().collect();
    Arc::new(move |_, target| {
        let file = match target.strip_prefix(&prefix) {
            _ if target == "/_ping" => "_ping".to_owned(),
            Some(path) => match path.rsplit_once('/') {
                Some((dir, last)) => format!("{dir}/{}", sanitize_label_name(last)),
                None => path.split('?').next().unwrap_or_default().to_owned(),
            },
            None => return ("500 Internal Server Error", headers.clone(), Vec::new()),
        };
        match std::fs::read(root.join(format!("{file}.json"))) {
            Ok(body) => {
                let mut headers = headers.clone();
                headers.push(("Content-Type".into(), "application/json".into()));
                ("200 OK", headers, body)
            }
            Err(_) => ("500 Internal Server Error", headers.clone(), Vec::new()),
        }
    })
}
