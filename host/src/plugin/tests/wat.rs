//! Hand-written hostile components: WAT text around core function bodies.
//!
//! The canonical ABI is written out by hand only where a test needs it: each export's core
//! function returns a pointer to a return area the test lays out with data segments (all
//! zeroes is `ok` with an empty list), so a hostile body can misbehave before returning and a
//! "bad answer" body can return exactly the bytes a test wants.

use std::fmt::Write;

/// A component exporting `lifecycle` and the listed stage interfaces.
pub(crate) struct Guest<'a> {
    /// Body of `init(ptr, len) -> ret-area` (a return area of 16 bytes).
    pub init: &'a str,
    /// Body of `process(ptr, len) -> ret-area`; the batch length is local 1.
    pub process: &'a str,
    /// Bytes placed at fixed addresses (below 4096; the allocator hands out from 8192).
    pub data: &'a [(u32, &'a [u8])],
    /// Which stage interfaces to export: "targets", "series".
    pub stages: &'a [&'a str],
    /// Initial memory, in 64 KiB pages.
    pub pages: u32,
}

/// An `init` that succeeds: a zeroed return area is `ok`.
pub(crate) const INIT_OK: &str = "(i32.const 2048)";
/// A `process` that returns `ok([])`.
pub(crate) const EMPTY_ANSWER: &str = "(i32.const 2048)";

impl Default for Guest<'_> {
    fn default() -> Self {
        Guest {
            init: INIT_OK,
            process: EMPTY_ANSWER,
            data: &[],
            stages: &["targets", "series"],
            pages: 1,
        }
    }
}

impl Guest<'_> {
    pub(crate) fn component(&self) -> Vec<u8> {
        let text = self.text();
        wat::parse_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn text(&self) -> String {
        let mut data = String::new();
        for (addr, bytes) in self.data {
            let _ = write!(data, "(data (i32.const {addr}) \"");
            for b in *bytes {
                let _ = write!(data, "\\{b:02x}");
            }
            data.push_str("\")\n");
        }
        let mut stages = String::new();
        for stage in self.stages {
            let _ = write!(
                stages,
                r#"(func $process-{stage} (param "batch" (list $labels))
                     (result (result (list (option $labels)) (error $plugin-error)))
                     (canon lift (core func $i "process") (memory $i "memory")
                                 (realloc (func $i "cabi_realloc"))))
                   (instance $stage-{stage}
                     (export "label" (type $label))
                     (export "labels" (type $labels))
                     (export "plugin-error" (type $plugin-error))
                     (export "process" (func $process-{stage})))
                   (export "wasmfed:plugin/{stage}@0.1.0" (instance $stage-{stage}))
                "#
            );
        }
        format!(
            r#"(component
  (core module $m
    (memory (export "memory") {pages})
    (global $heap (mut i32) (i32.const 8192))
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
      (local $ptr i32)
      (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get 2))))
      (global.set $heap (i32.add (local.get $ptr) (local.get 3)))
      (block $fits
        (br_if $fits (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
        (drop (memory.grow (i32.add (i32.const 1)
          (i32.div_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
                     (i32.const 65536))))))
      (local.get $ptr))
    (func (export "init") (param i32 i32) (result i32) {init})
    (func (export "process") (param i32 i32) (result i32) {process})
    {data}
  )
  (core instance $i (instantiate $m))
  (type $label (record (field "name" string) (field "value" string)))
  (type $labels (list $label))
  (type $plugin-error (variant (case "invalid-config" string) (case "failed" string)))
  (func $init (param "config" string) (result (result (error $plugin-error)))
    (canon lift (core func $i "init") (memory $i "memory") (realloc (func $i "cabi_realloc"))))
  (instance $lifecycle
    (export "plugin-error" (type $plugin-error))
    (export "init" (func $init)))
  (export "wasmfed:plugin/lifecycle@0.1.0" (instance $lifecycle))
  {stages}
)"#,
            pages = self.pages,
            init = self.init,
            process = self.process,
        )
    }
}
