//! PII scrubber: a wasmfed series plugin that replaces chosen label values with a salted hash.
//!
//! Configuration (JSON): `{"labels": ["email", "user_id"], "salt": "any text"}`. Each listed
//! label's value becomes the first 16 hex digits of SHA-256(salt + value); other labels and
//! series without those labels pass unchanged. The same value always maps to the same digest,
//! so series stay distinct and joinable while the raw value never reaches storage.
//!
//! The same plugin is written in C, Python and JavaScript beside this crate; all four pass
//! `../fixture.yml`.

use std::cell::RefCell;
use std::collections::HashSet;

use serde::Deserialize;
use sha2::{Digest, Sha256};

wit_bindgen::generate!({
    world: "series-plugin",
    path: "../../../wit",
    additional_derives: [PartialEq],
});

use exports::wasmfed::plugin::{lifecycle, series};
use wasmfed::plugin::types::{Label, PluginError};

/// The configuration as given; [`Scrubber::new`] checks it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    labels: Vec<String>,
    #[serde(default)]
    salt: String,
}

/// The validated configuration.
#[derive(Debug, Default)]
pub struct Scrubber {
    labels: HashSet<String>,
    salt: String,
}

impl Scrubber {
    /// Reads the JSON configuration, or says why it is unusable.
    pub fn new(json: &str) -> Result<Scrubber, String> {
        let config: Config = match serde_json::from_str(json) {
            Ok(config) => config,
            Err(e) if e.is_data() => return Err(e.to_string()),
            Err(e) => return Err(format!("config is not JSON: {e}")),
        };
        if config.labels.is_empty() {
            return Err("\"labels\" must be a non-empty list of label names".into());
        }
        if config.labels.iter().any(|l| l == "__name__") {
            return Err(
                "__name__ cannot be scrubbed: the series would lose its metric name".into(),
            );
        }
        Ok(Scrubber {
            labels: config.labels.into_iter().collect(),
            salt: config.salt,
        })
    }

    /// The first 16 hex digits of SHA-256(salt + value).
    pub fn digest(&self, value: &str) -> String {
        let hash = Sha256::new()
            .chain_update(self.salt.as_bytes())
            .chain_update(value.as_bytes())
            .finalize();
        hash[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// One label set with the listed labels' values replaced.
    pub fn scrub(&self, mut labels: Vec<Label>) -> Vec<Label> {
        for label in &mut labels {
            if self.labels.contains(&label.name) {
                label.value = self.digest(&label.value);
            }
        }
        labels
    }
}

thread_local! {
    static SCRUBBER: RefCell<Scrubber> = RefCell::default();
}

struct Plugin;

impl lifecycle::Guest for Plugin {
    fn init(config: String) -> Result<(), PluginError> {
        let scrubber = Scrubber::new(&config).map_err(PluginError::InvalidConfig)?;
        SCRUBBER.with(|s| *s.borrow_mut() = scrubber);
        Ok(())
    }
}

impl series::Guest for Plugin {
    fn process(series: Vec<Vec<Label>>) -> Result<Vec<Option<Vec<Label>>>, PluginError> {
        SCRUBBER.with(|s| {
            let scrubber = s.borrow();
            Ok(series
                .into_iter()
                .map(|l| Some(scrubber.scrub(l)))
                .collect())
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_salted_sha256_prefixes() {
        let scrubber = Scrubber::new(r#"{"labels": ["email"], "salt": "pepper"}"#).unwrap();
        assert_eq!(scrubber.digest("ada@example.com"), "f3de2501fc91c4a9");
        let unsalted = Scrubber::new(r#"{"labels": ["email"]}"#).unwrap();
        // SHA-256("abc") starts ba7816bf8f01cfea.
        assert_eq!(unsalted.digest("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn only_listed_labels_change() {
        let scrubber = Scrubber::new(r#"{"labels": ["email"], "salt": "pepper"}"#).unwrap();
        let label = |name: &str, value: &str| Label {
            name: name.into(),
            value: value.into(),
        };
        let out = scrubber.scrub(vec![label("email", "ada@example.com"), label("job", "app")]);
        assert_eq!(
            out,
            vec![label("email", "f3de2501fc91c4a9"), label("job", "app")]
        );
    }

    #[test]
    fn unusable_configs_are_refused_with_a_reason() {
        for (json, why) in [
            ("null", "invalid type: null"),
            (r#"{"labels": []}"#, "non-empty list"),
            (r#"{"labels": ["__name__"]}"#, "metric name"),
            (
                r#"{"labels": ["a"], "pepper": "x"}"#,
                "unknown field `pepper`",
            ),
            (r#"{"labels": ["a"], "salt": 1}"#, "invalid type: integer"),
            ("{", "config is not JSON"),
        ] {
            let err = Scrubber::new(json).unwrap_err();
            assert!(err.contains(why), "{json}: {err}");
        }
    }
}
