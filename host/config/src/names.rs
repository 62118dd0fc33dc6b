//! Which metric and label names a job stores and asks for: Prometheus 3's
//! `metric_name_validation_scheme` and `metric_name_escaping_scheme`, global and per job.
//!
//! Prometheus 3 accepts any UTF-8 name (`utf8`, its default) unless a configuration asks for
//! the legacy character set; the escaping scheme is what a scrape asks the target to do with
//! names outside that set (the `escaping` parameter of its `Accept` header). Both decide what is
//! stored, so they are read and honoured, not ignored. Prometheus 2.42 knows neither key: with
//! `--query.compat=2` they are refused with its message (see `compat`) and every job keeps the
//! legacy names and 2.42's `Accept` header.
//!
//! Defaults and errors follow `config.ScrapeConfig.Validate` (Prometheus 3.x): a blank job
//! setting takes the global one, a blank escaping scheme follows the validation scheme it sits
//! beside (`legacy` → `underscores`, `utf8` → `allow-utf-8`), and `allow-utf-8` with `legacy`
//! validation is refused.

use wasmfed_model::compat::Compat;
pub use wasmfed_model::escaping::NameEscaping;

/// Which names are valid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NameValidation {
    /// Any non-empty UTF-8 name (Prometheus 3's default).
    #[default]
    Utf8,
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names, `[a-zA-Z_][a-zA-Z0-9_]*` for label names.
    Legacy,
}

/// A job's resolved name rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameRules {
    pub validation: NameValidation,
    pub escaping: NameEscaping,
    /// Whether scrapes may use Prometheus 3's quoted-name syntax at all (`--query.compat=3`).
    pub quoted: bool,
}

impl Default for NameRules {
    /// Prometheus 3's defaults.
    fn default() -> Self {
        NameRules {
            validation: NameValidation::Utf8,
            escaping: NameEscaping::AllowUtf8,
            quoted: true,
        }
    }
}

impl NameRules {
    /// What Prometheus 2.42 does: legacy names, no escaping negotiated, no quoted names.
    pub const V2: NameRules = NameRules {
        validation: NameValidation::Legacy,
        escaping: NameEscaping::Underscores,
        quoted: false,
    };

    /// The `Accept` header of a scrape: Prometheus 2.42's, or Prometheus 3's `acceptHeader`
    /// over its default protocols (OpenMetrics 1.0.0, 0.0.1, text 1.0.0, 0.0.4) with this
    /// escaping scheme on the 1.0.0 formats. Protobuf is never offered: wasmfed does not parse it.
    pub fn accept_header(&self) -> String {
        if !self.quoted {
            return ACCEPT_V2.to_string();
        }
        let escaping = self.escaping.as_str();
        format!(
            "application/openmetrics-text;version=1.0.0;escaping={escaping};q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping={escaping};q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        )
    }
}

/// What Prometheus 2.x sends: OpenMetrics preferred, then the classic text format.
const ACCEPT_V2: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The two keys as written in `global` or a scrape config (None: absent or blank).
#[derive(Clone, Debug, Default)]
pub(super) struct RawNames {
    pub validation: Option<String>,
    pub escaping: Option<String>,
}

impl RawNames {
    pub(super) const KEYS: [&'static str; 2] = [
        "metric_name_validation_scheme",
        "metric_name_escaping_scheme",
    ];

    /// Stores the value of one of [`Self::KEYS`] (null or blank: not set).
    pub(super) fn read(&mut self, key: &str, value: Option<String>) {
        let value = value.filter(|v| !v.is_empty());
        match key {
            "metric_name_validation_scheme" => self.validation = value,
            _ => self.escaping = value,
        }
    }

    /// The keys that are set, for `--query.compat=2`'s refusal.
    pub(super) fn keys(&self) -> Vec<&'static str> {
        let set = [self.validation.is_some(), self.escaping.is_some()];
        Self::KEYS
            .into_iter()
            .zip(set)
            .filter(|(_, set)| *set)
            .map(|(key, _)| key)
            .collect()
    }

    /// The global rules: an unknown validation scheme is refused by the YAML decoder in
    /// Prometheus (`unrecognized ValidationScheme`), an unknown escaping scheme when a job
    /// inherits it.
    pub(super) fn resolve_global(&self, compat: Compat) -> Result<GlobalNames, String> {
        if compat == Compat::V2 {
            return Ok(GlobalNames {
                rules: NameRules::V2,
                escaping_text: None,
            });
        }
        let validation = parse_validation(self.validation.as_deref())?.unwrap_or_default();
        let escaping = match self.escaping.as_deref() {
            None => Some(default_escaping(validation)),
            Some(text) => NameEscaping::parse(text),
        };
        Ok(GlobalNames {
            rules: NameRules {
                validation,
                escaping: escaping.unwrap_or_default(),
                quoted: true,
            },
            escaping_text: escaping.is_none().then(|| self.escaping.clone()).flatten(),
        })
    }

    /// A job's rules, as `ScrapeConfig.Validate` derives them from its keys and `global`'s.
    pub(super) fn resolve_job(&self, global: &GlobalNames) -> Result<NameRules, String> {
        if !global.rules.quoted {
            return Ok(NameRules::V2);
        }
        if let Some(text) = &global.escaping_text {
            return Err(format!(
                "unknown global name escaping method specified, must be one of 'allow-utf-8', \
                 'underscores', 'dots', or 'values', got {text:?}"
            ));
        }
        let local = parse_validation(self.validation.as_deref()).map_err(|_| {
            format!(
                "unknown scrape config name validation method specified, must be either '', \
                 'legacy' or 'utf8', got {}",
                self.validation.as_deref().unwrap_or_default()
            )
        })?;
        let validation = local.unwrap_or(global.rules.validation);
        let escaping = match self.escaping.as_deref() {
            None if local.is_none() => global.rules.escaping,
            None => default_escaping(validation),
            Some(text) => NameEscaping::parse(text).ok_or_else(|| {
                format!(
                    "unknown scrape config name escaping method specified, must be one of \
                     'allow-utf-8', 'underscores', 'dots', or 'values', got {text:?}"
                )
            })?,
        };
        if escaping == NameEscaping::AllowUtf8 && validation != NameValidation::Utf8 {
            return Err(
                "utf8 metric names requested but validation scheme is not set to UTF8".into(),
            );
        }
        Ok(NameRules {
            validation,
            escaping,
            quoted: true,
        })
    }
}

/// `global`'s rules, and its escaping text when that names no scheme (refused per job, as
/// Prometheus refuses it in `ScrapeConfig.Validate`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct GlobalNames {
    pub rules: NameRules,
    escaping_text: Option<String>,
}

fn parse_validation(text: Option<&str>) -> Result<Option<NameValidation>, String> {
    match text {
        None => Ok(None),
        Some("utf8") => Ok(Some(NameValidation::Utf8)),
        Some("legacy") => Ok(Some(NameValidation::Legacy)),
        Some(other) => Err(format!("unrecognized ValidationScheme: {other:?}")),
    }
}

fn default_escaping(validation: NameValidation) -> NameEscaping {
    match validation {
        NameValidation::Utf8 => NameEscaping::AllowUtf8,
        NameValidation::Legacy => NameEscaping::Underscores,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NameEscaping::*;
    use NameValidation::*;

    fn raw(validation: &str, escaping: &str) -> RawNames {
        let mut names = RawNames::default();
        names.read("metric_name_validation_scheme", Some(validation.into()));
        names.read("metric_name_escaping_scheme", Some(escaping.into()));
        names
    }

    #[test]
    fn jobs_derive_their_rules_as_prometheus_3() {
        for (global, job, want) in [
            (("", ""), ("", ""), Ok((Utf8, AllowUtf8))),
            (("legacy", ""), ("", ""), Ok((Legacy, Underscores))),
            (("legacy", "dots"), ("", ""), Ok((Legacy, Dots))),
            (("", ""), ("legacy", ""), Ok((Legacy, Underscores))),
            (("legacy", ""), ("utf8", ""), Ok((Utf8, AllowUtf8))),
            (("", "values"), ("utf8", ""), Ok((Utf8, AllowUtf8))),
            (("", "values"), ("", ""), Ok((Utf8, Values))),
            (("", ""), ("", "underscores"), Ok((Utf8, Underscores))),
            (
                ("", ""),
                ("legacy", "allow-utf-8"),
                Err("utf8 metric names requested but validation scheme is not set to UTF8"),
            ),
            (
                ("legacy", "allow-utf-8"),
                ("", ""),
                Err("utf8 metric names requested but validation scheme is not set to UTF8"),
            ),
            (
                ("", ""),
                ("", "camel"),
                Err("unknown scrape config name escaping method specified"),
            ),
            (
                ("", "camel"),
                ("", ""),
                Err("unknown global name escaping method specified"),
            ),
            (
                ("", ""),
                ("ascii", ""),
                Err("unknown scrape config name validation method specified"),
            ),
        ] {
            let global_names = raw(global.0, global.1).resolve_global(Compat::V3).unwrap();
            let got = raw(job.0, job.1).resolve_job(&global_names);
            match (got, want) {
                (Ok(rules), Ok((validation, escaping))) => {
                    assert_eq!((rules.validation, rules.escaping), (validation, escaping));
                }
                (Err(e), Err(want)) => assert!(e.starts_with(want), "{global:?} {job:?}: {e}"),
                (got, want) => panic!("{global:?} {job:?}: got {got:?}, want {want:?}"),
            }
        }
        let err = raw("ascii", "").resolve_global(Compat::V3).unwrap_err();
        assert_eq!(err, "unrecognized ValidationScheme: \"ascii\"");
    }

    #[test]
    fn accept_headers_per_generation() {
        // Prometheus' scrape_test.go expects this header for its default protocols.
        let v3 = GlobalNames::default().rules;
        assert_eq!(
            v3.accept_header(),
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        assert_eq!(NameRules::V2.accept_header(), ACCEPT_V2);
        let v2 = raw("", "").resolve_global(Compat::V2).unwrap();
        assert_eq!(raw("", "").resolve_job(&v2).unwrap(), NameRules::V2);
    }
}
