//! Scraping through real proxies from Debian, as `proxy_url` names them: tinyproxy (an http
//! forward proxy with basic auth: plain targets in absolute form, https targets through
//! `CONNECT`), microsocks (`socks5://`, with and without username/password), and stunnel
//! terminating TLS in front of tinyproxy (`https://`, the proxy's certificate checked with the
//! job's `tls_config`, an https target's TLS inside the proxy's). Each test asserts from the
//! proxy's own log that the scrapes went through it; wrong proxy credentials leave the target
//! down with the proxy's answer, worded as in Prometheus.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use wasmfed_scrape::testing::TestPki;

use crate::harness::*;

/// A proxy server process on loopback with its log in a temporary directory; killed on drop.
struct ProxyServer {
    port: u16,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl ProxyServer {
    /// Starts `binary` (from Debian's `package`) with the arguments `args` makes of its port,
    /// directory and log file, its output going to the log, and waits until it listens.
    fn start(
        binary: &str,
        package: &str,
        args: impl FnOnce(u16, &Path, &Path) -> Vec<String>,
    ) -> ProxyServer {
        assert!(
            Path::new(binary).exists(),
            "{binary} not found: ./test.sh installs Debian's {package}"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("proxy.log");
        let child = Command::new(binary)
            .args(args(port, dir.path(), &log))
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
        wait_for(
            &format!("{binary} to listen"),
            Duration::from_secs(10),
            || {
                std::net::TcpStream::connect(("127.0.0.1", port))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        );
        ProxyServer {
            port,
            log,
            child,
            _dir: dir,
        }
    }

    /// tinyproxy allowing loopback clients with `scraper:pw`.
    fn tinyproxy() -> ProxyServer {
        ProxyServer::start("/usr/bin/tinyproxy", "tinyproxy-bin", |port, dir, _| {
            let config = dir.join("tinyproxy.conf");
            std::fs::write(
                &config,
                format!("Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nBasicAuth scraper pw\nLogLevel Connect\n"),
            )
            .unwrap();
            vec!["-d".into(), "-c".into(), config.display().to_string()]
        })
    }

    /// microsocks, a SOCKS5 server, asking for `user:password` when given.
    fn microsocks(credentials: Option<(&str, &str)>) -> ProxyServer {
        ProxyServer::start("/usr/bin/microsocks", "microsocks", |port, _, _| {
            let mut args = vec![
                "-i".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ];
            if let Some((user, password)) = credentials {
                args.extend(["-u".into(), user.into(), "-P".into(), password.into()]);
            }
            args
        })
    }

    /// stunnel terminating TLS with `pki`'s server certificate and passing the bytes on to
    /// `upstream` on loopback: an https proxy when `upstream` is an http one.
    fn stunnel(pki: &TestPki, upstream: u16) -> ProxyServer {
        ProxyServer::start("/usr/bin/stunnel4", "stunnel4", |port, dir, log| {
            let config = dir.join("stunnel.conf");
            std::fs::write(
                &config,
                format!(
                    "foreground = yes\npid =\noutput = {}\ndebug = info\n[https-proxy]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{upstream}\ncert = {}\nkey = {}\n",
                    log.display(),
                    pki.server_cert.display(),
                    pki.server_key.display()
                ),
            )
            .unwrap();
            vec![config.display().to_string()]
        })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A node_exporter serving plain http and one serving https with `pki`'s server certificate.
fn exporters(pki: &TestPki, dir: &Path) -> (NodeExporter, NodeExporter) {
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            pki.server_cert.display(),
            pki.server_key.display()
        ),
    )
    .unwrap();
    (NodeExporter::start(), NodeExporter::with_web_config(&web))
}

/// A job's `scheme: https` trusting `pki`'s CA (for the target and an https proxy alike).
fn https_job(pki: &TestPki) -> String {
    format!(
        "    scheme: https\n    tls_config:\n      ca_file: {}\n",
        pki.ca.display()
    )
}

#[test]
fn scrapes_through_a_forward_proxy_plain_and_tunnelled() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "proxied");
    let (plain, tls) = exporters(&pki, dir.path());
    let proxy = ProxyServer::tinyproxy();
    let via = |user: &str| format!("    proxy_url: http://{user}@127.0.0.1:{}\n", proxy.port);
    let https = https_job(&pki);
    let config = format!(
        "{}scrape_configs:\n{}{}{}{}",
        global_section(""),
        static_job("plain", &[plain.addr], &via("scraper:pw")),
        static_job(
            "tunnelled",
            &[tls.addr],
            &format!("{https}{}", via("scraper:pw"))
        ),
        static_job("plain_wrong_password", &[plain.addr], &via("scraper:guess")),
        static_job(
            "tunnelled_wrong_password",
            &[tls.addr],
            &format!("{https}{}", via("scraper:guess"))
        ),
    );
    let node = Wasmfed::start(&config);
    wait_for_health(
        &node,
        &[
            ("plain", ""),
            ("tunnelled", ""),
            (
                "plain_wrong_password",
                "server returned HTTP status 401 Unauthorized",
            ),
            ("tunnelled_wrong_password", "Unauthorized"),
        ],
    );
    // The scrapes did go through the proxy.
    let log = proxy.log_text();
    assert!(
        log.contains(&format!("GET http://{}/metrics", plain.addr)),
        "{log}"
    );
    assert!(log.contains(&format!("CONNECT {}", tls.addr)), "{log}");
}

#[test]
fn scrapes_through_socks5_proxies_with_and_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "socks");
    let (plain, tls) = exporters(&pki, dir.path());
    let open = ProxyServer::microsocks(None);
    let guarded = ProxyServer::microsocks(Some(("scraper", "pw")));
    let via = |proxy: &ProxyServer, user: &str| {
        format!("    proxy_url: socks5://{user}127.0.0.1:{}\n", proxy.port)
    };
    let https = https_job(&pki);
    let config = format!(
        "{}scrape_configs:\n{}{}{}{}{}",
        global_section(""),
        static_job("open_plain", &[plain.addr], &via(&open, "")),
        static_job(
            "guarded_tls",
            &[tls.addr],
            &format!("{https}{}", via(&guarded, "scraper:pw@"))
        ),
        static_job(
            "guarded_plain",
            &[plain.addr],
            &via(&guarded, "scraper:pw@")
        ),
        static_job(
            "wrong_password",
            &[plain.addr],
            &via(&guarded, "scraper:guess@")
        ),
        static_job("no_credentials", &[plain.addr], &via(&guarded, "")),
    );
    let node = Wasmfed::start(&config);
    let socks_error = |why: &str| {
        format!(
            "socks connect tcp 127.0.0.1:{}->{}: {why}",
            guarded.port, plain.addr
        )
    };
    let wrong_password = socks_error("username/password authentication failed");
    let no_credentials = socks_error("no acceptable authentication methods");
    wait_for_health(
        &node,
        &[
            ("open_plain", ""),
            ("guarded_tls", ""),
            ("guarded_plain", ""),
            ("wrong_password", &wrong_password),
            ("no_credentials", &no_credentials),
        ],
    );
    // microsocks logs each tunnel it opened.
    let connected = |proxy: &ProxyServer, target: std::net::SocketAddr| {
        let log = proxy.log_text();
        assert!(log.contains(&format!("connected to {target}")), "{log}");
    };
    connected(&open, plain.addr);
    connected(&guarded, plain.addr);
    connected(&guarded, tls.addr);
}

#[test]
fn scrapes_through_an_https_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "tlsproxy");
    let (plain, tls) = exporters(&pki, dir.path());
    let forward = ProxyServer::tinyproxy();
    let proxy = ProxyServer::stunnel(&pki, forward.port);
    let via = |user: &str| format!("    proxy_url: https://{user}@localhost:{}\n", proxy.port);
    let trust = format!("    tls_config:\n      ca_file: {}\n", pki.ca.display());
    let https = https_job(&pki);
    let config = format!(
        "{}scrape_configs:\n{}{}{}{}",
        global_section(""),
        static_job(
            "plain_target",
            &[plain.addr],
            &format!("{trust}{}", via("scraper:pw"))
        ),
        static_job(
            "tls_target",
            &[tls.addr],
            &format!("{https}{}", via("scraper:pw"))
        ),
        static_job(
            "wrong_password",
            &[plain.addr],
            &format!("{trust}{}", via("scraper:guess"))
        ),
        static_job("untrusted_proxy", &[plain.addr], &via("scraper:pw")),
    );
    let node = Wasmfed::start(&config);
    wait_for_health(
        &node,
        &[
            ("plain_target", ""),
            ("tls_target", ""),
            (
                "wrong_password",
                "server returned HTTP status 401 Unauthorized",
            ),
            (
                "untrusted_proxy",
                "proxyconnect tcp: tls: failed to verify certificate: x509: certificate signed by unknown authority",
            ),
        ],
    );
    // Through stunnel's TLS to tinyproxy: a plain target in absolute form, a TLS one tunnelled.
    let log = forward.log_text();
    assert!(
        log.contains(&format!("GET http://{}/metrics", plain.addr)),
        "{log}"
    );
    assert!(log.contains(&format!("CONNECT {}", tls.addr)), "{log}");
    let log = proxy.log_text();
    assert!(log.contains("accepted connection from 127.0.0.1"), "{log}");
}
