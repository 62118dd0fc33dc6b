//! Go's RE2 syntax, read as Go's `regexp/syntax` parses it (Perl flags, as `regexp.Compile`
//! does), rewritten into the regex crate's syntax; what Go refuses is refused with Go's error.
//!
//! The two dialects agree on most syntax, but not all of it, and a regex must mean in wasmfed
//! what it means in Prometheus, whatever the regex crate's features:
//! - Go's Perl classes (`\d`, `\w`, `\s`, `\b` and negations) are ASCII-only; the crate's are
//!   Unicode-wide. They are written out as ASCII classes.
//! - Go reads `\Q...\E` as quoted text, octal escapes (`\012`), a `{` that starts no valid
//!   repetition (`a{b}`, `x{,1}`, `a{01}`) as a literal, and `[`, `&&`, `~~`, `--` inside a
//!   bracket class as plain characters; the crate does not, so those become escaped literals.
//! - Go refuses what the crate accepts: flags other than `imsU` (`(?x)`), escapes it does not
//!   know (`\u00fc`, `\<`, `\e`), repetition counts over 1000 (also nested: `(a{100}){20}`),
//!   `\p` names beyond categories and scripts (`\p{Alphabetic}`), nested repetition (`a**`).
//!
//! Like Go's parser this is one pass over the text that keeps a stack of open groups; it builds
//! no tree, only the weight of the innermost atom and of each open group, which is what Go's
//! repetition limit needs (the largest product of nested counts).

use crate::error::{Error, ErrorCode};
use crate::escape::{is_posix_class, parse_escape, perl_class, unicode_class};
use crate::Release;

/// Go's `maxRepeat`: the largest count, and the largest product of nested counts.
const MAX_REPEAT: u64 = 1000;

/// Stands for a code point Go accepts but no `char` is (a surrogate): it matches nothing.
const NO_MATCH: &str = r"[^\x00-\x{10FFFF}]";

/// Rewrites a whole Go regex (anchors included, when it has any) into the regex crate's syntax,
/// read as a current Go reads it.
pub fn translate(go: &str) -> Result<String, Error> {
    translate_for(go, Release::V3)
}

/// [`translate`] as the Go `release` was built with reads the regex.
pub fn translate_for(go: &str, release: Release) -> Result<String, Error> {
    Translator {
        whole: go,
        release,
        pos: 0,
        out: String::with_capacity(go.len() + 16),
        groups: vec![0],
        atom: None,
        last_repeat: None,
    }
    .run()
}

struct Translator<'a> {
    whole: &'a str,
    release: Release,
    /// Byte offset of the next character to read.
    pos: usize,
    out: String,
    /// The weight of each open group's finished atoms; the first entry is the whole regex.
    groups: Vec<u64>,
    /// The weight of the atom a repetition would apply to, if there is one: the largest product
    /// of the counted repetitions nested in it (1 for a plain atom).
    atom: Option<u64>,
    /// Where the previous item started, when it was a repetition operator.
    last_repeat: Option<usize>,
}

impl<'a> Translator<'a> {
    fn run(mut self) -> Result<String, Error> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            let mut repeated = false;
            match c {
                '(' => self.open_group()?,
                ')' => self.close_group()?,
                '|' => {
                    self.finish_atom();
                    self.copy(1);
                }
                '^' | '$' | '.' => {
                    self.begin_atom(1);
                    self.copy(1);
                }
                '[' => self.class()?,
                '*' | '+' | '?' => {
                    self.repeat(start, start + 1, None)?;
                    repeated = true;
                }
                '{' => match parse_repeat(self.rest()) {
                    Some((min, max, len)) => {
                        self.repeat(start, start + len, Some((min, max)))?;
                        repeated = true;
                    }
                    None => {
                        self.begin_atom(1);
                        self.pos += 1;
                        self.out.push_str(r"\{");
                    }
                },
                '\\' => self.escape()?,
                _ => {
                    self.begin_atom(1);
                    self.pos += c.len_utf8();
                    push_literal(&mut self.out, c as u32);
                }
            }
            self.last_repeat = repeated.then_some(start);
        }
        self.finish_atom();
        if self.groups.len() != 1 {
            return Err(Error::new(ErrorCode::MissingParen, self.whole));
        }
        Ok(self.out)
    }

    fn rest(&self) -> &'a str {
        &self.whole[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Copies the next `len` bytes as they are.
    fn copy(&mut self, len: usize) {
        self.out.push_str(&self.whole[self.pos..self.pos + len]);
        self.pos += len;
    }

    fn begin_atom(&mut self, weight: u64) {
        self.finish_atom();
        self.atom = Some(weight);
    }

    fn finish_atom(&mut self) {
        if let Some(weight) = self.atom.take() {
            let group = self.groups.last_mut().expect("the whole regex is a group");
            *group = (*group).max(weight);
        }
    }

    /// `(`, `(?P<name>`, `(?<name>`, `(?flags)` or `(?flags:`: Go's `parsePerlFlags`.
    fn open_group(&mut self) -> Result<(), Error> {
        let rest = self.rest();
        if !rest.starts_with("(?") {
            self.finish_atom();
            self.groups.push(0);
            self.copy(1);
            return Ok(());
        }
        let name_start = if rest.len() > 4 && rest[2..].starts_with("P<") {
            Some(4)
        } else if rest.len() > 3 && rest[2..].starts_with('<') && self.release == Release::V3 {
            Some(3)
        } else {
            None
        };
        if let Some(name_start) = name_start {
            let Some(end) = rest.find('>') else {
                return Err(Error::new(ErrorCode::InvalidNamedCapture, rest));
            };
            let name = &rest[name_start..end];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(Error::new(ErrorCode::InvalidNamedCapture, &rest[..=end]));
            }
            self.finish_atom();
            self.groups.push(0);
            self.out.push_str(&format!("(?P<{name}>"));
            self.pos += end + 1;
            return Ok(());
        }
        // Go lets a flag repeat or be set and cleared in one group (the last word wins); the
        // regex crate refuses both, so the net change is written out.
        let mut on = String::new();
        let mut off = String::new();
        let mut negated = false;
        let mut saw_flag = false;
        for (i, c) in rest.char_indices().skip(2) {
            let consumed = i + c.len_utf8();
            let refused = || Err(Error::new(ErrorCode::InvalidPerlOp, &rest[..consumed]));
            match c {
                'i' | 'm' | 's' | 'U' => {
                    let (set, clear) = if negated {
                        (&mut off, &mut on)
                    } else {
                        (&mut on, &mut off)
                    };
                    clear.retain(|f| f != c);
                    if !set.contains(c) {
                        set.push(c);
                    }
                    saw_flag = true;
                }
                '-' if !negated => {
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' if !negated || saw_flag => {
                    let flags = match (on.is_empty(), off.is_empty()) {
                        (true, true) => String::new(),
                        (false, true) => on,
                        (_, false) => format!("{on}-{off}"),
                    };
                    if c == ':' {
                        self.finish_atom();
                        self.groups.push(0);
                        self.out.push_str(&format!("(?{flags}:"));
                    } else if !flags.is_empty() {
                        // A flag group is no atom: a repetition after it applies to the atom
                        // before it, as in Go.
                        self.out.push_str(&format!("(?{flags})"));
                    }
                    self.pos += consumed;
                    return Ok(());
                }
                _ => return refused(),
            }
        }
        Err(Error::new(ErrorCode::InvalidPerlOp, rest))
    }

    fn close_group(&mut self) -> Result<(), Error> {
        self.finish_atom();
        if self.groups.len() == 1 {
            return Err(Error::new(ErrorCode::UnexpectedParen, self.whole));
        }
        let weight = self.groups.pop().expect("an open group");
        self.atom = Some(weight.max(1));
        self.copy(1);
        Ok(())
    }

    /// A repetition operator from `start` to `end` (`*`, `+`, `?` when `counts` is `None`),
    /// possibly followed by `?` for non-greedy: Go's `repeat`, checks in Go's order.
    fn repeat(
        &mut self,
        start: usize,
        end: usize,
        counts: Option<(i64, i64)>,
    ) -> Result<(), Error> {
        if let Some((min, max)) = counts {
            let limit = MAX_REPEAT as i64;
            if min < 0 || min > limit || max > limit || (max >= 0 && min > max) {
                return Err(Error::new(
                    ErrorCode::InvalidRepeatSize,
                    &self.whole[start..end],
                ));
            }
        }
        let end = end + usize::from(self.whole[end..].starts_with('?'));
        let operator = &self.whole[start..end];
        if let Some(previous) = self.last_repeat {
            return Err(Error::new(
                ErrorCode::InvalidRepeatOp,
                &self.whole[previous..end],
            ));
        }
        let Some(weight) = self.atom else {
            return Err(Error::new(ErrorCode::MissingRepeatArgument, operator));
        };
        if let Some((min, max)) = counts {
            // Go's `repeatIsValid`: a count of 0 ends the walk, `{0,}` counts as 1.
            let count = if max < 0 { min } else { max } as u64;
            let weight = match (max, count) {
                (0, _) => 1,
                (_, 0) => weight,
                _ => weight.saturating_mul(count),
            };
            if (min >= 2 || max >= 2) && weight > MAX_REPEAT {
                return Err(Error::new(ErrorCode::InvalidRepeatSize, operator));
            }
            self.atom = Some(weight);
        }
        self.out.push_str(operator);
        self.pos = end;
        Ok(())
    }

    /// A backslash outside a bracket class.
    fn escape(&mut self) -> Result<(), Error> {
        let rest = self.rest();
        let rewritten = match rest[1..].chars().next() {
            Some('A') => r"\A",
            Some('z') => r"\z",
            Some('b') => r"(?-u:\b)",
            Some('B') => r"(?-u:\B)",
            Some('C') => return Err(Error::new(ErrorCode::InvalidEscape, &rest[..2])),
            Some('Q') => {
                let quoted = &rest[2..];
                let (text, len) = match quoted.find(r"\E") {
                    Some(end) => (&quoted[..end], 2 + end + 2),
                    None => (quoted, rest.len()),
                };
                for c in text.chars() {
                    self.begin_atom(1);
                    push_literal(&mut self.out, c as u32);
                }
                self.pos += len;
                return Ok(());
            }
            Some('p' | 'P') => {
                let (class, len) = unicode_class(rest, self.release)?;
                self.begin_atom(1);
                self.out.push_str(&class);
                self.pos += len;
                return Ok(());
            }
            Some(c) => match perl_class(c, false) {
                Some(class) => {
                    self.begin_atom(1);
                    self.out.push_str(&class);
                    self.pos += 2;
                    return Ok(());
                }
                None => {
                    let (code, len) = parse_escape(rest)?;
                    self.begin_atom(1);
                    push_literal(&mut self.out, code);
                    self.pos += len;
                    return Ok(());
                }
            },
            None => return Err(Error::new(ErrorCode::TrailingBackslash, "")),
        };
        self.begin_atom(1);
        self.out.push_str(rewritten);
        self.pos += 2;
        Ok(())
    }

    /// A bracket class: Go's `parseClass`.
    fn class(&mut self) -> Result<(), Error> {
        let whole_class = self.rest();
        let mut t = &whole_class[1..];
        let mut out = String::from("[");
        if let Some(after) = t.strip_prefix('^') {
            out.push('^');
            t = after;
        }
        let mut first = true;
        while first || !t.starts_with(']') {
            first = false;
            if t.len() > 2 && t.starts_with("[:") {
                if let Some(i) = t[2..].find(":]") {
                    let name = &t[..i + 4];
                    if !is_posix_class(name) {
                        return Err(Error::new(ErrorCode::InvalidCharRange, name));
                    }
                    out.push_str(name);
                    t = &t[name.len()..];
                    continue;
                }
            }
            if t.starts_with(r"\p") || t.starts_with(r"\P") {
                let (class, len) = unicode_class(t, self.release)?;
                out.push_str(&class);
                t = &t[len..];
                continue;
            }
            if let Some(class) = t
                .strip_prefix('\\')
                .and_then(|e| perl_class(e.chars().next()?, true))
            {
                out.push_str(&class);
                t = &t[2..];
                continue;
            }
            let range = t;
            let (lo, len) = class_char(t, whole_class)?;
            t = &t[len..];
            let mut hi = lo;
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                let (code, len) = class_char(&t[1..], whole_class)?;
                t = &t[1 + len..];
                if code < lo {
                    let text = &range[..range.len() - t.len()];
                    return Err(Error::new(ErrorCode::InvalidCharRange, text));
                }
                hi = code;
            }
            push_class_range(&mut out, lo, hi);
        }
        out.push(']');
        self.begin_atom(1);
        self.out.push_str(&out);
        self.pos += whole_class.len() - t.len() + 1;
        Ok(())
    }
}

/// Go's `parseRepeat`: `{n}`, `{n,}` or `{n,m}` at the start of `s` as (min, max, length), max
/// -1 for none, a count over 10^8 as -1; `None` when `{` starts no repetition and is a literal.
fn parse_repeat(s: &str) -> Option<(i64, i64, usize)> {
    let (mut min, t) = parse_int(s.strip_prefix('{')?)?;
    let (max, t) = match t.strip_prefix(',') {
        None => (min, t),
        Some(t) if t.starts_with('}') => (-1, t),
        Some(t) => {
            let (max, t) = parse_int(t)?;
            if max < 0 {
                min = -1;
            }
            (max, t)
        }
    };
    let t = t.strip_prefix('}')?;
    Some((min, max, s.len() - t.len()))
}

/// Go's `parseInt`: decimal digits without a leading zero; over 10^8 is -1.
fn parse_int(s: &str) -> Option<(i64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || (digits >= 2 && s.starts_with('0')) {
        return None;
    }
    let mut n: i64 = 0;
    for b in s[..digits].bytes() {
        if n >= 100_000_000 {
            n = -1;
            break;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    Some((n, &s[digits..]))
}

/// One character of a bracket class (escaped or not) and its length.
fn class_char(t: &str, whole_class: &str) -> Result<(u32, usize), Error> {
    match t.chars().next() {
        None => Err(Error::new(ErrorCode::MissingBracket, whole_class)),
        Some('\\') => parse_escape(t),
        Some(c) => Ok((c as u32, c.len_utf8())),
    }
}

/// A literal character, escaped where the regex crate gives it a meaning.
fn push_literal(out: &mut String, code: u32) {
    match char::from_u32(code) {
        Some(c) if regex_syntax::is_meta_character(c) => {
            out.push('\\');
            out.push(c);
        }
        Some(c) => out.push(c),
        None => out.push_str(NO_MATCH),
    }
}

/// A range of a bracket class; surrogates, which no `char` is, are left out.
fn push_class_range(out: &mut String, lo: u32, hi: u32) {
    let lo = if (0xD800..=0xDFFF).contains(&lo) {
        0xE000
    } else {
        lo
    };
    let hi = if (0xD800..=0xDFFF).contains(&hi) {
        0xD7FF
    } else {
        hi
    };
    if lo > hi {
        return;
    }
    push_literal(out, lo);
    if hi != lo {
        out.push('-');
        push_literal(out, hi);
    }
}

#[cfg(test)]
mod tests;
