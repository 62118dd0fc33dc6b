//! A plugin's error, with the two meanings the host gives errors: a configuration it must
//! refuse (the node keeps what ran before) or a call that failed (the stage's fallback
//! applies). The export glue turns it into the WIT `plugin-error`.

use std::fmt;

use crate::bindings::PluginError;

/// Why a plugin could not be made or could not answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The configuration is unusable; the text says why (the operator reads it).
    InvalidConfig(String),
    /// This call failed; the text says why.
    Failed(String),
}

impl Error {
    /// An unusable configuration, e.g. `Error::invalid_config("modulus must be above 0")`.
    pub fn invalid_config(why: impl fmt::Display) -> Error {
        Error::InvalidConfig(why.to_string())
    }

    /// A failed call; `.map_err(Error::failed)` takes any error that displays.
    pub fn failed(why: impl fmt::Display) -> Error {
        Error::Failed(why.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig(why) => write!(f, "invalid configuration: {why}"),
            Error::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for PluginError {
    fn from(error: Error) -> PluginError {
        match error {
            Error::InvalidConfig(why) => PluginError::InvalidConfig(why),
            Error::Failed(why) => PluginError::Failed(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_maps_to_its_wit_case_with_its_text() {
        let parse = "x".parse::<u32>().unwrap_err();
        assert_eq!(
            PluginError::from(Error::invalid_config("modulus must be above 0")),
            PluginError::InvalidConfig("modulus must be above 0".into())
        );
        assert_eq!(
            PluginError::from(Error::failed(&parse)),
            PluginError::Failed(parse.to_string())
        );
        assert_eq!(
            Error::invalid_config("no labels").to_string(),
            "invalid configuration: no labels"
        );
    }
}
