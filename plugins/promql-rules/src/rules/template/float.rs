//! Go's `strconv.FormatFloat` for the verbs `fmt` uses (`%e`, `%f`, `%g`, `%x`, shortest or
//! with a precision). Rust and Go agree on digits (shortest round trip, or exactly rounded);
//! they differ in when to switch to an exponent, how to spell it and infinities.

use std::fmt::Write as _;

/// `strconv.FormatFloat(x, verb, prec, 64)` (`prec` `None` for the shortest digits that read
/// back as `x`): `+Inf`, `-Inf`, `NaN`; exponents of at least two digits.
pub(super) fn format_float(x: f64, verb: char, prec: Option<usize>) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let a = x.abs();
    let body = match (verb, prec) {
        ('x' | 'X', _) => hex_float(a, verb),
        ('f' | 'F', Some(p)) => format!("{a:.p$}"),
        ('f' | 'F', None) => format!("{a}"),
        ('e' | 'E', _) => {
            let d = Digits::of(a, prec.map(|p| p + 1));
            let decimals = prec.unwrap_or(d.digits.len() - 1);
            d.exponent_form(decimals, verb == 'E')
        }
        _ => {
            // %g: Go's strconv rules for when to switch to an exponent.
            let p = prec.map(|p| p.max(1));
            let mut d = Digits::of(a, p);
            d.trim_zeros();
            let nd = d.digits.len() as i32;
            let mut eprec = p.map_or(6, |p| p as i32);
            if p.is_some() && eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            let exp = d.dp - 1;
            if exp < -4 || exp >= eprec {
                d.exponent_form(d.digits.len() - 1, verb == 'G')
            } else {
                d.fixed_form((nd - d.dp).max(0) as usize)
            }
        }
    };
    format!("{sign}{body}")
}

/// Go's shortest `%x` of a non-negative finite float: `0x1.8p+00`.
fn hex_float(a: f64, verb: char) -> String {
    let bits = a.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1 << 52;
    }
    exp -= 1023;
    if mant == 0 {
        exp = 0;
    }
    // The leading 1 (if any) at bit 60.
    mant <<= 8;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    let mut out = format!("0{verb}{}", (mant >> 60) & 1);
    mant <<= 4;
    if mant != 0 {
        out.push('.');
        while mant != 0 {
            let d = ((mant >> 60) & 15) as u32;
            let c = char::from_digit(d, 16).unwrap_or('0');
            out.push(if verb == 'X' {
                c.to_ascii_uppercase()
            } else {
                c
            });
            mant <<= 4;
        }
    }
    out.push(if verb == 'X' { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.abs());
    out
}

/// A non-negative float as decimal digits `0.d1d2… × 10^dp`.
struct Digits {
    digits: Vec<u8>,
    dp: i32,
}

impl Digits {
    /// The shortest digits that read back as `a`, or `significant` digits correctly rounded.
    fn of(a: f64, significant: Option<usize>) -> Digits {
        let text = match significant {
            Some(n) => format!("{:.*e}", n.max(1) - 1, a),
            None => format!("{a:e}"),
        };
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
        Digits {
            digits,
            dp: exponent + 1,
        }
    }

    fn trim_zeros(&mut self) {
        while self.digits.len() > 1 && self.digits.last() == Some(&b'0') {
            self.digits.pop();
        }
    }

    fn digit(&self, i: i32) -> char {
        if i < 0 {
            return '0';
        }
        *self.digits.get(i as usize).unwrap_or(&b'0') as char
    }

    /// `d.ddde±XX` with `decimals` digits after the point.
    fn exponent_form(&self, decimals: usize, upper: bool) -> String {
        let mut out = String::new();
        out.push(self.digit(0));
        if decimals > 0 {
            out.push('.');
            for i in 1..=decimals {
                out.push(self.digit(i as i32));
            }
        }
        let exp = if self.digits.iter().all(|&d| d == b'0') {
            0
        } else {
            self.dp - 1
        };
        out.push(if upper { 'E' } else { 'e' });
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.abs());
        out
    }

    /// `ddd.ddd` with `decimals` digits after the point.
    fn fixed_form(&self, decimals: usize) -> String {
        let mut out = String::new();
        if self.dp > 0 {
            for i in 0..self.dp {
                out.push(self.digit(i));
            }
        } else {
            out.push('0');
        }
        if decimals > 0 {
            out.push('.');
            for i in 0..decimals as i32 {
                out.push(self.digit(self.dp + i));
            }
        }
        out
    }
}
