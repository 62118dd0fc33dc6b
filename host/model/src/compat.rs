//! Which Prometheus generation the node answers like where 2.x and 3.x differ
//! (`--query.compat`): PromQL's window bounds, regex `.` and newlines, function names, and
//! what scraping stores. Fleets run both, and the same query must answer as the Prometheus
//! next to it does; 3 (current upstream) unless asked.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compat {
    /// Prometheus 2.x, as 2.42 (Debian's) behaves.
    V2,
    /// Prometheus 3.x.
    #[default]
    V3,
}

impl Compat {
    /// The major version, as the flag and the plugin configuration spell it.
    pub fn major(self) -> u8 {
        match self {
            Compat::V2 => 2,
            Compat::V3 => 3,
        }
    }
}

impl Compat {
    /// How this generation reads a regex (anchoring, `.` and newlines, its Go's syntax).
    pub fn regex_release(self) -> promregex::Release {
        match self {
            Compat::V2 => promregex::Release::V2,
            Compat::V3 => promregex::Release::V3,
        }
    }
}

impl fmt::Display for Compat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compat::V2 => f.write_str("Prometheus 2.x (2.42) semantics, --query.compat=2"),
            Compat::V3 => f.write_str("Prometheus 3.x semantics, --query.compat=3"),
        }
    }
}

impl FromStr for Compat {
    type Err = String;

    fn from_str(s: &str) -> Result<Compat, String> {
        match s {
            "2" => Ok(Compat::V2),
            "3" => Ok(Compat::V3),
            _ => Err(format!("unknown compatibility {s:?}: 2 or 3")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_generations_only() {
        for (text, want) in [
            ("2", Ok(Compat::V2)),
            ("3", Ok(Compat::V3)),
            ("4", Err(())),
            ("2.42", Err(())),
            ("", Err(())),
        ] {
            assert_eq!(text.parse::<Compat>().map_err(|_| ()), want, "{text:?}");
        }
        assert_eq!(Compat::default().major(), 3);
    }
}
