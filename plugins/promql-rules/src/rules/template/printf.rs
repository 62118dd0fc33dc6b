//! Go's `fmt` for template values: `print`, `println`, `printf` and the printing of an action's
//! value, with Go's verbs, flags, width and precision, and its in-band error texts
//! (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`), as Go 1.19's `fmt/print.go` and
//! `fmt/format.go` write them. Alert texts are compared by people and by Alertmanager's
//! grouping, so a `%.2f` or a `%v` of a float has to read exactly as in Prometheus.

use std::fmt::Write as _;

use super::float::format_float;
use super::time::time_string;
use super::value::Value;
use crate::goquote::{can_backquote, is_print, quote, quote_rune};

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
    /// `%#v`: Go syntax.
    sharp_v: bool,
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
    // Explicit argument indexes (`%[2]d`) turn off the check for unused arguments.
    let mut reordered = false;
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
        let mut good_arg_num = true;
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
        let mut index = |i: &mut usize, arg_num: &mut usize, good: &mut bool| -> bool {
            if *i >= end || bytes[*i] != b'[' {
                return false;
            }
            reordered = true;
            let (n, width, ok) = parse_arg_number(&bytes[*i..]);
            *i += width;
            match n {
                Some(n) if ok && n < args.len() => *arg_num = n,
                _ => *good = false,
            }
            ok
        };
        let mut after_index = index(&mut i, &mut arg_num, &mut good_arg_num);
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
            after_index = false;
        } else {
            let (n, next) = parse_num(bytes, i);
            f.wid = n;
            i = next;
            if after_index && f.wid.is_some() {
                good_arg_num = false;
            }
        }
        if i + 1 < end && bytes[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            after_index = index(&mut i, &mut arg_num, &mut good_arg_num);
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
                after_index = false;
            } else {
                let (n, next) = parse_num(bytes, i);
                f.prec = Some(n.unwrap_or(0));
                i = next;
            }
        }
        if !after_index {
            index(&mut i, &mut arg_num, &mut good_arg_num);
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
        if !good_arg_num {
            let _ = write!(out, "%!{verb}(BADINDEX)");
            continue;
        }
        let Some(arg) = args.get(arg_num) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        if verb == 'v' {
            f.sharp_v = f.sharp;
            f.plus_v = f.plus;
            f.plus = false;
            f.sharp = false;
        }
        print_arg(&mut out, arg, verb, f);
        arg_num += 1;
    }
    if !reordered && arg_num < args.len() {
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

/// Go's `parseArgNumber` of `[n]`: the zero-based index, the bytes read and whether it parsed.
fn parse_arg_number(bytes: &[u8]) -> (Option<usize>, usize, bool) {
    if bytes.len() < 3 {
        return (None, 1, false);
    }
    match bytes.iter().position(|&b| b == b']') {
        Some(close) => match parse_num(&bytes[..close], 1) {
            (Some(n), next) if next == close && n >= 1 => (Some(n - 1), close + 1, true),
            (Some(0), next) if next == close => (None, close + 1, true),
            _ => (None, close + 1, false),
        },
        None => (None, 1, false),
    }
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
    if verb == 'v' && f.sharp_v {
        go_syntax(out, v, depth);
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

/// `%#v`: the value as Go source would write it.
fn go_syntax(out: &mut String, v: &Value, depth: usize) {
    let map = |out: &mut String, m: &super::value::Map| {
        out.push_str(m.type_name());
        out.push('{');
        for (n, (k, val)) in m.entries.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            out.push_str(&quote(k, false));
            out.push(':');
            match val {
                Value::Nil => out.push_str("interface {}(nil)"),
                val => go_syntax(out, val, depth + 1),
            }
        }
        out.push('}');
    };
    match v {
        Value::Str(s) | Value::Html(s) => out.push_str(&quote(s, false)),
        Value::Byte(b) => {
            let _ = write!(out, "0x{b:x}");
        }
        Value::Map(m) => map(out, m),
        Value::Sample(Some(s)) if depth == 0 => {
            out.push_str("&template.sample{Labels:");
            map(out, &s.labels);
            let _ = write!(out, ", Value:{}}}", format_float(s.value, 'g', None));
        }
        Value::Sample(Some(_)) => out.push_str("(*template.sample)(0xc000000000)"),
        Value::Sample(None) => out.push_str("(*template.sample)(nil)"),
        Value::Alert(a) => {
            out.push_str(v.type_name());
            out.push_str("{Labels:");
            map(out, &a.labels);
            out.push_str(", ExternalLabels:");
            map(out, &a.external_labels);
            let url = quote(&a.external_url, false);
            let value = format_float(a.value, 'g', None);
            let _ = write!(out, ", ExternalURL:{url}, Value:{value}}}");
        }
        Value::Samples(list) => {
            out.push_str("template.queryResult{");
            for (n, s) in list.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                go_syntax(out, &Value::Sample(Some(s.clone())), depth + 1);
            }
            out.push('}');
        }
        Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Time(_) => {
            print_value(out, v, 'v', Flags::default(), depth)
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
