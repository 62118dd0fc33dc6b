//! `kubernetes_sd_configs`' `kubeconfig_file`: the API server and the credentials of a
//! kubeconfig's current context, read as client-go's `clientcmd.BuildConfigFromFlags` reads
//! them for Prometheus, turned into wasmfed's own [`HttpClientConfig`].
//!
//! Read when discovery starts, as Prometheus reads it (so a kubeconfig written after the
//! configuration still counts); files it names are resolved against its own directory, as
//! client-go resolves them, and read on every use, so rotated certificates and tokens are
//! picked up. What needs client-go's plugins (`exec`, `auth-provider`) or is not carried
//! over (impersonation, `proxy-url`) is refused with the reason, never silently dropped.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;

use super::http_client::{Auth, HttpClientConfig, Secret};

/// Why a kubeconfig cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("reading kubeconfig {path}: {source}", path = .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing kubeconfig {path}: {source}", path = .path.display())]
    Parse {
        path: PathBuf,
        source: serde_yaml::Error,
    },
    #[error("kubeconfig {path}: invalid configuration: {why}", path = .path.display())]
    Invalid { path: PathBuf, why: String },
    #[error("kubeconfig {path}: {what} is not supported by wasmfed; {instead}", path = .path.display())]
    Unsupported {
        path: PathBuf,
        what: String,
        instead: &'static str,
    },
}

/// The API server of a kubeconfig's current context and how to talk to it.
#[derive(Debug)]
pub struct Kubeconfig {
    pub server: String,
    pub http_client: HttpClientConfig,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawKubeconfig {
    current_context: String,
    clusters: Vec<Named<RawCluster>>,
    users: Vec<Named<RawUser>>,
    contexts: Vec<Named<RawContext>>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: T,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawCluster {
    server: String,
    certificate_authority: String,
    certificate_authority_data: String,
    insecure_skip_tls_verify: bool,
    tls_server_name: String,
    proxy_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawUser {
    client_certificate: String,
    client_certificate_data: String,
    client_key: String,
    client_key_data: String,
    token: String,
    #[serde(rename = "tokenFile")]
    token_file: String,
    username: String,
    password: String,
    exec: Option<serde_yaml::Value>,
    auth_provider: Option<serde_yaml::Value>,
    #[serde(rename = "as")]
    impersonate: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawContext {
    cluster: String,
    user: String,
}

/// Reads the kubeconfig at `path` and picks its current context.
pub fn load_kubeconfig(path: &Path) -> Result<Kubeconfig, KubeconfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| KubeconfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let raw: RawKubeconfig =
        serde_yaml::from_str(&text).map_err(|source| KubeconfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    resolve(raw, dir).map_err(|e| match e {
        Refusal::Invalid(why) => KubeconfigError::Invalid {
            path: path.to_owned(),
            why,
        },
        Refusal::Unsupported(what, instead) => KubeconfigError::Unsupported {
            path: path.to_owned(),
            what,
            instead,
        },
    })
}

enum Refusal {
    Invalid(String),
    Unsupported(String, &'static str),
}

const USE_INSTEAD: &str =
    "give the user a token, tokenFile, client certificate or username and password";

fn find<'a, T>(items: &'a [Named<T>], name: &str) -> Option<&'a T> {
    items.iter().find(|n| n.name == name).map(|n| &n.value)
}

fn resolve(raw: RawKubeconfig, dir: &Path) -> Result<Kubeconfig, Refusal> {
    let invalid = |why: String| Refusal::Invalid(why);
    let name = &raw.current_context;
    if name.is_empty() {
        return Err(invalid("no current-context is set".into()));
    }
    let context = find(&raw.contexts, name).ok_or_else(|| {
        invalid(format!(
            "context was not found for specified context: {name}"
        ))
    })?;
    let cluster = find(&raw.clusters, &context.cluster).ok_or_else(|| {
        invalid(format!(
            "cluster {:?} was not found for context {name:?}",
            context.cluster
        ))
    })?;
    let default_user = RawUser::default();
    let user = match context.user.as_str() {
        "" => &default_user,
        user => find(&raw.users, user)
            .ok_or_else(|| invalid(format!("user {user:?} was not found for context {name:?}")))?,
    };
    if cluster.server.is_empty() {
        return Err(invalid(format!(
            "no server found for cluster {:?}",
            context.cluster
        )));
    }
    if !cluster.proxy_url.is_empty() {
        return Err(Refusal::Unsupported(
            format!("cluster {:?}'s proxy-url", context.cluster),
            "set the proxy in the environment (HTTPS_PROXY) or use api_server and proxy_url",
        ));
    }
    let user_name = &context.user;
    if user.exec.is_some() {
        return Err(Refusal::Unsupported(
            format!("user {user_name:?}'s exec credential plugin"),
            USE_INSTEAD,
        ));
    }
    if user.auth_provider.is_some() {
        return Err(Refusal::Unsupported(
            format!("user {user_name:?}'s auth-provider plugin"),
            USE_INSTEAD,
        ));
    }
    if !user.impersonate.is_empty() {
        return Err(Refusal::Unsupported(
            format!("user {user_name:?}'s impersonation (as)"),
            "use the impersonated account's own credentials",
        ));
    }

    let file = |path: &str| Secret::File(dir.join(path));
    let data = |what: &str, encoded: &str| -> Result<Secret, Refusal> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| invalid(format!("{what} is not base64: {e}")))?;
        String::from_utf8(bytes)
            .map(Secret::Inline)
            .map_err(|_| invalid(format!("{what} is not PEM text")))
    };
    // client-go: the data wins over the file when both are given.
    let pick = |what: &str, encoded: &str, path: &str| -> Result<Option<Secret>, Refusal> {
        Ok(match (encoded.is_empty(), path.is_empty()) {
            (false, _) => Some(data(what, encoded)?),
            (true, false) => Some(file(path)),
            (true, true) => None,
        })
    };
    let mut client = HttpClientConfig::default();
    client.tls.ca = pick(
        "certificate-authority-data",
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    )?;
    if cluster.insecure_skip_tls_verify && client.tls.ca.is_some() {
        return Err(invalid(
            "specifying a root certificates file with the insecure flag is not allowed".into(),
        ));
    }
    client.tls.insecure_skip_verify = cluster.insecure_skip_tls_verify;
    if !cluster.tls_server_name.is_empty() {
        client.tls.server_name = Some(cluster.tls_server_name.clone());
    }
    client.tls.cert = pick(
        "client-certificate-data",
        &user.client_certificate_data,
        &user.client_certificate,
    )?;
    client.tls.key = pick("client-key-data", &user.client_key_data, &user.client_key)?;
    match (client.tls.cert.is_some(), client.tls.key.is_some()) {
        (true, false) => {
            return Err(invalid(format!(
                "client-key-data or client-key must be specified for {user_name} to use the \
                 clientCert authentication method"
            )))
        }
        (false, true) => {
            return Err(invalid(format!(
                "client-cert-data or client-cert must be specified for {user_name} to use the \
                 clientCert authentication method"
            )))
        }
        _ => {}
    }
    let token = match (user.token.is_empty(), user.token_file.is_empty()) {
        (false, _) => Some(Secret::Inline(user.token.clone())),
        (true, false) => Some(file(&user.token_file)),
        (true, true) => None,
    };
    let basic = !user.username.is_empty() || !user.password.is_empty();
    client.auth = match (token, basic) {
        (Some(_), true) => {
            return Err(invalid(format!(
                "more than one authentication method found for {user_name}; found [token \
                 basicAuth], only one is allowed"
            )))
        }
        (Some(token), false) => Some(Auth::Authorization {
            kind: "Bearer".into(),
            credentials: Some(token),
        }),
        (None, true) => Some(Auth::Basic {
            username: Some(Secret::Inline(user.username.clone())),
            password: Some(Secret::Inline(user.password.clone())),
        }),
        (None, false) => None,
    };
    Ok(Kubeconfig {
        server: cluster.server.clone(),
        http_client: client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = "clusters:\n- name: c\n  cluster:\n    server: https://k8s:6443\n";
    const CONTEXT: &str =
        "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";

    fn read(yaml: &str) -> Result<Kubeconfig, KubeconfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, yaml).unwrap();
        load_kubeconfig(&path)
    }

    #[test]
    fn reads_the_current_context_as_client_go() {
        let yaml = format!(
            "{CLUSTER}    certificate-authority: ca.pem\n    tls-server-name: api\n\
             - name: other\n  cluster: {{server: https://other}}\n{CONTEXT}\
             users:\n- name: u\n  user:\n    client-certificate-data: {}\n    client-key: \
             /keys/k.pem\n    tokenFile: token\n",
            base64::engine::general_purpose::STANDARD.encode("PEM")
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, yaml).unwrap();
        let k = load_kubeconfig(&path).unwrap();
        assert_eq!(k.server, "https://k8s:6443");
        let tls = &k.http_client.tls;
        assert_eq!(tls.ca, Some(Secret::File(dir.path().join("ca.pem"))));
        assert_eq!(tls.server_name.as_deref(), Some("api"));
        assert_eq!(tls.cert, Some(Secret::Inline("PEM".into())));
        assert_eq!(tls.key, Some(Secret::File("/keys/k.pem".into())));
        assert_eq!(
            k.http_client.auth,
            Some(Auth::Authorization {
                kind: "Bearer".into(),
                credentials: Some(Secret::File(dir.path().join("token"))),
            })
        );

        let k = read(&format!(
            "{CLUSTER}    insecure-skip-tls-verify: true\n{CONTEXT}users:\n- name: u\n  user: \
             {{username: a, password: b}}\n"
        ))
        .unwrap();
        assert!(k.http_client.tls.insecure_skip_verify);
        assert!(matches!(k.http_client.auth, Some(Auth::Basic { .. })));
    }

    #[test]
    fn refuses_what_client_go_refuses_and_what_wasmfed_cannot_do() {
        let user = |u: &str| format!("{CLUSTER}{CONTEXT}users:\n- name: u\n  user: {u}\n");
        for (yaml, want) in [
            ("{}".to_owned(), "no current-context is set"),
            (
                format!("{CLUSTER}current-context: y\n"),
                "context was not found for specified context: y",
            ),
            (
                CONTEXT.to_owned(),
                "cluster \"c\" was not found for context \"x\"",
            ),
            (
                format!("{CLUSTER}{CONTEXT}"),
                "user \"u\" was not found for context \"x\"",
            ),
            (
                user("{exec: {command: aws}}"),
                "user \"u\"'s exec credential plugin is not supported by wasmfed; give the user a token",
            ),
            (
                user("{auth-provider: {name: gcp}}"),
                "user \"u\"'s auth-provider plugin is not supported by wasmfed",
            ),
            (
                user("{token: t, username: a}"),
                "more than one authentication method found for u",
            ),
            (
                user("{client-certificate: c.pem}"),
                "client-key-data or client-key must be specified for u",
            ),
            (
                user("{client-key-data: '!!'}"),
                "client-key-data is not base64",
            ),
            (
                format!("{CLUSTER}    certificate-authority: ca.pem\n    insecure-skip-tls-verify: true\n{CONTEXT}users: [{{name: u, user: {{}}}}]\n"),
                "specifying a root certificates file with the insecure flag is not allowed",
            ),
            ("clusters: 3".to_owned(), "parsing kubeconfig"),
        ] {
            let err = read(&yaml).unwrap_err().to_string();
            assert!(err.contains(want), "{yaml}: {err}");
        }
        let err = load_kubeconfig(Path::new("/nonexistent/kubeconfig")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("reading kubeconfig /nonexistent/kubeconfig: "),
            "{err}"
        );
    }
}
