//! `admin`: wasmfed's own top-level key for the admin API (plugin uploads, shadow mode), which
//! changes what a node runs and so needs a credential of its own.
//!
//! ```yaml
//! admin:
//!   bearer_token_file: /etc/wasmfed/admin.token   # or bearer_token: <secret>
//! ```
//!
//! Without a token the admin endpoints answer 403. The token file is read when the configuration loads (a
//! reload picks up a new token), trailing whitespace trimmed as Prometheus trims credential
//! files.

use std::path::Path;

use serde::Deserialize;

use super::paths::join_dir;

/// The admin API's credential.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AdminConfig {
    pub bearer_token: Option<String>,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = self.bearer_token.as_ref().map(|_| "<secret>");
        f.debug_struct("AdminConfig")
            .field("bearer_token", &token)
            .finish()
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    bearer_token: Option<String>,
    bearer_token_file: Option<String>,
}

impl RawAdmin {
    pub(super) fn resolve(self, dir: &Path) -> Result<AdminConfig, String> {
        let bearer_token = read_token(self.bearer_token, self.bearer_token_file, dir)
            .map_err(|e| format!("admin: {e}"))?;
        Ok(AdminConfig { bearer_token })
    }
}

/// A bearer token given inline or in a file (relative to `dir`), as Prometheus' credentials
/// are: at most one of the two, the file's trailing whitespace trimmed, never empty.
pub(super) fn read_token(
    token: Option<String>,
    file: Option<String>,
    dir: &Path,
) -> Result<Option<String>, String> {
    let token = match (token, file) {
        (Some(_), Some(_)) => {
            return Err("at most one of bearer_token & bearer_token_file must be configured".into())
        }
        (Some(token), None) => Some(token),
        (None, Some(file)) => {
            let path = join_dir(dir, &file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading bearer_token_file {path}: {e}"))?;
            Some(text.trim_end().to_string())
        }
        (None, None) => None,
    };
    if token.as_deref() == Some("") {
        return Err("the bearer token is empty".into());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_config_or_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t"), "s3cret\n").unwrap();
        let raw = |token: Option<&str>, file: Option<&str>| RawAdmin {
            bearer_token: token.map(String::from),
            bearer_token_file: file.map(String::from),
        };
        let cases = [
            (raw(None, None), Ok(None)),
            (raw(Some("x"), None), Ok(Some("x"))),
            (raw(None, Some("t")), Ok(Some("s3cret"))),
            (raw(Some("x"), Some("t")), Err("at most one")),
            (raw(None, Some("missing")), Err("reading bearer_token_file")),
            (raw(Some(""), None), Err("empty")),
        ];
        for (input, want) in cases {
            match (input.resolve(dir.path()), want) {
                (Ok(got), Ok(want)) => assert_eq!(got.bearer_token.as_deref(), want),
                (Err(e), Err(want)) => assert!(e.contains(want), "{e}"),
                (got, want) => panic!("got {got:?}, want {want:?}"),
            }
        }
    }
}
