//! Go's `net/url.Parse` as a check: where a Prometheus config only asks whether Go can parse
//! a string as a URL (`docker_sd_configs`' `host`), the same strings fail here, with Go's
//! message (`parse "<url>": <why>`). Nothing is built from the parse: what a URL means is
//! its user's business.
//!
//! Ported from Go's `net/url/url.go` (`Parse`, `getScheme`, `parseAuthority`, `parseHost`,
//! `validUserinfo`, `unescape`), the error paths only.

/// Whether Go's `url.Parse` accepts `raw`; its error message if not.
pub(super) fn check_go_url(raw: &str) -> Result<(), String> {
    let (url, fragment) = raw.split_once('#').unwrap_or((raw, ""));
    parse(url).map_err(|why| format!("parse {}: {why}", go_quote(url)))?;
    unescape(fragment, Mode::Fragment).map_err(|why| format!("parse {}: {why}", go_quote(raw)))
}

/// What part of a URL is being unescaped (Go's `encoding` modes that can fail differently).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    UserPassword,
    Fragment,
}

fn parse(raw: &str) -> Result<(), String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    if raw == "*" {
        return Ok(());
    }
    let (scheme, rest) = scheme(raw)?;
    let rest = match rest.strip_suffix('?') {
        Some(forced) if !forced.contains('?') => forced,
        _ => rest.split_once('?').map_or(rest, |(path, _)| path),
    };
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            // A rootless path after a scheme is opaque: Go checks nothing more.
            return Ok(());
        }
        let segment = rest.split_once('/').map_or(rest, |(s, _)| s);
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    let mut path = rest;
    if (!scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, tail) = after.find('/').map_or((after, ""), |i| after.split_at(i));
        check_authority(authority)?;
        path = tail;
    }
    unescape(path, Mode::Path)
}

/// Go's `getScheme`: the scheme and the rest, or no scheme when the first character that is
/// not a scheme character comes before any `:`.
fn scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn check_authority(authority: &str) -> Result<(), String> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    check_host(host)?;
    let Some(userinfo) = userinfo else {
        return Ok(());
    };
    let valid = userinfo
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&c));
    if !valid {
        return Err("net/url: invalid userinfo".into());
    }
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    unescape(user, Mode::UserPassword)?;
    unescape(password, Mode::UserPassword)
}

fn check_host(host: &str) -> Result<(), String> {
    let port = if host.starts_with('[') {
        let end = host.rfind(']').ok_or("missing ']' in host")?;
        &host[end + 1..]
    } else {
        host.rfind(':').map_or("", |i| &host[i..])
    };
    let valid_port = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()));
    if !valid_port {
        return Err(format!("invalid port {} after host", go_quote(port)));
    }
    unescape(host, Mode::Host)
}

/// Go's `unescape`, for its errors: a `%` not followed by two hex digits, and in a host a
/// character that has no place there.
fn unescape(s: &str, mode: Mode) -> Result<(), String> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let escape = || {
                    let end = (i + 3).min(bytes.len());
                    format!("invalid URL escape {}", go_quote(&s[i..end]))
                };
                let (Some(&a), Some(&b)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
                    return Err(escape());
                };
                if !a.is_ascii_hexdigit() || !b.is_ascii_hexdigit() {
                    return Err(escape());
                }
                // In a host, an escape may only spell a non-ASCII byte, or `%25` itself.
                if mode == Mode::Host && hex(a) < 8 && &s[i..i + 3] != "%25" {
                    return Err(escape());
                }
                i += 3;
            }
            c if mode == Mode::Host && c < 0x80 && !host_byte(c) => {
                return Err(format!(
                    "invalid character {} in host name",
                    go_quote(&s[i..i + 1])
                ));
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn hex(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap_or(0) as u8
}

/// The ASCII bytes Go's `shouldEscape` lets stand in a host.
fn host_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&c)
}

/// Go's `%q` for the strings these messages quote.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal as Debian's promtool 2.42 words it for a `docker_sd_configs` host.
    #[test]
    fn refuses_as_go_refuses() {
        for (url, want) in [
            ("unix:///var/run/docker.sock", Ok(())),
            ("tcp://127.0.0.1:2375", Ok(())),
            ("https://docker.example:2376/base", Ok(())),
            ("http://[::1]:2375", Ok(())),
            ("http://u:p%41@h", Ok(())),
            ("foo", Ok(())),
            ("a:b", Ok(())),
            ("tcp://h", Ok(())),
            ("::", Err(r#"parse "::": missing protocol scheme"#)),
            (
                "tcp://h:x",
                Err(r#"parse "tcp://h:x": invalid port ":x" after host"#),
            ),
            (
                "http://[::1",
                Err(r#"parse "http://[::1": missing ']' in host"#),
            ),
            (
                "tcp://a b",
                Err(r#"parse "tcp://a b": invalid character " " in host name"#),
            ),
            (
                "http://h/%zz",
                Err(r#"parse "http://h/%zz": invalid URL escape "%zz""#),
            ),
            (
                "unix:///var/run/docker.sock#%zz",
                Err(r#"parse "unix:///var/run/docker.sock#%zz": invalid URL escape "%zz""#),
            ),
            (
                "http://u%zz@h",
                Err(r#"parse "http://u%zz@h": invalid URL escape "%zz""#),
            ),
            (
                "http://u^@h",
                Err(r#"parse "http://u^@h": net/url: invalid userinfo"#),
            ),
            ("a/b:c:d", Ok(())),
            ("b:c/d", Ok(())),
            ("./b:c", Ok(())),
            ("http://h:80:90", Ok(())),
            ("http://%c3%a9/", Ok(())),
            ("http://h?%zz", Ok(())),
            ("///a b", Ok(())),
            (
                "x y:z",
                Err(r#"parse "x y:z": first path segment in URL cannot contain colon"#),
            ),
            (
                "//a b",
                Err(r#"parse "//a b": invalid character " " in host name"#),
            ),
            (
                "http://[::1]x",
                Err(r#"parse "http://[::1]x": invalid port "x" after host"#),
            ),
            (
                "http://h/?x#%zz",
                Err(r#"parse "http://h/?x#%zz": invalid URL escape "%zz""#),
            ),
            (
                "http://h\t/",
                Err(r#"parse "http://h\t/": net/url: invalid control character in URL"#),
            ),
            (
                "http://h/%4",
                Err(r#"parse "http://h/%4": invalid URL escape "%4""#),
            ),
            (
                "http://%41/",
                Err(r#"parse "http://%41/": invalid URL escape "%41""#),
            ),
        ] {
            assert_eq!(check_go_url(url), want.map_err(str::to_owned), "{url}");
        }
    }
}
