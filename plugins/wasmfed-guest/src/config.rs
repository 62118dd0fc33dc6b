//! A plugin's configuration: the `config:` of its entry in the node's YAML, handed to `init`
//! as JSON text (`null` when the entry has none), read into the author's serde type.
//!
//! `null` is read as the type's "nothing given": first as `null` itself (so `()` and
//! `Option<T>` mean "no configuration"), then as an empty object, so a struct whose fields
//! all have defaults needs no configuration and one with a required field says which field
//! is missing rather than "invalid type: null".

use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::Error;

/// Reads `json` into `C`, or an [`Error::InvalidConfig`] that says why it is unusable.
pub fn parse_config<C: DeserializeOwned>(json: &str) -> Result<C, Error> {
    if json.trim() == "null" {
        if let Ok(config) = serde_json::from_str("null") {
            return Ok(config);
        }
        return serde_json::from_str("{}")
            .map_err(|e| Error::invalid_config(format!("none given, and {}", without_place(&e))));
    }
    serde_json::from_str(json).map_err(|e| match e.classify() {
        Category::Syntax | Category::Eof => {
            Error::invalid_config(format!("not JSON: {}", without_place(&e)))
        }
        Category::Data | Category::Io => Error::invalid_config(without_place(&e)),
    })
}

/// The error's text without serde_json's "at line L column C": the node made this JSON from
/// its YAML, so a place in it would point nowhere the operator can look.
fn without_place(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let place = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&place).unwrap_or(&text).to_owned()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Defaults {
        #[serde(default = "debug")]
        prefix: String,
    }

    fn debug() -> String {
        "debug_".into()
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Required {
        labels: Vec<String>,
    }

    #[test]
    fn null_means_nothing_given() {
        assert_eq!(parse_config::<()>("null"), Ok(()));
        assert_eq!(parse_config::<Option<Required>>("null"), Ok(None));
        assert_eq!(
            parse_config::<Defaults>("null"),
            Ok(Defaults {
                prefix: "debug_".into()
            })
        );
    }

    #[test]
    fn given_values_are_read() {
        assert_eq!(
            parse_config::<Required>(r#"{"labels": ["email"]}"#),
            Ok(Required {
                labels: vec!["email".into()]
            })
        );
        assert_eq!(
            parse_config::<Defaults>(r#"{"prefix": "x_"}"#),
            Ok(Defaults {
                prefix: "x_".into()
            })
        );
    }

    #[test]
    fn unusable_configurations_say_why() {
        for (json, why) in [
            ("null", "none given, and missing field `labels`"),
            (
                r#"{"labels": ["a"], "salt": 1}"#,
                "unknown field `salt`, expected `labels`",
            ),
            (
                r#"{"labels": "a"}"#,
                "invalid type: string \"a\", expected a sequence",
            ),
            ("{", "not JSON: EOF while parsing an object"),
            ("{'labels': []}", "not JSON: key must be a string"),
        ] {
            match parse_config::<Required>(json) {
                Err(Error::InvalidConfig(text)) => {
                    assert!(text.ends_with(why), "{json}: {text}")
                }
                other => panic!("{json}: {other:?}"),
            }
        }
    }
}
