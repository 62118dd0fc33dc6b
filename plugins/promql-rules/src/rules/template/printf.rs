//! Go's `fmt` for template values: `print`, `println`, `printf` and the printing of an action's
//! value, with Go's verbs, flags, width and precision, and its in-band error texts
//! (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`), as Go 1.19's `fmt/print.go` and
//! `fmt/format.go` write them. Alert texts are compared by people and by Alertmanager's
//! grouping, so a `%.2f` or a `%v` of a float has to read exactly as in Prometheus.

use std::fmt::Write as _;

use super::float::format_float;
use super::time::time_string;
use super::value::Value;

/// Flags, width and precision of one verb (Go's `fmt.fmtFlags` plus `wid`/`prec`).
#[derive(Clone, Copy, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    /// `%+v`: struct field names.
    plus_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = arg.as_str().is_some();
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        print_arg(&mut out, arg, 'v', Flags::default());
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: spaces between all operands and a newline.
pub(super) fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_arg(&mut out, arg, 'v', Flags::default());
    }
    out.push('\n');
    out
}

/// How an action prints its value: `fmt.Fprint` of `printableValue`, which follows a pointer
/// (so a sample prints as `{…}`, not `&{…}`) and prints a missing value as `<no value>`.
pub(super) fn print_action(v: &Value) -> String {
    match v {
        Value::Nil => "<no value>".to_string(),
        Value::Str(s) | Value::Html(s) => s.to_string(),
        Value::Sample(Some(s)) => {
            let mut out = String::new();
            print_sample(&mut out, s, 'v', Flags::default(), 1);
            out
        }
        _ => sprint(std::slice::from_ref(v)),
    }
}

/// `fmt.Sprintf`.
pub(super) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let bytes = format.as_bytes();
    let end = bytes.len();
    let mut arg_num = 0;
    let mut i = 0;
    while i < end {
        let last = i;
        while i < end && bytes[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[last..i]);
        if i >= end {
            break;
        }
        i += 1;
        let mut f = Flags::default();
        while i < end {
            match bytes[i] {
                b'#' => f.sharp = true,
                b'0' => f.zero = !f.minus,
                b'+' => f.plus = true,
                b'-' => {
                    f.minus = true;
                    f.zero = false;
                }
                b' ' => f.space = true,
                _ => break,
            }
            i += 1;
        }
        if i < end && bytes[i] == b'*' {
            i += 1;
            match args.get(arg_num) {
                Some(Value::Int(n)) if n.unsigned_abs() <= 1_000_000 => {
                    f.wid = Some(n.unsigned_abs() as usize);
                    if *n < 0 {
                        f.minus = true;
                        f.zero = false;
                    }
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            arg_num += 1;
        } else {
            let (n, next) = parse_num(bytes, i);
            f.wid = n;
            i = next;
        }
        if i + 1 < end && bytes[i] == b'.' {
            i += 1;
            if i < end && bytes[i] == b'*' {
                i += 1;
                match args.get(arg_num) {
                    Some(Value::Int(n)) if (0..=1_000_000).contains(n) => {
                        f.prec = Some(*n as usize)
                    }
                    Some(Value::Int(n)) if *n < 0 => {}
                    _ => out.push_str("%!(BADPREC)"),
                }
                arg_num += 1;
            } else {
                let (n, next) = parse_num(bytes, i);
                f.prec = Some(n.unwrap_or(0));
                i = next;
            }
        }
        if i >= end {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('%');
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(arg_num) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        if verb == 'v' {
            f.plus_v = f.plus;
            f.plus = false;
            f.sharp = false;
        }
        print_arg(&mut out, arg, verb, f);
        arg_num += 1;
    }
    if arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (n, arg) in args[arg_num..].iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            if matches!(arg, Value::Nil) {
                out.push_str("<nil>");
            } else {
                out.push_str(arg.type_name());
                out.push('=');
                print_arg(&mut out, arg, 'v', Flags::default());
            }
        }
        out.push(')');
    }
    out
}

/// Go's `parsenum`: a width or precision, at most 10^6.
fn parse_num(bytes: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n: usize = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add((bytes[i] - b'0') as usize);
        i += 1;
    }
    if i == start || n > 1_000_000 {
        return (None, i);
    }
    (Some(n), i)
}

/// `pp.printArg`, with the value at depth 0.
fn print_arg(out: &mut String, arg: &Value, verb: char, f: Flags) {
    print_value(out, arg, verb, f, 0);
}

/// `pp.printArg`/`pp.printValue`: one value, `depth` levels inside a map, slice or struct.
fn print_value(out: &mut String, v: &Value, verb: char, f: Flags, depth: usize) {
    if verb == 'T' {
        pad(out, v.type_name(), f);
        return;
    }
    match v {
        Value::Nil => {
            if verb == 'v' {
                pad(out, "<nil>", f);
            } else {
                bad_verb(out, v, verb, f);
            }
        }
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, f),
            _ => bad_verb(out, v, verb, f),
        },
        Value::Int(i) => fmt_integer(out, v, i.unsigned_abs(), *i < 0, verb, f),
        Value::Byte(b) => fmt_integer(out, v, u64::from(*b), false, verb, f),
        Value::Float(x) => fmt_float(out, v, *x, verb, f),
        Value::Str(s) | Value::Html(s) => fmt_string(out, v, s, verb, f),
        Value::Time(ns) => match verb {
            'v' | 's' | 'x' | 'X' | 'q' => fmt_string(out, v, &time_string(*ns), verb, f),
            _ => bad_verb(out, v, verb, f),
        },
        Value::Map(m) => {
            out.push_str("map[");
            for (n, (k, val)) in m.entries.iter().enumerate() {
                if n > 0 {
                    out.push(' ');
                }
                print_value(out, &Value::string(k), verb, f, depth + 1);
                out.push(':');
                print_value(out, val, verb, f, depth + 1);
            }
            out.push(']');
        }
        Value::Alert(a) => {
            let fields: [(&str, Value); 4] = [
                ("Labels", Value::Map(a.labels.clone())),
                ("ExternalLabels", Value::Map(a.external_labels.clone())),
                ("ExternalURL", Value::Str(a.external_url.clone())),
                ("Value", Value::Float(a.value)),
            ];
            print_struct(out, &fields, verb, f, depth);
        }
        Value::Sample(None) => {
            if verb == 'v' {
                pad(out, "<nil>", f);
            } else {
                bad_verb(out, v, verb, f);
            }
        }
        Value::Sample(Some(s)) => {
            // Go prints a pointer inside a container as its address; no address means
            // anything here, so the sample is shown as at the top level.
            out.push('&');
            print_sample(out, s, verb, f, depth + 1);
        }
        Value::Samples(list) => {
            out.push('[');
            for (n, s) in list.iter().enumerate() {
                if n > 0 {
                    out.push(' ');
                }
                print_value(out, &Value::Sample(Some(s.clone())), verb, f, depth + 1);
            }
            out.push(']');
        }
    }
}

fn print_sample(out: &mut String, s: &super::value::Sample, verb: char, f: Flags, depth: usize) {
    let fields: [(&str, Value); 2] = [
        ("Labels", Value::Map(s.labels.clone())),
        ("Value", Value::Float(s.value)),
    ];
    print_struct(out, &fields, verb, f, depth);
}

fn print_struct(out: &mut String, fields: &[(&str, Value)], verb: char, f: Flags, depth: usize) {
    out.push('{');
    for (n, (name, val)) in fields.iter().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        if f.plus_v {
            out.push_str(name);
            out.push(':');
        }
        print_value(out, val, verb, f, depth + 1);
    }
    out.push('}');
}

/// `%!verb(type=value)`.
fn bad_verb(out: &mut String, v: &Value, verb: char, f: Flags) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if matches!(v, Value::Nil) {
        out.push_str("<nil>");
    } else {
        out.push_str(v.type_name());
        out.push('=');
        print_value(out, v, 'v', f, 0);
    }
    out.push(')');
}

/// Go's `fmt.pad`: width in runes, spaces or zeros on the left, spaces on the right with `-`.
fn pad(out: &mut String, s: &str, f: Flags) {
    let Some(wid) = f.wid else {
        out.push_str(s);
        return;
    };
    let fill = wid.saturating_sub(s.chars().count());
    if f.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else {
        let c = if f.zero { '0' } else { ' ' };
        out.extend(std::iter::repeat_n(c, fill));
        out.push_str(s);
    }
}

fn fmt_string(out: &mut String, v: &Value, s: &str, verb: char, f: Flags) {
    let truncated = match f.prec {
        Some(p) => match s.char_indices().nth(p) {
            Some((i, _)) => &s[..i],
            None => s,
        },
        None => s,
    };
    match verb {
        'v' | 's' => pad(out, truncated, f),
        'q' => {
            let q = if f.sharp && can_backquote(truncated) {
                format!("`{truncated}`")
            } else {
                quote(truncated, f.plus)
            };
            pad(out, &q, f)
        }
        'x' | 'X' => {
            let bytes = match f.prec {
                Some(p) => &s.as_bytes()[..p.min(s.len())],
                None => s.as_bytes(),
            };
            let mut hex = String::new();
            for (n, b) in bytes.iter().enumerate() {
                if f.space && n > 0 {
                    hex.push(' ');
                }
                if f.sharp && (f.space || n == 0) {
                    hex.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    let _ = write!(hex, "{b:02x}");
                } else {
                    let _ = write!(hex, "{b:02X}");
                }
            }
            pad(out, &hex, f)
        }
        _ => bad_verb(out, v, verb, f),
    }
}

fn fmt_integer(out: &mut String, v: &Value, u: u64, negative: bool, verb: char, f: Flags) {
    let (base, upper) = match verb {
        'v' | 'd' => (10, false),
        'b' => (2, false),
        'o' | 'O' => (8, false),
        'x' => (16, false),
        'X' => (16, true),
        'c' => {
            let c = char::from_u32(u as u32).filter(|_| !negative && u <= 0x10ffff);
            return pad(out, &c.unwrap_or('\u{fffd}').to_string(), f);
        }
        'q' => {
            let c = char::from_u32(u as u32).filter(|_| !negative && u <= 0x10ffff);
            return pad(out, &quote_rune(c.unwrap_or('\u{fffd}'), f.plus), f);
        }
        'U' => {
            let mut s = format!("U+{u:04X}");
            if f.sharp {
                if let Some(c) = char::from_u32(u as u32).filter(|c| is_print(*c)) {
                    let _ = write!(s, " '{c}'");
                }
            }
            return pad(out, &s, f);
        }
        _ => return bad_verb(out, v, verb, f),
    };
    let mut digits = match (base, upper) {
        (2, _) => format!("{u:b}"),
        (8, _) => format!("{u:o}"),
        (16, false) => format!("{u:x}"),
        (16, true) => format!("{u:X}"),
        _ => u.to_string(),
    };
    let mut prec = 0;
    if let Some(p) = f.prec {
        if p == 0 && u == 0 {
            let mut g = f;
            g.zero = false;
            return pad(out, "", g);
        }
        prec = p;
    } else if let (true, Some(w)) = (f.zero, f.wid) {
        prec = w;
        if negative || f.plus || f.space {
            prec = prec.saturating_sub(1);
        }
    }
    if digits.len() < prec {
        digits.insert_str(0, &"0".repeat(prec - digits.len()));
    }
    if f.sharp {
        match base {
            2 => digits.insert_str(0, "0b"),
            8 if !digits.starts_with('0') => digits.insert(0, '0'),
            16 => digits.insert_str(0, if upper { "0X" } else { "0x" }),
            _ => {}
        }
    }
    if verb == 'O' {
        digits.insert_str(0, "0o");
    }
    if negative {
        digits.insert(0, '-');
    } else if f.plus {
        digits.insert(0, '+');
    } else if f.space {
        digits.insert(0, ' ');
    }
    let mut g = f;
    g.zero = false;
    pad(out, &digits, g);
}

fn fmt_float(out: &mut String, v: &Value, x: f64, verb: char, f: Flags) {
    let (verb, default_prec) = match verb {
        'v' => ('g', None),
        'g' | 'G' | 'x' | 'X' => (verb, None),
        'e' | 'E' | 'f' | 'F' => (verb, Some(6)),
        _ => return bad_verb(out, v, verb, f),
    };
    let mut num = format_float(x, verb, f.prec.or(default_prec));
    if !num.starts_with(['-', '+']) {
        num.insert(0, '+');
    }
    if f.space && num.starts_with('+') && !f.plus {
        num.replace_range(0..1, " ");
    }
    if num[1..].starts_with(['I', 'N']) {
        if num[1..].starts_with('N') && !f.space && !f.plus {
            num.remove(0);
        }
        let mut g = f;
        g.zero = false;
        return pad(out, &num, g);
    }
    if f.plus || !num.starts_with('+') {
        if let (true, Some(w)) = (f.zero, f.wid) {
            if w > num.len() {
                out.push_str(&num[..1]);
                out.extend(std::iter::repeat_n('0', w - num.len()));
                out.push_str(&num[1..]);
                return;
            }
        }
        return pad(out, &num, f);
    }
    pad(out, &num[1..], f);
}

/// `strconv.Quote` (`ascii`: `strconv.QuoteToASCII`).
pub(super) fn quote(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

fn quote_rune(c: char, ascii: bool) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'', ascii);
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char, ascii: bool) {
    match c {
        c if c == quote || c == '\\' => {
            out.push('\\');
            out.push(c);
        }
        c if (c.is_ascii() || !ascii) && is_print(c) => out.push(c),
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Go's `unicode.IsPrint`: graphic characters and the ASCII space (other spaces and format
/// characters are escaped).
pub(super) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c as u32, 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0xf0000..)
        || (0xd800..0xe000).contains(&(c as u32)))
}

/// `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{feff}' && (c == '\t' || !c.is_control()))
}
