//! Prometheus configuration keys that wasmfed knows but does not implement.
//!
//! An operator's prometheus.yml should load, so such a key is not "unknown". Where ignoring it
//! cannot change what wasmfed scrapes, stores, sends or serves, it is accepted with a warning;
//! where ignoring it would (credentials, TLS, other service discoveries, limits that would fail
//! scrapes, ...), it is an error saying it is not supported yet. Most keys are
//! harmless exactly when they hold Prometheus' default: empty, false or zero.
//! The full table is in the [`super`] module documentation.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::Deserializer;

use super::yaml::KeySet;
use Harmless::*;

/// Which mapping a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Section {
    Top,
    Global,
    Scrape,
    Alerting,
    Alertmanager,
    RemoteWrite,
    QueueConfig,
    MetadataConfig,
}

/// When ignoring a key's value changes nothing.
#[derive(Clone, Copy)]
enum Harmless {
    Always,
    /// Null, false, zero, empty, or a mapping of such values (`tls_config: {}`).
    WhenEmpty,
}

struct Known {
    key: &'static str,
    harmless: Harmless,
    why: &'static str,
}

const fn known(key: &'static str, harmless: Harmless, why: &'static str) -> Known {
    Known { key, harmless, why }
}

const NO_NATIVE_HISTOGRAMS: &str = "wasmfed does not ingest native histograms";
// Asking for native histograms only changes what Prometheus negotiates (protobuf); over the
// text formats wasmfed parses every histogram is classic, as Prometheus stores it then too.
const TEXT_HISTOGRAMS: &str = "wasmfed scrapes text formats, whose histograms are classic";
const NO_LIMIT: &str = "wasmfed does not enforce this limit";
const LOGS_ONLY: &str = "wasmfed logs to stderr";
const FORMATS: &str = "wasmfed negotiates the text formats it parses itself";

const TOP: &[Known] = &[
    known(
        "remote_read",
        Always,
        "wasmfed answers queries from its own storage only",
    ),
    // `tsdb.out_of_order_time_window` and `exemplars.max_exemplars` change what is stored:
    // accepted only at their defaults (off), which is what wasmfed does.
    known(
        "storage",
        WhenEmpty,
        "wasmfed stores neither out-of-order samples nor exemplars",
    ),
    known("tracing", Always, "wasmfed does not export traces"),
    known("runtime", Always, "Go runtime settings"),
    known("otlp", Always, "wasmfed has no OTLP receiver"),
    known(
        "scrape_config_files",
        WhenEmpty,
        "scrape configs must be in the main file",
    ),
];

/// Keys valid (and treated alike) both in `global` and in a scrape config.
const GLOBAL_AND_SCRAPE: &[Known] = &[
    known("scrape_protocols", Always, FORMATS),
    known("scrape_failure_log_file", Always, LOGS_ONLY),
    known("scrape_native_histograms", Always, TEXT_HISTOGRAMS),
    known(
        "convert_classic_histograms_to_nhcb",
        WhenEmpty,
        NO_NATIVE_HISTOGRAMS,
    ),
    known(
        "always_scrape_classic_histograms",
        Always,
        "classic histograms are always scraped",
    ),
    known(
        "extra_scrape_metrics",
        WhenEmpty,
        "wasmfed writes the standard scrape series only",
    ),
    known("target_limit", WhenEmpty, NO_LIMIT),
    known("label_limit", WhenEmpty, NO_LIMIT),
    known("label_name_length_limit", WhenEmpty, NO_LIMIT),
    known("label_value_length_limit", WhenEmpty, NO_LIMIT),
    known(
        "keep_dropped_targets",
        Always,
        "dropped targets are not listed",
    ),
];

const GLOBAL: &[Known] = &[
    known(
        "rule_query_offset",
        WhenEmpty,
        "wasmfed evaluates rules without a query offset",
    ),
    known("query_log_file", Always, LOGS_ONLY),
];

const SCRAPE: &[Known] = &[
    known(
        "track_timestamps_staleness",
        WhenEmpty,
        "explicit timestamps are not staleness-tracked",
    ),
    known(
        "enable_compression",
        Always,
        "wasmfed chooses compression itself",
    ),
    known(
        "scrape_classic_histograms",
        Always,
        "classic histograms are always scraped",
    ),
    known(
        "native_histogram_bucket_limit",
        Always,
        NO_NATIVE_HISTOGRAMS,
    ),
    known(
        "native_histogram_min_bucket_factor",
        Always,
        NO_NATIVE_HISTOGRAMS,
    ),
    // The HTTP client settings Prometheus inlines into a scrape config.
];

const REMOTE_WRITE: &[Known] = &[known(
    "round_robin_dns",
    Always,
    "wasmfed connects to the URL's host as its HTTP client resolves it",
)];

const QUEUE_CONFIG: &[Known] = &[known(
    "sample_age_limit",
    WhenEmpty,
    "wasmfed sends samples of any age",
)];

/// Service discoveries other than `static_configs` and `file_sd_configs`.
const OTHER_SD: &[&str] = &[
    "aws_sd_configs",
    "azure_sd_configs",
    "consul_sd_configs",
    "digitalocean_sd_configs",
    "dockerswarm_sd_configs",
    "ec2_sd_configs",
    "eureka_sd_configs",
    "gce_sd_configs",
    "hetzner_sd_configs",
    "ionos_sd_configs",
    "kuma_sd_configs",
    "lightsail_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "nomad_sd_configs",
    "oci_sd_configs",
    "openstack_sd_configs",
    "outscale_sd_configs",
    "ovhcloud_sd_configs",
    "puppetdb_sd_configs",
    "scaleway_sd_configs",
    "serverset_sd_configs",
    "stackit_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
];

const OTHER_SD_WHY: &str =
    "wasmfed discovers targets with static_configs, file_sd_configs, http_sd_configs, \
     dns_sd_configs, kubernetes_sd_configs and docker_sd_configs; file_sd or http_sd can feed \
     it any other source's targets";

/// Keys of the differences between Prometheus 2 and 3 that Prometheus 2.42 refuses as unknown
/// (`fallback_scrape_protocol` came with 3.0, the name validation keys with 2.55 and 3.x):
/// with `--query.compat=2` wasmfed refuses them as 2.42 does. Keys added during 2.x for
/// other reasons (`scrape_protocols`, global limits, native histogram switches) stay accepted.
const UNKNOWN_TO_2_42: &[&str] = &[
    "fallback_scrape_protocol",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "http_headers",
];

/// Prometheus 2.42's refusal of the first of `keys` it does not know, in a `section` mapping:
/// its YAML decoder's message, which names the Go type being read.
pub(super) fn refuse_unknown_to_2_42<'k>(
    section: Section,
    mut keys: impl Iterator<Item = &'k str>,
) -> Result<(), String> {
    let Some(key) = keys.find(|key| UNKNOWN_TO_2_42.contains(key)) else {
        return Ok(());
    };
    let go_type = match section {
        Section::Top | Section::Global => "config.plain",
        Section::Scrape => "config.ScrapeConfig",
        Section::Alerting => "config.AlertingConfig",
        Section::Alertmanager => "config.AlertmanagerConfig",
        Section::RemoteWrite => "config.RemoteWriteConfig",
        Section::QueueConfig => "config.QueueConfig",
        Section::MetadataConfig => "config.MetadataConfig",
    };
    Err(format!(
        "field {key} not found in type {go_type} (Prometheus 2.42 does not know it; \
         --query.compat=2)"
    ))
}

/// A known key that was accepted and ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Ignored {
    pub key: String,
    pub why: &'static str,
}

impl Ignored {
    /// The warning for this key, under `prefix` (e.g. `scrape_configs[0].`).
    pub(super) fn warning(&self, prefix: &str) -> String {
        format!("{prefix}{}: ignored ({})", self.key, self.why)
    }
}

/// Reads the next key of a `section` mapping. A key neither in `expected` (the keys wasmfed
/// reads) nor known from Prometheus, or a key written twice, is an error at the key's position.
pub(super) fn next_key<'de, A: MapAccess<'de>>(
    map: &mut A,
    section: Section,
    expected: &'static [&'static str],
    seen: &mut KeySet,
) -> Result<Option<String>, A::Error> {
    map.next_key_seed(KeySeed {
        section,
        expected,
        seen,
    })
}

struct KeySeed<'a> {
    section: Section,
    expected: &'static [&'static str],
    seen: &'a mut KeySet,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
        if !self.expected.contains(&key) && lookup(self.section, key).is_none() {
            return Err(E::unknown_field(key, self.expected));
        }
        self.seen.check(key)?;
        Ok(key.to_string())
    }
}

/// Consumes the value of `key`, a key from Prometheus that wasmfed does not read itself.
/// Returns what to warn about, or an error if ignoring the value would change behaviour.
pub(super) fn ignore_known<'de, A: MapAccess<'de>>(
    section: Section,
    key: &str,
    map: &mut A,
) -> Result<Ignored, A::Error> {
    let (harmless, why) = lookup(section, key)
        .ok_or_else(|| de::Error::custom(format!("{key}: not a Prometheus key")))?;
    let value: serde_yaml::Value = map.next_value()?;
    let fine = match harmless {
        Always => true,
        WhenEmpty => is_empty(&value),
    };
    if fine {
        Ok(Ignored {
            key: key.to_string(),
            why,
        })
    } else {
        Err(de::Error::custom(format!(
            "{key}: not supported by wasmfed yet ({why})"
        )))
    }
}

fn lookup(section: Section, key: &str) -> Option<(Harmless, &'static str)> {
    let table = match section {
        Section::Top => TOP,
        Section::Global => GLOBAL,
        Section::Scrape => SCRAPE,
        Section::RemoteWrite => REMOTE_WRITE,
        Section::QueueConfig => QUEUE_CONFIG,
        Section::Alerting | Section::Alertmanager | Section::MetadataConfig => &[],
    };
    let shared = match section {
        Section::Global | Section::Scrape => GLOBAL_AND_SCRAPE,
        Section::Top
        | Section::Alerting
        | Section::Alertmanager
        | Section::RemoteWrite
        | Section::QueueConfig
        | Section::MetadataConfig => &[][..],
    };
    if let Some(k) = table.iter().chain(shared).find(|k| k.key == key) {
        return Some((k.harmless, k.why));
    }
    (matches!(section, Section::Scrape | Section::Alertmanager) && OTHER_SD.contains(&key))
        .then_some((WhenEmpty, OTHER_SD_WHY))
}

fn is_empty(value: &serde_yaml::Value) -> bool {
    use serde_yaml::Value;
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s.parse::<super::Duration>().is_ok_and(|d| d.is_zero()),
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.values().all(is_empty),
        Value::Tagged(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emptiness() {
        for (yaml, empty) in [
            ("~", true),
            ("false", true),
            ("0", true),
            ("0s", true),
            ("''", true),
            ("[]", true),
            ("{}", true),
            ("{insecure_skip_verify: false}", true),
            ("{ca_file: /x.pem}", false),
            ("[{}]", false),
            ("true", false),
            ("5", false),
            ("1m", false),
            ("text", false),
        ] {
            let value: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
            assert_eq!(is_empty(&value), empty, "{yaml}");
        }
    }

    #[test]
    fn every_section_knows_its_keys() {
        assert!(lookup(Section::Top, "remote_read").is_some());
        assert!(
            lookup(Section::Top, "remote_write").is_none(),
            "read, not ignored"
        );
        assert!(lookup(Section::RemoteWrite, "round_robin_dns").is_some());
        assert!(lookup(Section::QueueConfig, "sample_age_limit").is_some());
        assert!(lookup(Section::Global, "target_limit").is_some());
        assert!(lookup(Section::Scrape, "consul_sd_configs").is_some());
        assert!(lookup(Section::Global, "consul_sd_configs").is_none());
        assert!(lookup(Section::Top, "scrape_intervl").is_none());
    }
}
