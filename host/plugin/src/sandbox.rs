//! What a plugin instance can reach: its store's state and the host functions it may import.
//!
//! Components built for `wasm32-wasip2` import WASI whether they use it or not, so the linker
//! provides WASI 0.2 — with nothing behind it: no arguments, environment, directories, stdin
//! or network, a clock frozen at the Unix epoch and a fixed "random" stream (a plugin must be
//! a pure function of its configuration and input). Two things are actively taken away:
//! sleeping (`monotonic-clock.subscribe-*` trap, since a sleep would hold a host thread where
//! no fuel is counted) and unbounded logging (stdout and stderr become `tracing` events tagged
//! with the plugin's name, at most [`LOG_BYTES_PER_CALL`] per stream and call). Rule and query
//! plugins also get the `store` import (`super::store`), over the series the node lets them see.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::{Engine, StoreContextMut};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{
    Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView,
    WasiView,
};

use super::bindings::wit_store;
use super::limits::MemoryCap;
use super::store::StoreAccess;

/// The WASI clock interface whose sleeps are taken away, named exactly as `wasmtime-wasi`
/// defines it (guests importing any 0.2.x version resolve to it).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// How much of its stdout (and of its stderr) one call may log; the rest is dropped.
pub(crate) const LOG_BYTES_PER_CALL: usize = 16 << 10;

/// The state of one plugin instance's store.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryCap,
    logs: [GuestLog; 2],
    /// What the `store` import reads; only rule and query plugins are linked with it.
    pub(crate) store: Option<StoreAccess>,
}

impl HostState {
    pub(crate) fn new(plugin: &Arc<str>, memory_bytes: usize, store: Option<StoreAccess>) -> Self {
        let stdout = GuestLog::new(plugin, "stdout");
        let stderr = GuestLog::new(plugin, "stderr");
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(Deterministic::new(FIXED_RANDOM.to_vec()))
            .insecure_random(Deterministic::new(FIXED_RANDOM.to_vec()))
            .insecure_random_seed(0)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap::new(memory_bytes),
            logs: [stdout, stderr],
            store,
        }
    }

    /// Gives the guest's log streams their allowance for a new call.
    pub(crate) fn start_call(&mut self) {
        for log in &self.logs {
            log.lock().allowance = LOG_BYTES_PER_CALL;
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The linker every plugin is instantiated with: WASI 0.2 as described above, nothing else.
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |_: StoreContextMut<'_, HostState>, (_,): (u64,)| no_sleeping(),
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |_: StoreContextMut<'_, HostState>, (_,): (u64,)| no_sleeping(),
    )?;
    linker.allow_shadowing(false);
    Ok(linker)
}

/// The linker of rule and query plugins: [`linker`] plus the `store` import.
pub(crate) fn store_linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = linker(engine)?;
    wit_store::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
        &mut linker,
        |state| state,
    )?;
    Ok(linker)
}

fn no_sleeping() -> wasmtime::Result<(Resource<DynPollable>,)> {
    Err(wasmtime::format_err!(
        "plugins cannot sleep or wait on a clock"
    ))
}

/// Stands in for randomness: any fixed bytes do, as long as every instance sees the same.
const FIXED_RANDOM: [u8; 8] = [0x5e, 0xed, 0x0f, 0x77, 0xa5, 0xfe, 0xd0, 0x0d];

/// Both WASI clocks, stopped at the Unix epoch.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A guest's stdout or stderr: whole lines become `tracing` events (stdout at info, stderr at
/// warn, so a guest's panic message stands out), target `wasmfed_plugin::guest`.
#[derive(Clone)]
struct GuestLog(Arc<Mutex<LineBuffer>>);

struct LineBuffer {
    plugin: Arc<str>,
    stream: &'static str,
    pending: Vec<u8>,
    /// Bytes this call may still log.
    allowance: usize,
}

/// A line longer than this is logged in pieces.
const MAX_LINE: usize = 1024;

impl GuestLog {
    fn new(plugin: &Arc<str>, stream: &'static str) -> Self {
        GuestLog(Arc::new(Mutex::new(LineBuffer {
            plugin: plugin.clone(),
            stream,
            pending: Vec::new(),
            allowance: LOG_BYTES_PER_CALL,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LineBuffer> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_bytes(&self, bytes: &[u8]) {
        self.lock().write(bytes);
    }
}

impl LineBuffer {
    fn write(&mut self, bytes: &[u8]) {
        let kept = bytes.len().min(self.allowance);
        let crossed = kept < bytes.len() && self.allowance > 0;
        self.allowance -= kept;
        for &b in &bytes[..kept] {
            if b == b'\n' {
                self.flush_line();
            } else {
                self.pending.push(b);
                if self.pending.len() >= MAX_LINE {
                    self.flush_line();
                }
            }
        }
        if crossed {
            self.emit(format!(
                "(output beyond {LOG_BYTES_PER_CALL} bytes in one call dropped)"
            ));
        }
    }

    fn flush_line(&mut self) {
        let line = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        self.emit(line);
    }

    fn emit(&self, line: String) {
        let plugin = &*self.plugin;
        let stream = self.stream;
        if stream == "stderr" {
            tracing::warn!(target: "wasmfed_plugin::guest", plugin, stream, "{line}");
        } else {
            tracing::info!(target: "wasmfed_plugin::guest", plugin, stream, "{line}");
        }
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.flush_line();
        }
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for GuestLog {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        // Always ready: what exceeds the allowance is dropped, never waited on.
        Ok(MAX_LINE * 64)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestLog {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestLog {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_allowance_is_per_call() {
        let plugin: Arc<str> = Arc::from("t");
        let log = GuestLog::new(&plugin, "stdout");
        log.write_bytes(&vec![b'x'; LOG_BYTES_PER_CALL + 10]);
        assert_eq!(log.lock().allowance, 0);
        log.lock().allowance = LOG_BYTES_PER_CALL;
        log.write_bytes(b"ok\n");
        assert_eq!(log.lock().allowance, LOG_BYTES_PER_CALL - 3);
        assert!(log.lock().pending.is_empty());
    }
}
