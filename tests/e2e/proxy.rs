//! Scraping through Debian's tinyproxy (a real forward proxy with basic auth): plain targets
//! in absolute form, https targets through `CONNECT`; wrong proxy credentials leave the
//! target down with the proxy's answer, as in Prometheus.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wasmfed_scrape::testing::TestPki;

use crate::harness::*;

/// tinyproxy on loopback allowing loopback clients with `scraper:pw`; killed on drop.
struct Tinyproxy {
    port: u16,
    log: std::path::PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    fn start() -> Tinyproxy {
        let binary = Path::new("/usr/bin/tinyproxy");
        assert!(
            binary.exists(),
            "/usr/bin/tinyproxy not found: ./test.sh installs Debian's tinyproxy-bin"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &config,
            format!("Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nBasicAuth scraper pw\nLogLevel Connect\n"),
        )
        .unwrap();
        let log = dir.path().join("tinyproxy.log");
        let child = Command::new(binary)
            .arg("-d")
            .arg("-c")
            .arg(&config)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting tinyproxy");
        wait_for("tinyproxy to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        Tinyproxy {
            port,
            log,
            child,
            _dir: dir,
        }
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn scrapes_through_a_forward_proxy_plain_and_tunnelled() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "proxied");
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            pki.server_cert.display(),
            pki.server_key.display()
        ),
    )
    .unwrap();
    let plain = NodeExporter::start();
    let tls = NodeExporter::with_web_config(&web);
    let proxy = Tinyproxy::start();
    let via = |user: &str| format!("    proxy_url: http://{user}@127.0.0.1:{}\n", proxy.port);
    let https = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {}\n",
        pki.ca.display()
    );
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
    let log = std::fs::read_to_string(&proxy.log).unwrap();
    assert!(
        log.contains(&format!("GET http://{}/metrics", plain.addr)),
        "{log}"
    );
    assert!(log.contains(&format!("CONNECT {}", tls.addr)), "{log}");
}
