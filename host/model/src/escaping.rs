//! Names outside the legacy character set in the text format, as Prometheus 3's `expfmt`
//! writes them: quoted where the reader allows UTF-8 (`escaping=allow-utf-8`), otherwise
//! rewritten into legacy names by the negotiated scheme (`model.EscapeName`).
//!
//! A legacy metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) is always written as it is, for metric
//! and label names alike (`expfmt` checks label names with the metric-name rule too).

use std::fmt;

use crate::expfmt::push_label_value;
use crate::labels::is_valid_metric_name;

/// What a reader is asked (or asks) to do with names outside the legacy character set: the
/// `escaping` parameter of an `Accept` or `Content-Type` header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NameEscaping {
    /// Send them as they are, quoted (`allow-utf-8`).
    #[default]
    AllowUtf8,
    Underscores,
    Dots,
    Values,
}

impl NameEscaping {
    /// The `escaping` parameter's value.
    pub fn as_str(self) -> &'static str {
        match self {
            NameEscaping::AllowUtf8 => "allow-utf-8",
            NameEscaping::Underscores => "underscores",
            NameEscaping::Dots => "dots",
            NameEscaping::Values => "values",
        }
    }

    /// The scheme an `escaping` parameter names, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "allow-utf-8" => NameEscaping::AllowUtf8,
            "underscores" => NameEscaping::Underscores,
            "dots" => NameEscaping::Dots,
            "values" => NameEscaping::Values,
            _ => return None,
        })
    }
}

impl fmt::Display for NameEscaping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Go's `isValidLegacyRune`: the character at byte offset `i` of a legacy name.
fn legacy_rune(c: char, i: usize) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (c.is_ascii_digit() && i > 0)
}

/// `model.EscapeName`: `name` escaped by `scheme`. Legacy names stay as they are but for
/// `dots`, which doubles their underscores (`/federate` never asks it to: a family or label
/// with a legacy name is not escaped at all).
pub fn push_escaped_name(out: &mut Vec<u8>, name: &str, scheme: NameEscaping) {
    let mut buf = [0u8; 4];
    let legacy = name.is_empty() || is_valid_metric_name(name);
    match scheme {
        NameEscaping::Underscores | NameEscaping::Values if legacy => {
            out.extend_from_slice(name.as_bytes())
        }
        NameEscaping::AllowUtf8 => out.extend_from_slice(name.as_bytes()),
        NameEscaping::Underscores => {
            for (i, c) in name.char_indices() {
                out.push(if legacy_rune(c, i) { c as u8 } else { b'_' });
            }
        }
        NameEscaping::Dots => {
            for (i, c) in name.char_indices() {
                match c {
                    '_' => out.extend_from_slice(b"__"),
                    '.' => out.extend_from_slice(b"_dot_"),
                    c if legacy_rune(c, i) => out.push(c as u8),
                    _ => out.extend_from_slice(b"__"),
                }
            }
        }
        NameEscaping::Values => {
            out.extend_from_slice(b"U__");
            for (i, c) in name.char_indices() {
                match c {
                    '_' => out.extend_from_slice(b"__"),
                    c if legacy_rune(c, i) => {
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes())
                    }
                    c => {
                        out.push(b'_');
                        out.extend_from_slice(format!("{:x}", c as u32).as_bytes());
                        out.push(b'_');
                    }
                }
            }
        }
    }
}

/// Appends `name` as `expfmt`'s `writeName` does after escaping by `scheme` (None: a reader of
/// Prometheus 2, names written as they are): a legacy name plainly, any other escaped, or,
/// with `allow-utf-8`, quoted with the label-value escapes.
pub fn push_name(out: &mut Vec<u8>, name: &str, scheme: Option<NameEscaping>) {
    match scheme {
        Some(scheme) if !is_valid_metric_name(name) => match scheme {
            NameEscaping::AllowUtf8 => {
                out.push(b'"');
                push_label_value(out, name);
                out.push(b'"');
            }
            _ => push_escaped_name(out, name, scheme),
        },
        _ => out.extend_from_slice(name.as_bytes()),
    }
}

/// Whether a metric name goes inside the braces (`{"my.metric",a="b"}`): a non-legacy name
/// written for a UTF-8 reader.
pub fn name_inside_braces(name: &str, scheme: Option<NameEscaping>) -> bool {
    scheme == Some(NameEscaping::AllowUtf8) && !is_valid_metric_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use NameEscaping::*;

    #[test]
    fn names_escape_as_prometheus_common_escapes_them() {
        // model/metric_test.go's TestEscapeName vectors.
        for (name, underscores, dots, values) in [
            ("", "", "", ""),
            (
                "no:escaping_required",
                "no:escaping_required",
                "no:escaping__required",
                "no:escaping_required",
            ),
            (
                "mysystem.prod.west.cpu.load",
                "mysystem_prod_west_cpu_load",
                "mysystem_dot_prod_dot_west_dot_cpu_dot_load",
                "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load",
            ),
            (
                "mysystem.prod.west.cpu.load_total",
                "mysystem_prod_west_cpu_load_total",
                "mysystem_dot_prod_dot_west_dot_cpu_dot_load__total",
                "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load__total",
            ),
            (
                "http.status:sum",
                "http_status:sum",
                "http_dot_status:sum",
                "U__http_2e_status:sum",
            ),
            (
                "label with 😱",
                "label_with__",
                "label__with____",
                "U__label_20_with_20__1f631_",
            ),
            ("花火", "__", "____", "U___82b1__706b_"),
            (
                "label with \u{100}",
                "label_with__",
                "label__with____",
                "U__label_20_with_20__100_",
            ),
            ("6a", "_a", "__a", "U___36_a"),
        ] {
            for (scheme, want) in [(Underscores, underscores), (Dots, dots), (Values, values)] {
                let mut out = Vec::new();
                push_escaped_name(&mut out, name, scheme);
                assert_eq!(String::from_utf8(out).unwrap(), want, "{name:?} {scheme:?}");
            }
        }
    }

    #[test]
    fn names_are_written_as_expfmt_writes_them() {
        for (name, scheme, want) in [
            ("up", None, "up"),
            ("a.b", None, "a.b"),
            ("up", Some(AllowUtf8), "up"),
            ("a.b", Some(AllowUtf8), r#""a.b""#),
            ("q\"\n\\", Some(AllowUtf8), r#""q\"\n\\""#),
            ("a.b", Some(Underscores), "a_b"),
        ] {
            let mut out = Vec::new();
            push_name(&mut out, name, scheme);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{name:?} {scheme:?}");
        }
        assert!(name_inside_braces("a.b", Some(AllowUtf8)));
        assert!(!name_inside_braces("a.b", Some(Underscores)));
        assert!(!name_inside_braces("ab", Some(AllowUtf8)));
    }
}
