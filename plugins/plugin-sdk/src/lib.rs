//! What wasmfed's stock guest plugins share of Prometheus' semantics.
//!
//! Each stock plugin is its own WebAssembly component with its own generated WIT bindings, so
//! the only thing they can share is plain Rust: this crate holds the pieces that must be
//! bit-exact with Prometheus in more than one plugin (the `hashmod` arithmetic, the legacy label
//! name rule). It is a library only; it is never built into a component by itself.

/// Prometheus' `hashmod`: the MD5 digest of `value`, its last 8 bytes read as a big-endian
/// integer, modulo `modulus`. Only the last 8 bytes count because Prometheus kept the result of
/// an older implementation that folded all 16 bytes into a `u64` (the high half shifted out).
///
/// # Panics
/// When `modulus` is 0; configurations reject that before any value is hashed.
pub fn hashmod(value: &str, modulus: u64) -> u64 {
    let digest = md5::compute(value.as_bytes()).0;
    let mut low = [0u8; 8];
    low.copy_from_slice(&digest[8..]);
    u64::from_be_bytes(low) % modulus
}

/// Prometheus' legacy label name rule, `[a-zA-Z_][a-zA-Z0-9_]*`, the one wasmfed's parser and
/// `/federate` writer use.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashmod_matches_prometheus_vectors() {
        // From Prometheus' model/relabel/relabel_test.go.
        for (value, modulus, want) in [("baz", 1000, 976), ("foo\nbar", 1000, 734)] {
            assert_eq!(hashmod(value, modulus), want, "{value:?}");
        }
    }

    #[test]
    fn hashmod_uses_the_low_half_of_the_digest() {
        // md5("") = d41d8cd98f00b204 e9800998ecf8427e: only the second half counts.
        assert_eq!(hashmod("", u64::MAX), 0xe980_0998_ecf8_427e);
        assert_eq!(hashmod("", 1 << 32), 0xecf8_427e);
        assert_eq!(hashmod("", 1), 0);
    }

    #[test]
    fn label_names() {
        for (name, valid) in [
            ("a", true),
            ("_", true),
            ("__address__", true),
            ("Ab_9", true),
            ("", false),
            ("9a", false),
            ("a-b", false),
            ("a.b", false),
            ("é", false),
            ("a$1", false),
        ] {
            assert_eq!(is_valid_label_name(name), valid, "{name:?}");
        }
    }
}
