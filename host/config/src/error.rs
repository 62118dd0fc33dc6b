//! The one error type of the configuration module.
//!
//! Every variant names the file it is about, because an operator reloading a configuration needs
//! to know which of the config file, a file_sd file or a rule file is wrong. YAML errors carry
//! serde_yaml's key path, line and column in their text
//! (`scrape_configs[0]: unknown field ... at line 5 column 5`). The underlying error is part of
//! the message rather than a `source()`, so printing the error once says everything.

use std::fmt;
use std::path::PathBuf;

/// Which kind of file an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Config,
    FileSd,
    Rules,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Config => "config file",
            FileKind::FileSd => "file_sd file",
            FileKind::Rules => "rule file",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {kind} {path:?}: {error}")]
    Read {
        kind: FileKind,
        path: PathBuf,
        error: std::io::Error,
    },
    /// YAML that does not parse or does not fit the schema, or a value that failed validation
    /// while it was read; the message has the key path, line and column.
    #[error("loading {kind} {path:?}: {error}")]
    Yaml {
        kind: FileKind,
        path: PathBuf,
        error: serde_yaml::Error,
    },
    /// A file_sd `.json` file that does not parse or does not fit the schema.
    #[error("loading {kind} {path:?}: {error}")]
    Json {
        kind: FileKind,
        path: PathBuf,
        error: serde_json::Error,
    },
    /// Well-formed, but wrong as a whole (a check that needs more than one value).
    #[error("loading {kind} {path:?}: {message}")]
    Invalid {
        kind: FileKind,
        path: PathBuf,
        message: String,
    },
    /// A glob pattern (file_sd `files`, `rule_files`) that is not a valid pattern.
    #[error("{kind} pattern {pattern:?}: {error}")]
    Pattern {
        kind: FileKind,
        pattern: String,
        error: glob::PatternError,
    },
}
