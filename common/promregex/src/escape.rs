//! Go's escapes and named classes, as Go's `regexp/syntax` reads them (`parseEscape`,
//! `parseUnicodeClass`, the Perl and POSIX classes), each turned into a code point or into the
//! regex crate's spelling of the same class. Kept apart from the parser in `translate`, which
//! only decides where an escape starts and what it may stand for there.

use crate::error::{Error, ErrorCode};
use crate::unicode_names;
use crate::Release;

/// Go's `\w`, `\d` and `\s`, as the items of a bracket class.
const WORD: &str = "0-9A-Za-z_";
const DIGIT: &str = "0-9";
const SPACE: &str = r"\t\n\x0C\r ";

/// Go's `parseEscape` on `s` (starting at the backslash): the code point and the escape's
/// length.
pub(crate) fn parse_escape(s: &str) -> Result<(u32, usize), Error> {
    let mut chars = s[1..].char_indices().map(|(i, c)| (i + 1, c));
    let Some((_, c)) = chars.next() else {
        return Err(Error::new(ErrorCode::TrailingBackslash, ""));
    };
    let octal = |i: usize| {
        s.as_bytes()
            .get(i)
            .filter(|b| (b'0'..=b'7').contains(b))
            .copied()
    };
    let invalid = |end: usize| Err(Error::new(ErrorCode::InvalidEscape, &s[..end.min(s.len())]));
    match c {
        // A single non-zero digit would be a backreference, which Go refuses.
        '1'..='7' if octal(2).is_none() => invalid(2),
        '0'..='7' => {
            let mut code = c as u32 - '0' as u32;
            let mut end = 2;
            while end < 4 {
                let Some(digit) = octal(end) else { break };
                code = code * 8 + u32::from(digit - b'0');
                end += 1;
            }
            Ok((code, end))
        }
        'x' => hex_escape(s).or_else(invalid),
        'a' => Ok((0x07, 2)),
        'f' => Ok((0x0C, 2)),
        'n' => Ok((0x0A, 2)),
        'r' => Ok((0x0D, 2)),
        't' => Ok((0x09, 2)),
        'v' => Ok((0x0B, 2)),
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c as u32, 2)),
        c => invalid(1 + c.len_utf8()),
    }
}

/// `\xHH` or `\x{H...}` on `s` (starting at the backslash); on failure, where Go stopped.
fn hex_escape(s: &str) -> Result<(u32, usize), usize> {
    let digit = |i: usize| s.as_bytes().get(i).and_then(|&b| (b as char).to_digit(16));
    if s.len() <= 2 {
        return Err(2);
    }
    if !s[2..].starts_with('{') {
        let next = s[2..].chars().next().map_or(0, char::len_utf8);
        return match (digit(2), digit(3)) {
            (Some(x), Some(y)) => Ok((x * 16 + y, 4)),
            (Some(_), None) => Err(3 + s[3..].chars().next().map_or(0, char::len_utf8)),
            (None, _) => Err(2 + next + s[2 + next..].chars().next().map_or(0, char::len_utf8)),
        };
    }
    let mut code: u32 = 0;
    let mut end = 3;
    loop {
        let Some(c) = s[end..].chars().next() else {
            return Err(end);
        };
        end += c.len_utf8();
        if c == '}' {
            break;
        }
        let Some(value) = c.to_digit(16) else {
            return Err(end);
        };
        code = code * 16 + value;
        if code > char::MAX as u32 {
            return Err(end);
        }
    }
    if end == 4 {
        return Err(end);
    }
    Ok((code, end))
}

/// `\pL`, `\p{Greek}`, `\P{^Lu}` at the start of `s`: Go's `parseUnicodeClass`, as the regex
/// crate's class and the escape's length.
pub(crate) fn unicode_class(s: &str, release: Release) -> Result<(String, usize), Error> {
    let mut negated = s.as_bytes()[1] == b'P';
    let (seq, name) = match s[2..].chars().next() {
        Some('{') => {
            let Some(end) = s.find('}') else {
                return Err(Error::new(ErrorCode::InvalidCharRange, s));
            };
            (&s[..=end], &s[3..end])
        }
        Some(c) => (&s[..2 + c.len_utf8()], &s[2..2 + c.len_utf8()]),
        None => (s, ""),
    };
    let name = match name.strip_prefix('^') {
        Some(name) => {
            negated = !negated;
            name
        }
        None => name,
    };
    let rust = match release {
        Release::V2 => unicode_names::lookup_go119(name),
        Release::V3 => unicode_names::lookup(name),
    };
    let rust = rust.ok_or_else(|| Error::new(ErrorCode::InvalidCharRange, seq))?;
    let p = if negated { 'P' } else { 'p' };
    Ok((format!(r"\{p}{{{rust}}}"), seq.len()))
}

/// Go's Perl classes, ASCII-only, as a class (or, in a bracket class, its items). Negations
/// stay a nested class inside a bracket class: the regex crate unions nested classes, which is
/// what Go's `[a\D]` means.
pub(crate) fn perl_class(c: char, in_class: bool) -> Option<String> {
    let (items, negated) = match c {
        'd' => (DIGIT, false),
        'w' => (WORD, false),
        's' => (SPACE, false),
        'D' => (DIGIT, true),
        'W' => (WORD, true),
        'S' => (SPACE, true),
        _ => return None,
    };
    Some(match (negated, in_class) {
        (false, true) => items.to_string(),
        (false, false) => format!("[{items}]"),
        (true, _) => format!("[^{items}]"),
    })
}

/// Go's POSIX classes, `[:alpha:]` and `[:^alpha:]`; the regex crate knows the same ones.
pub(crate) fn is_posix_class(name: &str) -> bool {
    const NAMES: [&str; 14] = [
        "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
        "space", "upper", "word", "xdigit",
    ];
    let inner = &name[2..name.len() - 2];
    NAMES.contains(&inner.strip_prefix('^').unwrap_or(inner))
}
