//! Scrape protocols, as `fallback_scrape_protocol` names them (Prometheus 3's
//! `config.ScrapeProtocol`): the format to parse a body in when its Content-Type is missing,
//! unparsable or unknown.

use std::fmt;
use std::str::FromStr;

/// One of the exposition formats Prometheus negotiates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScrapeProtocol {
    PrometheusProto,
    PrometheusText0_0_4,
    PrometheusText1_0_0,
    OpenMetricsText0_0_1,
    OpenMetricsText1_0_0,
}

/// Every protocol with its name, in Prometheus' sorted order (the order its message lists).
const NAMES: [(&str, ScrapeProtocol); 5] = [
    ("OpenMetricsText0.0.1", ScrapeProtocol::OpenMetricsText0_0_1),
    ("OpenMetricsText1.0.0", ScrapeProtocol::OpenMetricsText1_0_0),
    ("PrometheusProto", ScrapeProtocol::PrometheusProto),
    ("PrometheusText0.0.4", ScrapeProtocol::PrometheusText0_0_4),
    ("PrometheusText1.0.0", ScrapeProtocol::PrometheusText1_0_0),
];

impl ScrapeProtocol {
    /// `HeaderMediaType`: the media type a body of this protocol is parsed as.
    pub fn media_type(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "application/vnd.google.protobuf",
            ScrapeProtocol::PrometheusText0_0_4 | ScrapeProtocol::PrometheusText1_0_0 => {
                "text/plain"
            }
            ScrapeProtocol::OpenMetricsText0_0_1 | ScrapeProtocol::OpenMetricsText1_0_0 => {
                "application/openmetrics-text"
            }
        }
    }
}

impl fmt::Display for ScrapeProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, _) = NAMES
            .iter()
            .find(|(_, p)| p == self)
            .expect("every protocol is named");
        f.write_str(name)
    }
}

impl FromStr for ScrapeProtocol {
    type Err = String;

    /// Prometheus' `ScrapeProtocol.Validate`, with its message.
    fn from_str(s: &str) -> Result<ScrapeProtocol, String> {
        NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                let names: Vec<&str> = NAMES.iter().map(|(name, _)| *name).collect();
                format!(
                    "unknown scrape protocol {s}, supported: [{}]",
                    names.join(" ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_media_types() {
        for (name, media_type) in [
            ("PrometheusProto", Ok("application/vnd.google.protobuf")),
            ("PrometheusText0.0.4", Ok("text/plain")),
            ("PrometheusText1.0.0", Ok("text/plain")),
            ("OpenMetricsText0.0.1", Ok("application/openmetrics-text")),
            ("OpenMetricsText1.0.0", Ok("application/openmetrics-text")),
            ("prometheustext0.0.4", Err(())),
            ("text/plain", Err(())),
        ] {
            let parsed = name.parse::<ScrapeProtocol>();
            assert_eq!(
                parsed.as_ref().map(|p| p.media_type()).map_err(|_| ()),
                media_type,
                "{name}"
            );
            if let Ok(p) = parsed {
                assert_eq!(p.to_string(), name);
            }
        }
        assert_eq!(
            "x".parse::<ScrapeProtocol>().unwrap_err(),
            "unknown scrape protocol x, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 \
             PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]"
        );
    }
}
