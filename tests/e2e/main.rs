//! End-to-end tests: run the real `wasmfed` binary on loopback.
