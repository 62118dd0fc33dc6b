//! PII scrubber: a wasmfed series plugin that replaces chosen label values with a salted hash.
//!
//! Configuration (JSON): `{"labels": ["email", "user_id"], "salt": "any text"}`. Each listed
//! label's value becomes the first 16 hex digits of SHA-256(salt + value); other labels and
//! series without those labels pass unchanged. The same value always maps to the same digest,
//! so series stay distinct and joinable while the raw value never reaches storage.
//!
//! The same plugin is written in C, Python and JavaScript beside this crate; all four pass
//! `../fixture.yml`. This one is written with the `wasmfed-guest` SDK: the scrubbing is all
//! there is to it.

use std::collections::HashSet;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use wasmfed_guest::{Error, LabelPlugin, Labels, Plugin};

/// The configuration as given; [`Scrubber::new`] checks it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    labels: Vec<String>,
    #[serde(default)]
    salt: String,
}

/// The validated configuration.
#[derive(Debug)]
pub struct Scrubber {
    labels: HashSet<String>,
    salt: String,
}

impl Plugin for Scrubber {
    type Config = Config;

    fn new(config: Config) -> Result<Scrubber, Error> {
        if config.labels.is_empty() {
            return Err(Error::invalid_config(
                "\"labels\" must be a non-empty list of label names",
            ));
        }
        if config.labels.iter().any(|l| l == "__name__") {
            return Err(Error::invalid_config(
                "__name__ cannot be scrubbed: the series would lose its metric name",
            ));
        }
        Ok(Scrubber {
            labels: config.labels.into_iter().collect(),
            salt: config.salt,
        })
    }
}

impl Scrubber {
    /// The first 16 hex digits of SHA-256(salt + value).
    pub fn digest(&self, value: &str) -> String {
        let hash = Sha256::new()
            .chain_update(self.salt.as_bytes())
            .chain_update(value.as_bytes())
            .finalize();
        hash[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl LabelPlugin for Scrubber {
    /// The series with the listed labels' values replaced.
    fn process(&self, mut labels: Labels) -> Result<Option<Labels>, Error> {
        for (name, value) in labels.iter_mut() {
            if self.labels.contains(name) {
                *value = self.digest(value);
            }
        }
        Ok(Some(labels))
    }
}

wasmfed_guest::export_series_plugin!(Scrubber);

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber(json: &str) -> Result<Scrubber, Error> {
        Scrubber::from_config(json)
    }

    #[test]
    fn digests_are_salted_sha256_prefixes() {
        let scrubber = scrubber(r#"{"labels": ["email"], "salt": "pepper"}"#).unwrap();
        assert_eq!(scrubber.digest("ada@example.com"), "f3de2501fc91c4a9");
        let unsalted = self::scrubber(r#"{"labels": ["email"]}"#).unwrap();
        // SHA-256("abc") starts ba7816bf8f01cfea.
        assert_eq!(unsalted.digest("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn only_listed_labels_change() {
        let scrubber = scrubber(r#"{"labels": ["email"], "salt": "pepper"}"#).unwrap();
        let out = scrubber
            .process(Labels::from([("email", "ada@example.com"), ("job", "app")]))
            .unwrap();
        assert_eq!(
            out,
            Some(Labels::from([
                ("email", "f3de2501fc91c4a9"),
                ("job", "app")
            ]))
        );
    }

    #[test]
    fn unusable_configs_are_refused_with_a_reason() {
        for (json, why) in [
            ("null", "missing field `labels`"),
            (r#"{"labels": []}"#, "non-empty list"),
            (r#"{"labels": ["__name__"]}"#, "metric name"),
            (
                r#"{"labels": ["a"], "pepper": "x"}"#,
                "unknown field `pepper`",
            ),
            (r#"{"labels": ["a"], "salt": 1}"#, "invalid type: integer"),
            ("{", "not JSON"),
        ] {
            match scrubber(json) {
                Err(Error::InvalidConfig(text)) => assert!(text.contains(why), "{json}: {text}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }
}
