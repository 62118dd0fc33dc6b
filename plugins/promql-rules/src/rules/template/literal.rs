//! Go's literals in templates: numbers as `parse.newNumber` reads them (ints, floats, hex,
//! octal, binary, underscores, character constants) and quoted strings as `strconv.Unquote`.

use super::lex::{Item, ItemType};
use super::node::Number;

/// Go's `parse.newNumber` for the numbers templates use (no complex numbers).
pub(super) fn number(t: &Item) -> Result<Number, String> {
    let text = t.val.as_str();
    let quoted = || crate::goquote::quote(text, false);
    let mut n = Number {
        pos: t.pos,
        text: text.to_string(),
        int: None,
        float: None,
        uint_only: false,
    };
    if t.typ == ItemType::CharConstant {
        let c =
            unquote_char(text).ok_or_else(|| format!("malformed character constant: {text}"))?;
        n.int = Some(i64::from(c as u32));
        n.float = Some(f64::from(c as u32));
        return Ok(n);
    }
    if t.typ == ItemType::Complex || text.ends_with('i') {
        return Err(format!("illegal number syntax: {}", quoted()));
    }
    n.int = parse_int(text);
    let uint = parse_uint(text);
    if let Some(i) = n.int {
        n.float = Some(i as f64);
    } else if let Some(u) = uint {
        n.uint_only = true;
        n.float = Some(u as f64);
    } else if let Some(f) = parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", quoted()));
        }
        n.float = Some(f);
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            n.int = Some(f as i64);
        }
    } else {
        return Err(format!("illegal number syntax: {}", quoted()));
    }
    Ok(n)
}

/// `strconv.ParseUint(text, 0, 64)`.
fn parse_uint(text: &str) -> Option<u64> {
    let (digits, radix) = match text.get(..2) {
        Some("0x" | "0X") => (&text[2..], 16),
        Some("0o" | "0O") => (&text[2..], 8),
        Some("0b" | "0B") => (&text[2..], 2),
        _ if text.len() > 1 && text.starts_with('0') => (&text[1..], 8),
        _ => (text, 10),
    };
    // Underscores only between digits, and only with a base prefix or octal zero.
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    u64::from_str_radix(&digits.replace('_', ""), radix).ok()
}

/// `strconv.ParseInt(text, 0, 64)`.
fn parse_int(text: &str) -> Option<i64> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let u = parse_uint(rest)?;
    if negative {
        if u <= 1 << 63 {
            Some((u as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// `strconv.ParseFloat(text, 64)` for number literals: decimal, or hexadecimal with a binary
/// exponent (`0x1p-2`).
fn parse_float(text: &str) -> Option<f64> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let value = match unsigned.get(..2) {
        Some("0x" | "0X") => {
            let (mantissa, exp) = unsigned[2..].split_once(['p', 'P'])?;
            let exp: i32 = exp.replace('_', "").parse().ok()?;
            let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            let digits: String = format!("{int}{frac}").replace('_', "");
            if digits.is_empty() {
                return None;
            }
            let mut m = 0.0_f64;
            for d in digits.chars() {
                m = m * 16.0 + f64::from(d.to_digit(16)?);
            }
            m * 2f64.powi(exp - 4 * frac.replace('_', "").len() as i32)
        }
        _ if text.contains(['_', 'x', 'X', 'p', 'P']) => return None,
        _ => unsigned.parse::<f64>().ok()?,
    };
    let value = if negative { -value } else { value };
    value.is_finite().then_some(value)
}

/// `strconv.Unquote` for Go string literals: `"…"` with escapes, or raw `` `…` ``.
pub(super) fn unquote(quoted: &str) -> Option<String> {
    if let Some(raw) = quoted.strip_prefix('`') {
        let raw = raw.strip_suffix('`')?;
        return (!raw.contains('`')).then(|| raw.replace('\r', ""));
    }
    let body = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\n' {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        match e {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            'x' | 'u' | 'U' => {
                let len = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..len).filter_map(|_| chars.next()).collect();
                if hex.len() != len {
                    return None;
                }
                let v = u32::from_str_radix(&hex, 16).ok()?;
                if e == 'x' {
                    // A byte: only ASCII keeps the text valid UTF-8.
                    out.push(char::from_u32(v).filter(|c| c.is_ascii())?);
                } else {
                    out.push(char::from_u32(v)?);
                }
            }
            '0'..='7' => {
                let rest: String = (0..2).filter_map(|_| chars.next()).collect();
                let v = u32::from_str_radix(&format!("{e}{rest}"), 8).ok()?;
                if rest.len() != 2 || v > 0x7f {
                    return None;
                }
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A Go character constant such as `'a'` or `'\n'`.
fn unquote_char(quoted: &str) -> Option<char> {
    let body = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
    if body == "\"" {
        return Some('"');
    }
    if body == "\\'" {
        return Some('\'');
    }
    let s = unquote(&format!("\"{body}\""))?;
    let mut chars = s.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}
