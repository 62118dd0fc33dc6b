//! Serde helpers that read YAML the way Prometheus' Go YAML library (yaml.v2, strict mode) does,
//! so that a prometheus.yml means the same thing to wasmfed.
//!
//! - A null value (`key:` or `key: ~`) sets a field to its zero value, not to its default:
//!   `honor_timestamps:` is false, `separator:` is empty ([`null_as_zero`]).
//! - Booleans accept the YAML 1.1 spellings `yes`/`no`/`on`/`off` ([`Bool`]).
//! - Any scalar can stand where a string is expected (`slave: 1` is the label value `"1"`);
//!   serde_yaml already reads a plain scalar's text into a `String`.
//! - Mappings reject a key written twice ([`UniqueMap`], [`KeySet`]).
//! - Merge keys (`<<: *defaults`) are applied, as yaml.v2 applies them while decoding
//!   ([`from_str`]).
//!
//! Validation that concerns one scalar runs inside its visitor ([`parse_scalar`]) and validation
//! that concerns a whole mapping runs inside the mapping's visitor ([`checked_map`]): serde_yaml
//! then reports the key path, line and column of the offending value or mapping, which a check
//! made after deserialization could not.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use wasmfed_model::labels::is_valid_label_name;
use wasmfed_model::Labels;

/// Decodes a document, applying YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`) first: keys
/// written in a mapping win over merged ones, as in yaml.v2. serde_yaml leaves merging to the
/// caller and can only do it on a `Value`, whose errors carry no line numbers, so only a
/// document that has a merge key goes that way.
pub(super) fn from_str<T: de::DeserializeOwned>(text: &str) -> Result<T, serde_yaml::Error> {
    if !text.contains("<<") {
        return serde_yaml::from_str(text);
    }
    let mut value: serde_yaml::Value = serde_yaml::from_str(text)?;
    value.apply_merge()?;
    serde_yaml::from_value(value)
}

/// Reads a scalar's text and turns it into a `T` with `parse`; a failure is reported at the
/// scalar's position.
pub(super) fn parse_scalar<'de, D, T, F>(
    d: D,
    expecting: &'static str,
    parse: F,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&str) -> Result<T, String>,
{
    struct ScalarVisitor<F> {
        expecting: &'static str,
        parse: F,
    }
    impl<'de, T, F: FnOnce(&str) -> Result<T, String>> Visitor<'de> for ScalarVisitor<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(ScalarVisitor { expecting, parse })
}

/// Reads a mapping into the raw form `R`, then turns it into a `T` with `check`; a failure is
/// reported at the mapping's key path and position.
pub(super) fn checked_map<'de, D, R, T, F>(
    d: D,
    expecting: &'static str,
    check: F,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    R: Deserialize<'de>,
    F: FnOnce(R) -> Result<T, String>,
{
    struct MapVisitor<R, F> {
        expecting: &'static str,
        check: F,
        raw: PhantomData<R>,
    }
    impl<'de, R, T, F> Visitor<'de> for MapVisitor<R, F>
    where
        R: Deserialize<'de>,
        F: FnOnce(R) -> Result<T, String>,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            let raw = R::deserialize(MapAccessDeserializer::new(map))?;
            (self.check)(raw).map_err(de::Error::custom)
        }
    }
    d.deserialize_map(MapVisitor {
        expecting,
        check,
        raw: PhantomData,
    })
}

/// For `#[serde(deserialize_with)]`: null becomes `T::default()` (Go's zero value).
pub(super) fn null_as_zero<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// For hand-written visitors, on a value read as `Option<T>`: null becomes Go's zero value.
pub(super) fn zero_if_null<T: Default>(value: Option<T>) -> T {
    value.unwrap_or_default()
}

/// A boolean, also spelled the YAML 1.1 way (`yes`, `off`, ...) as Go's yaml.v2 reads it; null
/// is false.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Bool(pub bool);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BoolVisitor;
        impl<'de> Visitor<'de> for BoolVisitor {
            type Value = Bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Bool, E> {
                Ok(Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Bool, E> {
                Ok(Bool(false))
            }
            fn visit_none<E: de::Error>(self) -> Result<Bool, E> {
                Ok(Bool(false))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bool, E> {
                match v {
                    "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Ok(Bool(true)),
                    "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Ok(Bool(false)),
                    _ => Err(E::invalid_type(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(BoolVisitor)
    }
}

/// A mapping kept in document order that rejects a key written twice, as yaml.v2's strict mode
/// does (`key "a" already set in map`). A null mapping is empty.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct UniqueMap<K, V>(pub Vec<(K, V)>);

impl<K, V> Default for UniqueMap<K, V> {
    fn default() -> Self {
        UniqueMap(Vec::new())
    }
}

/// Mapping keys that can be compared for duplicates.
pub(super) trait MapKey {
    fn as_key(&self) -> &str;
}

impl MapKey for String {
    fn as_key(&self) -> &str {
        self
    }
}

impl<'de, K, V> Deserialize<'de> for UniqueMap<K, V>
where
    K: Deserialize<'de> + MapKey,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct UniqueVisitor<K, V>(PhantomData<(K, V)>);
        impl<'de, K, V> Visitor<'de> for UniqueVisitor<K, V>
        where
            K: Deserialize<'de> + MapKey,
            V: Deserialize<'de>,
        {
            type Value = UniqueMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(UniqueMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut keys = KeySet::default();
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<K>()? {
                    if !keys.insert(key.as_key()) {
                        return Err(de::Error::custom(format!(
                            "key {:?} already set in map",
                            key.as_key()
                        )));
                    }
                    entries.push((key, map.next_value()?));
                }
                Ok(UniqueMap(entries))
            }
        }
        d.deserialize_any(UniqueVisitor(PhantomData))
    }
}

/// The keys seen so far in a mapping read by hand, to reject duplicates.
#[derive(Default)]
pub(super) struct KeySet(HashSet<String>);

impl KeySet {
    /// Records `key`; false if it was seen before.
    pub(super) fn insert(&mut self, key: &str) -> bool {
        self.0.insert(key.to_string())
    }

    /// Records `key`, or fails the way serde's derived code does for a repeated field.
    pub(super) fn check<E: de::Error>(&mut self, key: &str) -> Result<(), E> {
        if self.insert(key) {
            Ok(())
        } else {
            Err(E::custom(format!("duplicate field `{key}`")))
        }
    }
}

/// A label name checked as Prometheus' `model.LabelName` does when it is unmarshalled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LabelName(pub String);

impl MapKey for LabelName {
    fn as_key(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_scalar(d, "a label name", |s| {
            if is_valid_label_name(s) {
                Ok(LabelName(s.to_string()))
            } else {
                Err(format!("{s:?} is not a valid label name"))
            }
        })
    }
}

/// A label set as `model.LabelSet` reads it: valid names, any scalar as value, null as "".
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct LabelSet(pub Labels);

impl<'de> Deserialize<'de> for LabelSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = UniqueMap::<LabelName, Option<String>>::deserialize(d)?;
        Ok(LabelSet(Labels::from_pairs(
            map.0
                .into_iter()
                .map(|(name, value)| (name.0, value.unwrap_or_default())),
        )))
    }
}

/// libyaml's parser problems that carry no context; every other problem without one comes from
/// the scanner.
const PARSER_PROBLEMS_WITHOUT_CONTEXT: [&str; 5] = [
    "did not find expected <stream-start>",
    "did not find expected <document start>",
    "found duplicate %YAML directive",
    "found incompatible YAML document",
    "found duplicate %TAG directive",
];

/// A YAML syntax error in `text`, in the words Prometheus prints for a config file
/// (`yaml: line 13: did not find expected ',' or ']'`); None when the text parses.
///
/// yaml.v2 parses the whole document before decoding it, so a syntax error anywhere wins over a
/// schema error earlier in the text, whereas serde_yaml decodes as it parses: hence a parse on
/// its own first. yaml.v2's `parser.fail` (decode.go) names the problem's 0-based line, plus one
/// for a scanner error only, or the context's 0-based line when the problem is on the first.
pub(super) fn go_syntax_error(text: &str) -> Option<String> {
    let error = serde_yaml::from_str::<de::IgnoredAny>(text).err()?;
    let location = error.location()?;
    let words = error.to_string();
    let (problem, rest) = words.split_once(" at line ")?;
    let context = rest.split_once(", ").map(|(_, c)| c);
    let scanner = match context {
        Some(c) => c.starts_with("while scanning"),
        None => !PARSER_PROBLEMS_WITHOUT_CONTEXT.contains(&problem),
    };
    let context_line = context
        .and_then(|c| c.split_once(" at line "))
        .and_then(|(_, at)| at.split(' ').next()?.parse::<usize>().ok())
        .map_or(0, |line| line - 1);
    let line = match location.line() - 1 {
        0 => context_line,
        line => line + usize::from(scanner),
    };
    Some(match line {
        0 => format!("yaml: {problem}"),
        line => format!("yaml: line {line}: {problem}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default, deserialize_with = "null_as_zero")]
        text: String,
        #[serde(default)]
        labels: LabelSet,
        #[serde(default)]
        map: UniqueMap<String, String>,
    }

    #[test]
    fn booleans_the_yaml_1_1_way() {
        for (yaml, value) in [
            ("true", true),
            ("yes", true),
            ("On", true),
            ("Y", true),
            ("false", false),
            ("no", false),
            ("OFF", false),
            ("~", false),
        ] {
            let b: Bool = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(b.0, value, "{yaml}");
        }
        let err = serde_yaml::from_str::<Bool>("maybe")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a boolean"), "{err}");
    }

    #[test]
    fn go_yaml_readings() {
        for (yaml, text, labels, map) in [
            ("text: 1", "1", "{}", vec![]),
            ("text: ~", "", "{}", vec![]),
            ("text: 1.50", "1.50", "{}", vec![]),
            (
                "labels: {slave: 1, up: true, e: ~, f: 0x1F}",
                "",
                r#"{e="", f="0x1F", slave="1", up="true"}"#,
                vec![],
            ),
            ("labels:", "", "{}", vec![]),
            ("map: {b: 2, a: 1}", "", "{}", vec![("b", "2"), ("a", "1")]),
        ] {
            let doc: Doc = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(doc.text, text, "{yaml}");
            assert_eq!(doc.labels.0.to_string(), labels, "{yaml}");
            let pairs: Vec<_> = doc
                .map
                .0
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(pairs, map, "{yaml}");
        }
    }

    #[test]
    fn errors_carry_path_and_position() {
        for (yaml, message) in [
            (
                "labels:\n  1a: x",
                "labels: \"1a\" is not a valid label name at line 2 column 3",
            ),
            (
                "labels: {a: 1, a: 2}",
                "labels: key \"a\" already set in map at line 1 column 9",
            ),
            ("map: {a: 1, a: 2}", "map: key \"a\" already set in map"),
        ] {
            let err = serde_yaml::from_str::<Doc>(yaml)
                .expect_err(yaml)
                .to_string();
            assert!(err.contains(message), "{yaml}: {err}");
        }
    }

    #[test]
    fn syntax_errors_in_go_words() {
        // promtool 2.42's messages for the same texts.
        for (yaml, go) in [
            // A parser error: yaml.v2 names the 0-based line.
            (
                "a:\n  b:\n    - targets: [${x}]\n",
                "yaml: line 2: did not find expected ',' or ']'",
            ),
            // Scanner errors: the 1-based line.
            (
                "a: b\n  c: d\n",
                "yaml: line 2: mapping values are not allowed in this context",
            ),
            ("a: \"b\n", "yaml: line 2: found unexpected end of stream"),
            // A parse error after a schema error is still what is reported.
            (
                "unknown: 1\nb: [\n",
                "yaml: line 2: did not find expected node content",
            ),
        ] {
            assert_eq!(go_syntax_error(yaml).as_deref(), Some(go), "{yaml:?}");
        }
        assert_eq!(go_syntax_error("a: [b, c]\nd: {e: f}\n"), None);
    }
}
