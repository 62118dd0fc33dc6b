//! The `lowercase` and `uppercase` actions' case mapping, as Go's `strings.ToLower`/`ToUpper`.
//!
//! Go maps each character on its own with Unicode's simple (one-to-one) mapping; Rust's `str`
//! methods use the full mapping, which can turn one character into several (`ß` → `SS`) and
//! looks at context (a final `Σ` → `ς`). Mapping char by char removes the context; where the
//! full mapping still yields several characters, the simple mapping is what Go uses: `İ` → `i`
//! when lowering, and when raising, the Greek letters with iota subscript map to their
//! titlecase forms while every other such character (`ß`, `ŉ`, ligatures, ...) stays as it is.
//! Values are usually ASCII, which takes a fast path.

/// Go's `strings.ToLower`.
pub fn to_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars().map(simple_lower).collect()
}

/// Go's `strings.ToUpper`.
pub fn to_upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars().map(simple_upper).collect()
}

fn simple_lower(c: char) -> char {
    // The one character whose full lowercase mapping has two characters (`i` + dot above).
    if c == '\u{130}' {
        return 'i';
    }
    single(c.to_lowercase()).unwrap_or(c)
}

fn simple_upper(c: char) -> char {
    if let Some(upper) = single(c.to_uppercase()) {
        return upper;
    }
    match c {
        // Small letter with ypogegrammeni → capital with prosgegrammeni (UnicodeData's simple
        // uppercase), e.g. ᾳ → ᾼ.
        '\u{1F80}'..='\u{1F87}' | '\u{1F90}'..='\u{1F97}' | '\u{1FA0}'..='\u{1FA7}' => {
            char::from_u32(c as u32 + 8).unwrap_or(c)
        }
        '\u{1FB3}' | '\u{1FC3}' | '\u{1FF3}' => char::from_u32(c as u32 + 9).unwrap_or(c),
        _ => c,
    }
}

fn single(mut mapped: impl Iterator<Item = char>) -> Option<char> {
    let first = mapped.next()?;
    mapped.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_like_go() {
        for (input, want) in [
            ("bAr123Foo", "bar123foo"),
            ("", ""),
            ("ÀÉÎ", "àéî"),
            ("ΟΔΟΣ", "οδοσ"),
            ("İ", "i"),
            ("K", "k"),
            ("ǅ", "ǆ"),
        ] {
            assert_eq!(to_lower(input), want, "{input}");
        }
    }

    #[test]
    fn upper_like_go() {
        for (input, want) in [
            ("bAr123Foo", "BAR123FOO"),
            ("àéî", "ÀÉÎ"),
            ("ß", "ß"),
            ("ﬃ", "ﬃ"),
            ("ŉ", "ŉ"),
            ("ᾳ", "ᾼ"),
            ("ᾀ", "ᾈ"),
            ("ᾧ", "ᾯ"),
            ("ῃ", "ῌ"),
            ("ῳ", "ῼ"),
            ("ᾼ", "ᾼ"),
            ("ſ", "S"),
            ("ǅ", "Ǆ"),
        ] {
            assert_eq!(to_upper(input), want, "{input}");
        }
    }
}
