//! Hand-written hostile components: WAT text around core function bodies.
//!
//! The canonical ABI is written out by hand only where a test needs it: each export's core
//! function returns a pointer to a 16-byte return area (all zeroes is `ok` with an empty
//! list; [`gated`] writes its answers at 2048, canned answers sit at 2560), which a test can lay out with data segments to return exactly the bytes it wants.
//! [`gated`] builds a `process` that passes every set through unchanged (its core function
//! copies the input list's (pointer, length) pairs into `some` entries) except for batches of
//! two, where it runs the hostile code instead; so one plugin shows both the failure and that
//! the call after it succeeds.

use std::fmt::Write;

/// A component exporting `lifecycle` and the listed stage interfaces.
pub(crate) struct Guest<'a> {
    /// Body of `init(ptr, len) -> ret-area` (a return area of 16 bytes).
    pub init: &'a str,
    /// Body of `process(ptr, len) -> ret-area`; the batch length is local 1.
    pub process: &'a str,
    /// Bytes placed at fixed addresses (below 4096; the allocator hands out from 8192).
    pub data: Vec<(u32, Vec<u8>)>,
    /// Which stage interfaces to export: "targets", "series".
    pub stages: &'a [&'a str],
    /// Initial memory, in 64 KiB pages.
    pub pages: u32,
}

/// An `init` that succeeds: a return area nothing writes to (zeroes) is `ok`.
pub(crate) const INIT_OK: &str = "(i32.const 2304)";
/// A `process` that returns `ok([])`, from the same untouched area.
pub(crate) const EMPTY_ANSWER: &str = "(i32.const 2304)";

impl Default for Guest<'_> {
    fn default() -> Self {
        Guest {
            init: INIT_OK,
            process: EMPTY_ANSWER,
            data: Vec::new(),
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
        for (addr, bytes) in &self.data {
            let _ = write!(data, "(data (i32.const {addr}) \"");
            for b in bytes {
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
    (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
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

/// A `process` body that misbehaves with `hostile` on batches of two and is the identity
/// otherwise. `hostile` may use locals `$i` and `$out` and must leave nothing on the stack.
pub(crate) fn gated(hostile: &str) -> String {
    format!(
        r#"(local $i i32) (local $out i32)
        (if (i32.eq (local.get 1) (i32.const 2)) (then {hostile}))
        (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 4)
                                       (i32.mul (local.get 1) (i32.const 12))))
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get 1)))
          (i32.store8 (i32.add (local.get $out) (i32.mul (local.get $i) (i32.const 12))) (i32.const 1))
          (i32.store offset=4 (i32.add (local.get $out) (i32.mul (local.get $i) (i32.const 12)))
            (i32.load (i32.add (local.get 0) (i32.mul (local.get $i) (i32.const 8)))))
          (i32.store offset=8 (i32.add (local.get $out) (i32.mul (local.get $i) (i32.const 12)))
            (i32.load offset=4 (i32.add (local.get 0) (i32.mul (local.get $i) (i32.const 8)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
        (i32.store (i32.const 2052) (local.get $out))
        (i32.store (i32.const 2056) (local.get 1))
        (i32.const 2048)"#
    )
}

/// Returns `ok([])` at once.
pub(crate) const EMPTY_ANSWER_RETURN: &str = "(return (i32.const 2304))";
/// Spins forever.
pub(crate) const LOOP: &str = "(loop $l (br $l))";
/// Grows memory a MiB at a time until refused, then traps.
pub(crate) const MEMORY_BOMB: &str =
    "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) (unreachable)";
/// Traps at once.
pub(crate) const TRAP: &str = "(unreachable)";
/// Returns the answer laid out at 2560 by [`answer`].
pub(crate) const CANNED: &str = "(return (i32.const 2560))";
/// Returns two entries that each hold the same 4000 empty labels (zeroed memory at 64 KiB):
/// 8000 labels and 384 KB of host memory from a few bytes of guest memory.
pub(crate) const AMPLIFIED: &str = r#"
    (i32.store8 (i32.const 3000) (i32.const 1))
    (i32.store (i32.const 3004) (i32.const 65536))
    (i32.store (i32.const 3008) (i32.const 4000))
    (i32.store8 (i32.const 3012) (i32.const 1))
    (i32.store (i32.const 3016) (i32.const 65536))
    (i32.store (i32.const 3020) (i32.const 4000))
    (i32.store (i32.const 2564) (i32.const 3000))
    (i32.store (i32.const 2568) (i32.const 2))
    (return (i32.const 2560))"#;

/// Data segments for a canned `ok` answer of two `some` entries, both holding `labels`.
pub(crate) fn answer(labels: &[(&[u8], &[u8])]) -> Vec<(u32, Vec<u8>)> {
    let le = |v: u32| v.to_le_bytes();
    let mut records = Vec::new();
    let mut strings = Vec::new();
    let strings_at = 3200u32;
    for (name, value) in labels {
        for s in [*name, *value] {
            records.extend(le(strings_at + strings.len() as u32));
            records.extend(le(s.len() as u32));
            strings.extend_from_slice(s);
        }
    }
    let n = labels.len() as u32;
    let mut entries = Vec::new();
    for _ in 0..2 {
        entries.push(1u8);
        entries.extend([0; 3]);
        entries.extend(le(3100));
        entries.extend(le(n));
    }
    let mut ret = vec![0u8; 4];
    ret.extend(le(3000));
    ret.extend(le(2));
    vec![
        (2560, ret),
        (3000, entries),
        (3100, records),
        (strings_at, strings),
    ]
}

/// Data for an `init` that refuses with `invalid-config(text)`: the return area at 2560.
pub(crate) fn init_refusal(text: &str) -> Vec<(u32, Vec<u8>)> {
    let mut ret = vec![1u8, 0, 0, 0, 0, 0, 0, 0];
    ret.extend(3200u32.to_le_bytes());
    ret.extend((text.len() as u32).to_le_bytes());
    vec![(2560, ret), (3200, text.as_bytes().to_vec())]
}
