//! What can go wrong with a plugin, and the one place where a wasmtime failure is classified.
//!
//! A failed call reaches the host in several shapes: a `Trap` code (fuel, `unreachable`), a
//! plain error carrying no trap code (a memory grow refused with `trap_on_grow_failure`, a
//! result too large to copy out, a canonical-ABI violation), or a guest that caught its own
//! allocation failure and aborted. Downcasting to `Trap` alone would misfile the last two, so
//! [`classify`] also takes what the store's limiter saw during the call.

use std::fmt;

use wasmtime::Trap;

/// Why one call into a plugin failed. The variants are stable names for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The guest trapped (`unreachable`, out-of-bounds access, stack overflow, exit) or broke
    /// the canonical ABI while handing back its result.
    Trap,
    /// The call used up its fuel budget.
    Budget,
    /// The guest asked for more memory than its cap.
    Memory,
    /// The result held more labels, or more bytes, than the limits allow.
    OutputTooLarge,
    /// The result was well-formed WIT but not a valid answer: a wrong number of entries,
    /// invalid label names or duplicate names in one set.
    BadOutput,
    /// The plugin answered `plugin-error` for this call.
    Guest,
}

impl FailureKind {
    /// Every kind, in declaration order; counters are indexed by position in this list.
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Trap,
        FailureKind::Budget,
        FailureKind::Memory,
        FailureKind::OutputTooLarge,
        FailureKind::BadOutput,
        FailureKind::Guest,
    ];

    /// A short snake_case name, fit for a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Trap => "trap",
            FailureKind::Budget => "budget",
            FailureKind::Memory => "memory",
            FailureKind::OutputTooLarge => "output_too_large",
            FailureKind::BadOutput => "bad_output",
            FailureKind::Guest => "guest",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The wasmtime engine could not be set up.
    #[error("plugin engine: {0}")]
    Engine(String),
    /// The bytes are not a valid component, or it imports something the host does not give.
    #[error("compiling plugin: {0}")]
    Compile(String),
    /// The component does not export what its stage needs.
    #[error("plugin does not fit its stage: {0}")]
    WrongWorld(String),
    /// The component is not the content its configuration pins (`sha256:`).
    #[error("{0}")]
    Pinned(String),
    /// Instantiating the component or its `init` failed; the text says why.
    #[error("initialising plugin: {0}")]
    Init(String),
    /// One call failed; the plugin stays usable for the next call.
    #[error("plugin call failed ({kind}): {message}")]
    Call { kind: FailureKind, message: String },
}

impl PluginError {
    /// The failure kind of a failed call, `None` for the load-time errors.
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            PluginError::Call { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    pub(crate) fn call(kind: FailureKind, message: impl Into<String>) -> Self {
        PluginError::Call {
            kind,
            message: message.into(),
        }
    }
}

/// wasmtime reports a result too large to copy out of the guest ("hostcall fuel") with a
/// private error type, so its message is the only handle; a test pins it.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// Classifies the error of a failed call into the guest. `memory_denied` says whether the
/// store's limiter refused a memory grow during the call: whatever shape the failure took
/// afterwards (a plain error, or the guest aborting on a failed allocation), that is the cause.
pub(crate) fn classify(error: &wasmtime::Error, memory_denied: bool) -> FailureKind {
    if memory_denied {
        return FailureKind::Memory;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel | Trap::Interrupt) => FailureKind::Budget,
        Some(_) => FailureKind::Trap,
        None if format!("{error:#}").contains(HOSTCALL_FUEL_EXHAUSTED) => {
            FailureKind::OutputTooLarge
        }
        None => FailureKind::Trap,
    }
}

/// The full message of a wasmtime error with its causes, for logs and `PluginError` texts.
pub(crate) fn describe(error: &wasmtime::Error) -> String {
    format!("{error:#}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let cases: [(wasmtime::Error, bool, FailureKind); 7] = [
            (Trap::OutOfFuel.into(), false, FailureKind::Budget),
            (Trap::Interrupt.into(), false, FailureKind::Budget),
            (
                Trap::UnreachableCodeReached.into(),
                false,
                FailureKind::Trap,
            ),
            // A guest that aborts after its allocator was refused memory.
            (
                Trap::UnreachableCodeReached.into(),
                true,
                FailureKind::Memory,
            ),
            (
                wasmtime::format_err!("forcing a memory growth failure to be a trap"),
                true,
                FailureKind::Memory,
            ),
            (
                wasmtime::format_err!("too much data: {HOSTCALL_FUEL_EXHAUSTED}"),
                false,
                FailureKind::OutputTooLarge,
            ),
            (
                wasmtime::format_err!("string pointer/length out of bounds of memory"),
                false,
                FailureKind::Trap,
            ),
        ];
        for (error, denied, want) in cases {
            assert_eq!(classify(&error, denied), want, "{error:#}");
        }
    }

    #[test]
    fn traps_wrapped_in_context_are_still_found() {
        let error = wasmtime::Error::from(Trap::OutOfFuel).context("calling process");
        assert_eq!(classify(&error, false), FailureKind::Budget);
    }

    #[test]
    fn kinds_index_their_own_position() {
        for (i, kind) in FailureKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i, "{kind}");
        }
    }
}
