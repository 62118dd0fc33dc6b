//! Prometheus' relabel rules (`relabel_configs`, `metric_relabel_configs`): the rule type with
//! its defaults, and its validation with Prometheus' error messages, as in Prometheus'
//! `model/relabel/relabel.go`. The host reads rules from YAML and the relabel plugin from JSON;
//! both read them with this crate, so a rule means the same, and is refused with the same
//! words, on both sides. Applying rules is the plugin's business, not this crate's.
//!
//! Prometheus fills its defaults before it reads a rule, so an absent field takes the default
//! and a null one the zero value: an absent `separator` is `;`, a null one empty; an absent
//! `regex` is `(.*)`, a null one the empty regex, and any `regex` written out, even `(.*)`,
//! counts as set for `keepequal`/`dropequal`. [`RawRelabelConfig`] keeps those three states
//! apart; [`RawRelabelConfig::validate`] is Prometheus' `Validate`.
//!
//! Checks on one value (a label name, the action, the regex) run while that value is read, and
//! [`RelabelConfig`]'s `Deserialize` validates the rule inside the mapping's visitor, so a YAML
//! or JSON reader reports the position of the value or rule at fault.
//!
//! Names are checked by a [`NameScheme`]: rules read as Prometheus 2 reads them take the legacy
//! scheme (`[a-zA-Z_][a-zA-Z0-9_]*`); as Prometheus 3 reads them, any non-empty UTF-8 name, its
//! default. A Prometheus 3 job that asks for legacy names (`metric_name_validation_scheme:
//! legacy`) checks its rules' target names again with [`RelabelConfig::check_names`], as
//! `ScrapeConfig.Validate` does; its source label names stay read as UTF-8, as there.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use promregex::{Pattern, Release, DEFAULT_REGEX};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

pub const DEFAULT_SEPARATOR: &str = ";";
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// Prometheus' `relabelTarget` (legacy names): a label name in which `$1`/`${name}` templates
/// may stand.
static TEMPLATED_LABEL_NAME: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$").expect("static regex")
});

/// Prometheus' legacy label name rule, `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Which label names rules may name: Prometheus' `model.ValidationScheme`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NameScheme {
    /// `[a-zA-Z_][a-zA-Z0-9_]*`: Prometheus 2, or a job with `legacy` validation.
    Legacy,
    /// Any non-empty UTF-8 name: Prometheus 3's default.
    #[default]
    Utf8,
}

impl NameScheme {
    /// The scheme Prometheus `release` reads rules with.
    pub fn of_release(release: Release) -> NameScheme {
        match release {
            Release::V2 => NameScheme::Legacy,
            Release::V3 => NameScheme::Utf8,
        }
    }

    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameScheme::Legacy => is_valid_label_name(name),
            NameScheme::Utf8 => !name.is_empty(),
        }
    }

    /// A target label or `labelmap` replacement in which `$1`/`${name}` templates may stand
    /// (Prometheus' `relabelTargetLegacy` for legacy names).
    fn is_valid_templated_name(self, name: &str) -> bool {
        match self {
            NameScheme::Legacy => TEMPLATED_LABEL_NAME.is_match(name),
            NameScheme::Utf8 => !name.is_empty(),
        }
    }
}

/// What a rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Replace,
    Keep,
    Drop,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
    KeepEqual,
    DropEqual,
}

impl Action {
    const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
        Action::KeepEqual,
        Action::DropEqual,
    ];

    /// The name as written in a configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Case-insensitive, as in Prometheus.
impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Action, String> {
        let lower = s.to_lowercase();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| format!("unknown relabel action {s:?}"))
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
        parse_str(d, "a relabel action", str::parse)
    }
}

/// One validated rule with Prometheus' defaults filled in and its regex compiled.
///
/// It serializes as Prometheus marshals it, leaving out fields at their defaults, so that the
/// text reads back as the same rule (`keepequal` may not even mention `regex`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RelabelConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    pub separator: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target_label: String,
    #[serde(
        serialize_with = "serialize_pattern",
        skip_serializing_if = "is_default_regex"
    )]
    pub regex: Pattern,
    #[serde(skip_serializing_if = "is_zero")]
    pub modulus: u64,
    pub replacement: String,
    pub action: Action,
}

fn serialize_pattern<S: Serializer>(pattern: &Pattern, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(pattern.as_str())
}

fn is_default_regex(pattern: &Pattern) -> bool {
    pattern.as_str() == DEFAULT_REGEX
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The default regex, compiled once.
fn default_regex() -> Pattern {
    static DEFAULT: LazyLock<Pattern> =
        LazyLock::new(|| Pattern::new(DEFAULT_REGEX).expect("static regex"));
    DEFAULT.clone()
}

impl Default for RelabelConfig {
    /// Prometheus' `DefaultRelabelConfig`.
    fn default() -> RelabelConfig {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            target_label: String::new(),
            regex: default_regex(),
            modulus: 0,
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action: Action::Replace,
        }
    }
}

/// Why Prometheus' `Validate` refuses a rule; `Display` is Prometheus' message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidationError {
    EmptyAction,
    HashModWithoutModulus,
    MissingTargetLabel(Action),
    InvalidTargetLabel {
        target: String,
        action: Action,
    },
    ReplacementSet(Action),
    InvalidReplacement {
        replacement: String,
        action: Action,
    },
    /// `keepequal`/`dropequal` with more than `source_labels` and `target_label`.
    EqualityWithOtherFields(Action),
    /// `labeldrop`/`labelkeep` with more than `regex`.
    LabelFilterWithOtherFields(Action),
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationError::EmptyAction => f.write_str("relabel action cannot be empty"),
            ValidationError::HashModWithoutModulus => {
                f.write_str("relabel configuration for hashmod requires non-zero modulus")
            }
            ValidationError::MissingTargetLabel(action) => write!(
                f,
                "relabel configuration for {action} action requires 'target_label' value"
            ),
            ValidationError::InvalidTargetLabel { target, action } => {
                write!(f, "{target:?} is invalid 'target_label' for {action} action")
            }
            ValidationError::ReplacementSet(action) => {
                write!(f, "'replacement' can not be set for {action} action")
            }
            ValidationError::InvalidReplacement {
                replacement,
                action,
            } => write!(
                f,
                "{replacement:?} is invalid 'replacement' for {action} action"
            ),
            ValidationError::EqualityWithOtherFields(action) => write!(
                f,
                "{action} action requires only 'source_labels' and `target_label`, and no other fields"
            ),
            ValidationError::LabelFilterWithOtherFields(action) => write!(
                f,
                "{action} action requires only 'regex', and no other fields"
            ),
        }
    }
}

impl std::error::Error for ValidationError {}

/// A rule as written: `None` is an absent field, `Some(None)` a null one. Label names, the
/// action and the regex are checked as they are read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelabelConfig {
    #[serde(default, deserialize_with = "present")]
    source_labels: Option<Option<Vec<LabelName>>>,
    #[serde(default, deserialize_with = "present")]
    separator: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    target_label: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    regex: Option<Option<RegexField>>,
    #[serde(default, deserialize_with = "present")]
    modulus: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    replacement: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    action: Option<Option<Action>>,
}

/// Marks a field as present, null or not.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The value of a field that Prometheus defaults: absent → `default`, null → zero value.
fn or_default<T: Default>(field: Option<Option<T>>, default: impl FnOnce() -> T) -> T {
    match field {
        None => default(),
        Some(value) => value.unwrap_or_default(),
    }
}

/// A label name, checked as Prometheus' `model.LabelName` is when it is read.
struct LabelName(String);

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LabelName, D::Error> {
        let names = NameScheme::of_release(RELEASE.with(std::cell::Cell::get));
        parse_str(d, "a label name", |s| {
            if names.is_valid_label_name(s) {
                Ok(LabelName(s.to_string()))
            } else {
                Err(format!("{s:?} is not a valid label name"))
            }
        })
    }
}

thread_local! {
    /// The release regexes are read as by the deserializer on this thread.
    static RELEASE: std::cell::Cell<Release> = const { std::cell::Cell::new(Release::V3) };
}

/// Runs `f` (which reads relabel rules) with their regexes compiled as `release` compiles
/// them, so that a refusal reads as that release's (`^(?:…)$` for 2.x, `^(?s:…)$` for 3.x).
/// serde passes no context to a field's deserializer; the reader's own thread carries it.
pub fn with_release<R>(release: Release, f: impl FnOnce() -> R) -> R {
    struct Restore(Release);
    impl Drop for Restore {
        fn drop(&mut self) {
            RELEASE.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(RELEASE.with(|r| r.replace(release)));
    f()
}

/// A regex, compiled as it is read (as Prometheus' `relabel.Regexp` is).
struct RegexField(Pattern);

impl<'de> Deserialize<'de> for RegexField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RegexField, D::Error> {
        let release = RELEASE.with(std::cell::Cell::get);
        parse_str(d, "a regular expression", |s| {
            Pattern::for_release(s, release)
                .map(RegexField)
                .map_err(|e| e.to_string())
        })
    }
}

/// Reads a string and turns it into a `T` with `parse`, failing inside the visitor so that the
/// reader reports the value's position. (A YAML reader hands any scalar over as its text.)
fn parse_str<'de, D, T, F>(d: D, expecting: &'static str, parse: F) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&str) -> Result<T, String>,
{
    struct StrVisitor<F> {
        expecting: &'static str,
        parse: F,
    }
    impl<T, F: FnOnce(&str) -> Result<T, String>> Visitor<'_> for StrVisitor<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(StrVisitor { expecting, parse })
}

impl RawRelabelConfig {
    /// Prometheus' `relabel.Config.Validate` with the name scheme of the release being read
    /// ([`with_release`]), check for check and in Prometheus' order, after its defaults are
    /// filled in.
    pub fn validate(self) -> Result<RelabelConfig, ValidationError> {
        use Action::*;
        // Null is Go's nil slice, `[]` an empty one: only `labeldrop`/`labelkeep` care.
        let source_labels_set = matches!(self.source_labels, Some(Some(_)));
        let source_labels = or_default(self.source_labels, Vec::new);
        let action = match self.action {
            None => Replace,
            Some(None) => return Err(ValidationError::EmptyAction),
            Some(Some(action)) => action,
        };
        let regex_set = self.regex.is_some();
        let regex = match self.regex {
            None => default_regex(),
            Some(Some(RegexField(regex))) => regex,
            Some(None) => Pattern::new("").expect("the empty regex"),
        };
        let separator = or_default(self.separator, || DEFAULT_SEPARATOR.into());
        let target = or_default(self.target_label, String::new);
        let modulus = or_default(self.modulus, || 0);
        let replacement = or_default(self.replacement, || DEFAULT_REPLACEMENT.into());

        if modulus == 0 && action == HashMod {
            return Err(ValidationError::HashModWithoutModulus);
        }
        let needs_target = matches!(
            action,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if needs_target && target.is_empty() {
            return Err(ValidationError::MissingTargetLabel(action));
        }
        let names = NameScheme::of_release(RELEASE.with(std::cell::Cell::get));
        check_names(action, &target, &replacement, names)?;
        let case_or_equal = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
        if case_or_equal && replacement != DEFAULT_REPLACEMENT {
            return Err(ValidationError::ReplacementSet(action));
        }
        let default_rest =
            modulus == 0 && separator == DEFAULT_SEPARATOR && replacement == DEFAULT_REPLACEMENT;
        if matches!(action, KeepEqual | DropEqual) && (regex_set || !default_rest) {
            return Err(ValidationError::EqualityWithOtherFields(action));
        }
        if matches!(action, LabelDrop | LabelKeep)
            && (source_labels_set || !target.is_empty() || !default_rest)
        {
            return Err(ValidationError::LabelFilterWithOtherFields(action));
        }
        Ok(RelabelConfig {
            source_labels: source_labels.into_iter().map(|l| l.0).collect(),
            separator,
            target_label: target,
            regex,
            modulus,
            replacement,
            action,
        })
    }
}

/// The checks of `Validate` that depend on the name scheme, in its order: a `replace` target
/// (templated or not), a case or equality action's target, a `labelmap` replacement, a
/// `hashmod` target. (A case action's `replacement`, checked between them, cannot fail where a
/// name check of another action does.)
fn check_names(
    action: Action,
    target: &str,
    replacement: &str,
    names: NameScheme,
) -> Result<(), ValidationError> {
    use Action::*;
    let invalid_target = || ValidationError::InvalidTargetLabel {
        target: target.to_string(),
        action,
    };
    let valid_target = match action {
        Replace if target.contains('$') => names.is_valid_templated_name(target),
        Replace | Lowercase | Uppercase | KeepEqual | DropEqual | HashMod => {
            names.is_valid_label_name(target)
        }
        _ => true,
    };
    if !valid_target {
        return Err(invalid_target());
    }
    if action == LabelMap && !names.is_valid_templated_name(replacement) {
        return Err(ValidationError::InvalidReplacement {
            replacement: replacement.to_string(),
            action,
        });
    }
    Ok(())
}

impl RelabelConfig {
    /// Checks the rule's target names again under `names` (a Prometheus 3 job with legacy
    /// validation checks rules read as UTF-8 so).
    pub fn check_names(&self, names: NameScheme) -> Result<(), ValidationError> {
        check_names(self.action, &self.target_label, &self.replacement, names)
    }
}

/// Reads a rule as Prometheus' `UnmarshalYAML` does: fields, defaults, then `Validate`, whose
/// error is reported at the rule's position.
impl<'de> Deserialize<'de> for RelabelConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RelabelConfig, D::Error> {
        struct RuleVisitor;
        impl<'de> Visitor<'de> for RuleVisitor {
            type Value = RelabelConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a relabel config")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RelabelConfig, A::Error> {
                RawRelabelConfig::deserialize(MapAccessDeserializer::new(map))?
                    .validate()
                    .map_err(de::Error::custom)
            }
        }
        d.deserialize_map(RuleVisitor)
    }
}

#[cfg(test)]
mod tests;
