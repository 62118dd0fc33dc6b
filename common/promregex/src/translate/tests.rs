//! The translation case by case: what each Go construct becomes, what it matches, and Go's
//! message for each refusal (the texts of Go's `regexp/syntax` parser).

use super::*;

fn matches(go: &str, value: &str) -> bool {
    let rust = translate(go).unwrap_or_else(|e| panic!("{go}: {e}"));
    regex::Regex::new(&format!("^(?s:{rust})$"))
        .unwrap_or_else(|e| panic!("{go} as {rust}: {e}"))
        .is_match(value)
}

#[test]
fn rewrites_go_only_meanings() {
    for (go, rust) in [
        (r"\d+", "[0-9]+"),
        (r"\w", "[0-9A-Za-z_]"),
        (r"\s", r"[\t\n\x0C\r ]"),
        (r"[\d.]", r"[0-9\.]"),
        (r"[^\w-]", r"[^0-9A-Za-z_\-]"),
        (r"[a\D]", "[a[^0-9]]"),
        (r"\W\S", r"[^0-9A-Za-z_][^\t\n\x0C\r ]"),
        (r"\bx\B", r"(?-u:\b)x(?-u:\B)"),
        (r"\\d", r"\\d"),
        (r"\.\pL\p{Greek}", r"\.\p{Letter}\p{Greek}"),
        (r"\p{^Greek}\P{^L}", r"\P{Greek}\p{Letter}"),
        ("[[:alpha:]_]", "[[:alpha:]_]"),
        ("[[:^alpha:]]", "[[:^alpha:]]"),
        ("[[a]", r"[\[a]"),
        ("[a&&b~~c]", r"[a\&\&b\~\~c]"),
        ("[]a]", r"[\]a]"),
        ("[^]a]", r"[^\]a]"),
        ("[[:x]", r"[\[:x]"),
        ("a&&b", r"a\&\&b"),
        (r"\Q.*\E+", r"\.\*+"),
        (r"\Qa(b", r"a\(b"),
        (r"\101\0\x41\x{1F600}", "A\0A\u{1F600}"),
        (r"\<\_\#", r"<_\#"),
        ("a{b}x{,1}a{01}a{", r"a\{b\}x\{,1\}a\{01\}a\{"),
        ("a{2}b{2,}c{2,3}?", "a{2}b{2,}c{2,3}?"),
        ("(?i)a(?ii)b(?i-i)c(?s-m:d)(?)", "(?i)a(?i)b(?-i)c(?s-m:d)"),
        ("(?P<a>x)(?<b>y)(?:z)", "(?P<a>x)(?P<b>y)(?:z)"),
        (r"\Az\z", r"\Az\z"),
    ] {
        assert_eq!(translate(go).as_deref(), Ok(rust), "{go}");
    }
}

#[test]
fn matches_like_go() {
    for (go, value, want) in [
        (r"\d+", "123", true),
        (r"\d+", "١٢٣", false),
        (r"\w+", "été", false),
        (r"\s", "\u{a0}", false),
        (r"\S", "\u{a0}", true),
        (r"\bfoo\b", "foo", true),
        (r"\Q.*\E", ".*", true),
        (r"\Q.*\E", "ab", false),
        (r"a{b}", "a{b}", true),
        (r"x{,1}", "x", false),
        (r"a{01}", "a{01}", true),
        (r"\<a\>", "<a>", true),
        ("(?i-i)A", "a", false),
        ("(?i)k", "\u{212a}", true),
        (r"[\d-z]+", "1-z", true),
        (r"\p{greek}+", "αβ", true),
        (r"\p{Lu}", "A", true),
        (r"\p{Uppercase_Letter}", "a", false),
        (r"[^\x00-\x{10FFFF}]", "a", false),
        (r"\x{D800}", "\u{fffd}", false),
        ("((a{2}){0}){1000}", "", true),
        ("^*a", "a", true),
    ] {
        assert_eq!(matches(go, value), want, "{go} on {value:?}");
    }
}

#[test]
fn refuses_what_go_refuses() {
    for (go, want) in [
        ("a{1001}", "invalid repeat count: `{1001}`"),
        ("a{2,1}", "invalid repeat count: `{2,1}`"),
        ("a{1000000000}", "invalid repeat count: `{1000000000}`"),
        ("(a{100}){20}", "invalid repeat count: `{20}`"),
        ("((a{10}b){10}){11}?", "invalid repeat count: `{11}?`"),
        ("(?x)a", "invalid or unsupported Perl syntax: `(?x`"),
        ("(?i-)a", "invalid or unsupported Perl syntax: `(?i-)`"),
        ("(?--i)", "invalid or unsupported Perl syntax: `(?--`"),
        ("(?P=a)", "invalid or unsupported Perl syntax: `(?P`"),
        ("(?i", "invalid or unsupported Perl syntax: `(?i`"),
        (r"\u00fc", r"invalid escape sequence: `\u`"),
        (r"\e", r"invalid escape sequence: `\e`"),
        (r"\Z", r"invalid escape sequence: `\Z`"),
        (r"\C", r"invalid escape sequence: `\C`"),
        (r"\1", r"invalid escape sequence: `\1`"),
        (r"\8", r"invalid escape sequence: `\8`"),
        (r"\é", r"invalid escape sequence: `\é`"),
        (r"\xZZ", r"invalid escape sequence: `\xZZ`"),
        (r"\x{}", r"invalid escape sequence: `\x{}`"),
        (r"\x{110000}", r"invalid escape sequence: `\x{110000`"),
        (r"[\b]", r"invalid escape sequence: `\b`"),
        ("a", ""),
        ("a\\", "trailing backslash at end of expression: ``"),
        ("a**", "invalid nested repetition operator: `**`"),
        ("a+?*", "invalid nested repetition operator: `+?*`"),
        ("a{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
        ("*a", "missing argument to repetition operator: `*`"),
        ("a|+", "missing argument to repetition operator: `+`"),
        ("({2})", "missing argument to repetition operator: `{2}`"),
        ("(?P<a", "invalid named capture: `(?P<a`"),
        ("(?P<a-b>x)", "invalid named capture: `(?P<a-b>`"),
        ("(?<>x)", "invalid named capture: `(?<>`"),
        ("[z-a]", "invalid character class range: `z-a`"),
        ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
        (r"\pX", r"invalid character class range: `\pX`"),
        (
            r"\p{Alphabetic}",
            r"invalid character class range: `\p{Alphabetic}`",
        ),
        (r"[\p{Greek", r"invalid character class range: `\p{Greek`"),
        ("[a", "missing closing ]: `[a`"),
        ("x[]", "missing closing ]: `[]`"),
        ("(a", "missing closing ): `(a`"),
        ("a)(", "unexpected ): `a)(`"),
    ] {
        let got = translate(go).err().map(|e| e.to_string());
        let want = (!want.is_empty()).then(|| format!("error parsing regexp: {want}"));
        assert_eq!(got, want, "{go}");
    }
}

#[test]
fn repeat_syntax_like_go() {
    for (s, want) in [
        ("{2}", Some((2, 2, 3))),
        ("{2,}x", Some((2, -1, 4))),
        ("{2,5}", Some((2, 5, 5))),
        ("{0}", Some((0, 0, 3))),
        ("{1000000000}", Some((-1, -1, 12))),
        ("{1,1000000000}", Some((-1, -1, 14))),
        ("{,1}", None),
        ("{01}", None),
        ("{1", None),
        ("{1,", None),
        ("{a}", None),
        ("{}", None),
    ] {
        assert_eq!(parse_repeat(s), want, "{s}");
    }
}
