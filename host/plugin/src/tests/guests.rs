//! Real guests built with `wit-bindgen`: the identity plugin (wasm32-unknown-unknown made a
//! component) and the probe (wasm32-wasip2), plus stages chaining plugins.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::wat::{self, Guest};
use super::{labels, runtime, IDENTITY, PROBE};
use crate::{FailureKind, Plugin, PluginError, PluginLimits, Stage, World};
use wasmfed_model::Labels;

fn identity(world: World) -> Plugin {
    super::identity_in(runtime(), world)
}

#[test]
fn identity_keeps_and_drops_in_both_stages() {
    let batch = [
        labels(&[("__name__", "up"), ("job", "a")]),
        labels(&[("__name__", "drop_me")]),
        labels(&[("__address__", "h:9100"), ("job", "node")]),
        Labels::new(),
    ];
    for world in [World::Target, World::Series] {
        let plugin = identity(world);
        let got = plugin.process(&batch).unwrap();
        let want = [
            Some(batch[0].clone()),
            None,
            Some(batch[2].clone()),
            Some(Labels::new()),
        ];
        assert_eq!(got, want, "{world}");
        assert_eq!(plugin.process(&[]).unwrap(), []);
        assert!(plugin.stats().fuel_used() > 0);
    }
}

#[test]
fn a_plugin_error_fails_the_call_but_keeps_the_instance() {
    let plugin = identity(World::Series);
    let error = plugin
        .process(&[labels(&[("__name__", "fail_me")])])
        .unwrap_err();
    assert_eq!(error.kind(), Some(FailureKind::Guest));
    assert!(error.to_string().contains("asked to fail"), "{error}");
    plugin.process(&[labels(&[("__name__", "ok")])]).unwrap();
    assert_eq!(plugin.stats().instantiations(), 1);
    assert_eq!(plugin.stats().failures(FailureKind::Guest), 1);
}

#[test]
fn identity_refuses_a_config_at_init() {
    let got = runtime().load(
        "identity",
        IDENTITY,
        World::Target,
        r#"{"reject":1}"#,
        PluginLimits::default(),
    );
    match got {
        Err(PluginError::Init(message)) => {
            assert!(message.starts_with("invalid config: rejected"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn plugin_metadata() {
    let plugin = identity(World::Target);
    assert_eq!(plugin.name(), "identity");
    assert_eq!(plugin.world(), World::Target);
    let sha = plugin.sha256();
    assert_eq!(sha.len(), 64);
    assert!(sha.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn calls_from_many_threads_share_one_plugin() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Plugin>();
    let plugin = Arc::new(identity(World::Series));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let plugin = plugin.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let set = labels(&[("__name__", "m"), ("i", &format!("{t}-{i}"))]);
                    assert_eq!(
                        plugin.process(std::slice::from_ref(&set)).unwrap(),
                        [Some(set)]
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(plugin.stats().calls(), 200);
    assert!(
        plugin.stats().instantiations() <= 5,
        "{}",
        plugin.stats().instantiations()
    );
}

/// Collects formatted `tracing` output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_wasip2_guest_sees_no_capabilities_and_its_output_is_logged() {
    // The probe's init fails naming any environment, argument, directory or clock it finds.
    let plugin = runtime()
        .load(
            "probe",
            PROBE,
            World::Series,
            "null",
            PluginLimits::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let batch = [labels(&[("__name__", "hello")])];
    let got = tracing::subscriber::with_default(subscriber, || plugin.process(&batch));
    assert_eq!(got.unwrap(), [Some(batch[0].clone())]);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for want in [
        "INFO wasmfed_plugin::guest: stdout saw hello plugin=\"probe\" stream=\"stdout\"",
        "WARN wasmfed_plugin::guest: stderr saw hello plugin=\"probe\" stream=\"stderr\"",
    ] {
        assert!(log.contains(want), "{want:?} not in {log}");
    }
}

#[test]
fn a_guest_cannot_sleep() {
    let plugin = runtime()
        .load(
            "probe",
            PROBE,
            World::Series,
            "null",
            PluginLimits::default(),
        )
        .unwrap();
    let started = Instant::now();
    let error = plugin
        .process(&[labels(&[("__name__", "sleep")])])
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.kind(), Some(FailureKind::Trap));
    assert!(error.to_string().contains("cannot sleep"), "{error}");
}

#[test]
fn a_stage_feeds_each_plugin_what_the_previous_kept() {
    // The second plugin traps on batches of exactly two, so it must see three inputs when
    // nothing is dropped and two when the identity drops one.
    let gated = Guest {
        process: &wat::gated(wat::TRAP),
        ..Guest::default()
    }
    .component();
    let second = runtime()
        .load(
            "gated",
            &gated,
            World::Series,
            "null",
            PluginLimits::default(),
        )
        .unwrap();
    let stage = Stage::new(
        World::Series,
        vec![Arc::new(identity(World::Series)), Arc::new(second)],
    )
    .unwrap();
    let kept = [
        labels(&[("__name__", "a")]),
        labels(&[("__name__", "b")]),
        labels(&[("__name__", "c")]),
    ];
    let got = stage.process(&kept).unwrap();
    assert_eq!(got, kept.iter().cloned().map(Some).collect::<Vec<_>>());

    let one_dropped = [
        kept[0].clone(),
        labels(&[("__name__", "drop_me")]),
        kept[2].clone(),
    ];
    let error = stage.process(&one_dropped).unwrap_err();
    assert_eq!(error.plugin, "gated");
    assert_eq!(error.error.kind(), Some(FailureKind::Trap));
}

#[test]
fn a_stage_drops_emptied_sets_and_refuses_plugins_of_another_stage() {
    // Answers `some({a=""})` for batches of two: empty once empty values are dropped.
    let emptying = Guest {
        process: &wat::gated(wat::CANNED),
        data: wat::answer(&[(b"a", b"")]),
        ..Guest::default()
    }
    .component();
    let plugin = runtime()
        .load(
            "emptying",
            &emptying,
            World::Target,
            "null",
            PluginLimits::default(),
        )
        .unwrap();
    let stage = Stage::new(World::Target, vec![Arc::new(plugin)]).unwrap();
    let batch = [labels(&[("a", "1")]), labels(&[("a", "2")])];
    assert_eq!(stage.process(&batch).unwrap(), [None, None]);

    let series = Arc::new(identity(World::Series));
    let error = Stage::new(World::Target, vec![series]).unwrap_err();
    assert!(matches!(error, PluginError::WrongWorld(_)), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_callers_run_calls_on_blocking_threads() {
    // The probe writes to stdout, which goes through WASI's own use of the Tokio runtime.
    let plugin = Arc::new(
        runtime()
            .load(
                "probe",
                PROBE,
                World::Series,
                "null",
                PluginLimits::default(),
            )
            .unwrap(),
    );
    let batch = vec![labels(&[("__name__", "from_tokio")])];
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let plugin = plugin.clone();
            let batch = batch.clone();
            tokio::task::spawn_blocking(move || plugin.process(&batch))
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), [Some(batch[0].clone())]);
    }
}
