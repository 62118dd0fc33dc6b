//! `replacement` and `target_label` templates, expanded with Go's `Regexp.Expand` rules, parsed
//! once per rule at `init` against that rule's regex.
//!
//! Go's rules: `$$` is a `$`; `$name` takes the longest run of letters, digits and `_` as the
//! name (so `$1x` names group `1x`, not group 1 then `x`), `${name}` ends at the brace; a name
//! of digits without a leading zero is a group number; a name or number the regex does not have
//! expands to nothing, as does a group that took no part in the match; a `$` that starts no
//! name is kept as text. Since every name resolves against the rule's own regex, a template
//! becomes a list of texts and group indexes and expanding it does no parsing.

use std::sync::LazyLock;

use promregex::{Groups, Pattern};

/// Go's `unicode.IsLetter || unicode.IsDigit` for characters outside ASCII.
static NAME_CHAR: LazyLock<Pattern> =
    LazyLock::new(|| Pattern::new(r"[\p{L}\p{Nd}]").expect("static regex"));

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Group(usize),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(template: &str, pattern: &Pattern) -> Template {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = template;
        while let Some(dollar) = rest.find('$') {
            text.push_str(&rest[..dollar]);
            rest = &rest[dollar + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                text.push('$');
                rest = after;
                continue;
            }
            let Some((name, after)) = extract_name(rest) else {
                text.push('$');
                continue;
            };
            rest = after;
            if let Some(index) = resolve(name, pattern) {
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Group(index));
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Template { parts }
    }

    /// The expansion when it does not depend on the match.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }

    /// Appends the expansion for `groups` to `out`.
    pub fn expand_into(&self, groups: &Groups<'_>, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Group(index) => out.push_str(groups.get(*index).unwrap_or_default()),
            }
        }
    }
}

/// Go's `extract`: the name after a `$`, plain or in braces, and the rest of the template.
fn extract_name(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !is_name_char(c))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let (name, rest) = body.split_at(end);
    if braced {
        return rest.strip_prefix('}').map(|rest| (name, rest));
    }
    Some((name, rest))
}

fn is_name_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    NAME_CHAR.is_match(c.encode_utf8(&mut [0; 4]))
}

/// The group a name stands for: digits without a leading zero are a number, anything else a
/// group name (the regex crate allows no all-digit names, so such names match nothing).
fn resolve(name: &str, pattern: &Pattern) -> Option<usize> {
    let numeric =
        name.bytes().all(|b| b.is_ascii_digit()) && (name == "0" || !name.starts_with('0'));
    let index = if numeric {
        name.parse::<usize>().ok()?
    } else {
        pattern.group_index(name)?
    };
    (index < pattern.groups_len()).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(regex: &str, template: &str, value: &str) -> String {
        let pattern = Pattern::new(regex).unwrap();
        let template = Template::parse(template, &pattern);
        let mut locs = pattern.capture_locations();
        let groups = pattern.captures(value, &mut locs).expect("match");
        let mut out = String::new();
        template.expand_into(&groups, &mut out);
        out
    }

    #[test]
    fn expands_like_go() {
        let re = "(?P<first>a+)(b+)(c)?";
        for (template, want) in [
            ("$1", "aa"),
            ("${1}", "aa"),
            ("$2", "bbb"),
            ("$0", "aabbb"),
            ("${0}", "aabbb"),
            ("$first", "aa"),
            ("${first}", "aa"),
            ("${first}x", "aax"),
            // The longest name wins: group `1x` does not exist.
            ("$1x", ""),
            ("${1}x", "aax"),
            ("$firstx", ""),
            ("$1_$2", "bbb"),
            ("${1}_$2", "aa_bbb"),
            // A group that took no part, one beyond the regex, a leading zero: empty.
            ("[$3]", "[]"),
            ("[$4]", "[]"),
            ("[$01]", "[]"),
            ("[$99999999999999999999]", "[]"),
            ("[$unknown]", "[]"),
            // `$$` is a dollar; a `$` that starts no name stays.
            ("$$1", "$1"),
            ("$$$1", "$aa"),
            ("a$", "a$"),
            ("$-", "$-"),
            ("${}", "${}"),
            ("${1", "${1"),
            ("${1-}", "${1-}"),
            ("${ 1}", "${ 1}"),
            ("no dollar", "no dollar"),
            ("", ""),
            // Names run over Unicode letters and digits, as in Go.
            ("$1é", ""),
            ("$1٣", ""),
            ("$1€", "aa€"),
            ("$1-$2", "aa-bbb"),
        ] {
            assert_eq!(expand(re, template, "aabbb"), want, "{template:?}");
        }
    }

    #[test]
    fn default_regex_groups() {
        for (template, want) in [("$1", "v"), ("$0", "v"), ("$2", ""), ("x${1}x", "xvx")] {
            assert_eq!(expand("(.*)", template, "v"), want, "{template:?}");
        }
    }

    #[test]
    fn literals() {
        let pattern = Pattern::new("(a)").unwrap();
        for (template, literal) in [
            ("abc", Some("abc")),
            ("", Some("")),
            ("a$$b", Some("a$b")),
            ("a$2b", Some("a")),
            ("a${2}b", Some("ab")),
            ("$x", Some("")),
            ("$1", None),
            ("a${1}", None),
        ] {
            assert_eq!(
                Template::parse(template, &pattern).as_literal(),
                literal,
                "{template:?}"
            );
        }
    }
}
