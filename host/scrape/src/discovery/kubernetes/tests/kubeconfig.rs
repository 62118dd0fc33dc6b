//! `kubeconfig_file` against a TLS server on loopback that requires a client certificate:
//! the current context's server, its CA file (relative to the kubeconfig), the user's
//! client certificate (inline data) and key (file) and token file must all be used; a user
//! without the certificate is refused by the server, and an exec plugin by wasmfed.

use std::path::Path;

use base64::Engine;

use super::expected::SERVICE_MULTIPORT;
use super::{by_source, by_source_expected, no_env, sd_config, serve_tls};
use crate::discovery::kubernetes::{discover, Api};
use crate::fetch::Fetcher;
use crate::testing::TestPki;

#[tokio::test]
async fn kubeconfig_current_context_is_used_with_its_certificates_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "k8s");
    let (port, seen) = serve_tls("services-multiport.json", Some(&pki), true).await;
    let kube = dir.path().join("kube");
    std::fs::create_dir(&kube).unwrap();
    std::fs::copy(&pki.ca, kube.join("ca.pem")).unwrap();
    std::fs::write(kube.join("token"), "kube-token").unwrap();
    let cert_data =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&pki.client_cert).unwrap());
    let path = kube.join("config");
    let write = |user: &str| {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n\
             - name: other\n  cluster: {{server: 'https://127.0.0.1:1'}}\n\
             - name: test\n  cluster:\n    server: https://localhost:{port}\n    certificate-authority: ca.pem\n\
             contexts:\n- name: other\n  context: {{cluster: other, user: u}}\n\
             - name: test\n  context: {{cluster: test, user: u, namespace: ignored}}\n\
             current-context: test\nusers:\n- name: u\n  user: {user}\n"
        );
        std::fs::write(&path, text).unwrap();
    };
    let config = sd_config(&format!(
        "{{role: service, kubeconfig_file: '{}', namespaces: {{names: [default]}}}}",
        path.display()
    ));
    let fetcher = Fetcher::default();

    write(&format!(
        "{{client-certificate-data: {cert_data}, client-key: '{}', tokenFile: token}}",
        pki.client_key.display()
    ));
    let api = Api::new(&config, &no_env, Path::new("/nonexistent")).unwrap();
    assert_eq!(api.base, format!("https://localhost:{port}"));
    let groups = discover(&config, &api, &fetcher).await.unwrap();
    assert_eq!(by_source(&groups), by_source_expected(SERVICE_MULTIPORT));
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0].contains("\r\nAuthorization: Bearer kube-token\r\n"),
        "{}",
        heads[0]
    );

    write("{tokenFile: token}");
    let api = Api::new(&config, &no_env, Path::new("/nonexistent")).unwrap();
    let err = discover(&config, &api, &fetcher).await.unwrap_err();
    assert!(
        err.starts_with(&format!(
            "listing https://localhost:{port}/api/v1/namespaces/default/services: "
        )),
        "{err}"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "no request without the certificate"
    );

    write("{exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}}");
    let err = Api::new(&config, &no_env, Path::new("/nonexistent"))
        .err()
        .unwrap();
    assert_eq!(
        err,
        format!(
            "kubeconfig {}: user \"u\"'s exec credential plugin is not supported by wasmfed; \
             give the user a token, tokenFile, client certificate or username and password",
            path.display()
        )
    );
}
