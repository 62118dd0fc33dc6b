//! A core WebAssembly module into a component, as `wasm-tools component new` does: the
//! module carries its world's type (the `_component_type.o` object the C bindings link in),
//! and the encoder lifts its exports to that world's interfaces.
//!
//! No WASI adapter is offered: a plugin gets no files, clocks or output, so a module that
//! imports `wasi_snapshot_preview1` (printf, time, getenv...) is refused with that reason
//! rather than given calls that could only fail at run time.

use wit_component::ComponentEncoder;

use crate::{KitError, Result};

/// The first eight bytes of a core module (a component's version field differs).
const CORE_MODULE: [u8; 8] = *b"\0asm\x01\0\0\0";

/// The component for `module`.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>> {
    if !module.starts_with(&CORE_MODULE) {
        let why = if module.starts_with(b"\0asm") {
            "this is already a component (or not a core module): load it as it is"
        } else {
            "not a WebAssembly module"
        };
        return Err(KitError::Componentize(why.into()));
    }
    let refused = |e: anyhow::Error| KitError::Componentize(explain(&format!("{e:#}")));
    ComponentEncoder::default()
        .module(module)
        .map_err(refused)?
        .validate(true)
        .encode()
        .map_err(refused)
}

/// The encoder's reason, with what to do about the one a plugin author meets most.
fn explain(why: &str) -> String {
    if why.contains("wasi_snapshot_preview1") {
        format!(
            "{why}\nthe module calls WASI (files, clocks, output: printf, time, getenv...), which a \
             plugin does not get; remove those calls"
        )
    } else {
        why.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::componentize;

    #[test]
    fn components_and_other_bytes_are_refused_with_a_reason() {
        let component = b"\0asm\x0d\0\x01\0";
        let err = componentize(component).unwrap_err().to_string();
        assert!(err.contains("already a component"), "{err}");
        assert!(componentize(b"hello")
            .unwrap_err()
            .to_string()
            .contains("not a WebAssembly module"));
    }

    #[test]
    fn a_module_calling_wasi_is_refused_with_what_to_remove() {
        let module = wat::parse_str(
            r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#,
        )
        .unwrap();
        let err = componentize(&module).unwrap_err().to_string();
        assert!(err.contains("remove those calls"), "{err}");
    }
}
