//! Hostile components: each failure is classified, confined to its call, and followed by a
//! call that succeeds on a fresh instance.

use std::time::{Duration, Instant};

use super::wat::{self, Guest};
use super::{labels, runtime};
use crate::{FailureKind, PluginError, PluginLimits, World};

struct Case {
    name: &'static str,
    process: String,
    data: Vec<(u32, Vec<u8>)>,
    limits: PluginLimits,
    want: FailureKind,
    /// A fragment the failure's message must contain.
    says: &'static str,
}

fn cases() -> Vec<Case> {
    let limits = PluginLimits::default();
    let gated = |hostile: &str| wat::gated(hostile);
    vec![
        Case {
            name: "infinite loop",
            process: gated(wat::LOOP),
            data: vec![],
            limits,
            want: FailureKind::Budget,
            says: "fuel",
        },
        Case {
            name: "memory bomb",
            process: gated(wat::MEMORY_BOMB),
            data: vec![],
            limits,
            want: FailureKind::Memory,
            says: "memory cap",
        },
        Case {
            name: "trap",
            process: gated(wat::TRAP),
            data: vec![],
            limits,
            want: FailureKind::Trap,
            says: "unreachable",
        },
        Case {
            name: "wrong count",
            process: gated(wat::EMPTY_ANSWER_RETURN),
            data: vec![],
            limits,
            want: FailureKind::BadOutput,
            says: "returned 0 entries for 2 inputs",
        },
        Case {
            name: "invalid label name",
            process: gated(wat::CANNED),
            data: wat::answer(&[(b"", b"x")]),
            limits,
            want: FailureKind::BadOutput,
            says: "invalid label name \"\"",
        },
        Case {
            name: "duplicate label",
            process: gated(wat::CANNED),
            data: wat::answer(&[(b"a", b"x"), (b"b", b"y"), (b"a", b"")]),
            limits,
            want: FailureKind::BadOutput,
            says: "label \"a\" appears twice",
        },
        Case {
            name: "invalid UTF-8 breaks the ABI",
            process: gated(wat::CANNED),
            data: wat::answer(&[(b"a", b"\xff")]),
            limits,
            want: FailureKind::Trap,
            says: "utf-8",
        },
        Case {
            name: "too many labels",
            process: gated(wat::AMPLIFIED),
            data: vec![],
            limits: PluginLimits {
                max_output_labels: 5000,
                ..limits
            },
            want: FailureKind::OutputTooLarge,
            says: "8000 labels",
        },
        Case {
            name: "too many bytes",
            process: gated(wat::AMPLIFIED),
            data: vec![],
            limits: PluginLimits {
                max_output_bytes: 100_000,
                ..limits
            },
            want: FailureKind::OutputTooLarge,
            says: "hostcalls",
        },
    ]
}

#[test]
fn failures_are_classified_and_confined_to_their_call() {
    let one = [labels(&[("__name__", "up"), ("job", "a")])];
    let two = [labels(&[("__name__", "x")]), labels(&[("__name__", "y")])];
    for case in cases() {
        let component = Guest {
            process: &case.process,
            data: case.data,
            pages: 2,
            ..Guest::default()
        }
        .component();
        let plugin = runtime()
            .load(case.name, &component, World::Series, "null", case.limits)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(
            plugin.process(&one).unwrap(),
            [Some(one[0].clone())],
            "{}",
            case.name
        );

        let started = Instant::now();
        let error = plugin.process(&two).expect_err(case.name);
        let took = started.elapsed();
        let PluginError::Call { kind, message } = &error else {
            panic!("{}: {error}", case.name);
        };
        assert_eq!(*kind, case.want, "{}: {message}", case.name);
        assert!(
            message.to_lowercase().contains(&case.says.to_lowercase()),
            "{}: {message}",
            case.name
        );
        eprintln!("{}: {kind} after {took:?}", case.name);

        assert_eq!(
            plugin.process(&one).unwrap(),
            [Some(one[0].clone())],
            "{} after",
            case.name
        );
        let stats = plugin.stats();
        assert_eq!(
            (stats.calls(), stats.failures(case.want)),
            (3, 1),
            "{}",
            case.name
        );
    }
}

#[test]
fn a_failed_instance_is_replaced_and_a_healthy_one_reused() {
    let component = Guest {
        process: &wat::gated(wat::TRAP),
        ..Guest::default()
    }
    .component();
    let plugin = runtime()
        .load(
            "trap",
            &component,
            World::Target,
            "null",
            PluginLimits::default(),
        )
        .unwrap();
    let one = [labels(&[("a", "1")])];
    let two = [labels(&[("a", "1")]), labels(&[("a", "2")])];
    plugin.process(&one).unwrap();
    plugin.process(&one).unwrap();
    assert_eq!(plugin.stats().instantiations(), 1);
    plugin.process(&two).unwrap_err();
    plugin.process(&one).unwrap();
    assert_eq!(plugin.stats().instantiations(), 2);
    assert_eq!(plugin.stats().init_failures(), 0);
}

#[test]
fn the_loop_stops_within_the_budget() {
    let component = Guest {
        process: &wat::gated(wat::LOOP),
        ..Guest::default()
    }
    .component();
    let limits = PluginLimits::default();
    let plugin = runtime()
        .load("loop", &component, World::Series, "null", limits)
        .unwrap();
    let two = [labels(&[("a", "1")]), labels(&[("a", "2")])];
    let started = Instant::now();
    let error = plugin.process(&two).unwrap_err();
    let took = started.elapsed();
    assert_eq!(error.kind(), Some(FailureKind::Budget));
    // Everything the budget allowed was spent, and nothing more.
    let fuel = plugin.stats().fuel_used();
    assert!(fuel >= limits.fuel_per_call, "{fuel}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    eprintln!("infinite loop stopped after {took:?} ({fuel} fuel)");
}

#[test]
fn init_failures_are_reported_at_load() {
    let refusal = wat::init_refusal("no such rule");
    // (name, init body, data segments, what the error says)
    type Case = (
        &'static str,
        &'static str,
        Vec<(u32, Vec<u8>)>,
        &'static str,
    );
    let cases: [Case; 4] = [
        (
            "refuses",
            "(i32.const 2560)",
            refusal,
            "invalid config: no such rule",
        ),
        ("loops", "(loop $l (br $l)) (unreachable)", vec![], "budget"),
        ("traps", "(unreachable)", vec![], "trap"),
        ("bombs", wat::MEMORY_BOMB, vec![], "memory"),
    ];
    for (name, init, data, says) in cases {
        let component = Guest {
            init,
            data,
            ..Guest::default()
        }
        .component();
        match runtime().load(
            name,
            &component,
            World::Target,
            "null",
            PluginLimits::default(),
        ) {
            Err(PluginError::Init(message)) => assert!(message.contains(says), "{name}: {message}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn load_refuses_what_is_not_a_plugin_of_its_stage() {
    let lifecycle_only = Guest {
        stages: &[],
        ..Guest::default()
    }
    .component();
    let series_only = Guest {
        stages: &["series"],
        ..Guest::default()
    }
    .component();
    let core_module = ::wat::parse_str("(module)").unwrap();
    let cases: [(&str, &[u8], World, &str); 4] = [
        (
            "lifecycle only",
            &lifecycle_only,
            World::Target,
            "wrong world: wasmfed:plugin/targets@0.1.0",
        ),
        (
            "series for targets",
            &series_only,
            World::Target,
            "wrong world: wasmfed:plugin/targets@0.1.0",
        ),
        (
            "core module",
            &core_module,
            World::Series,
            "compile: core WebAssembly module",
        ),
        ("garbage", b"not wasm at all", World::Series, "compile: "),
    ];
    for (name, bytes, world, says) in cases {
        let error = runtime()
            .load(name, bytes, world, "null", PluginLimits::default())
            .expect_err(name);
        let got = match &error {
            PluginError::WrongWorld(m) => format!("wrong world: {m}"),
            PluginError::Compile(m) => format!("compile: {m}"),
            other => panic!("{name}: {other}"),
        };
        let (variant, fragment) = says.split_once(": ").unwrap();
        assert!(
            got.starts_with(variant) && got.contains(fragment),
            "{name}: {got}"
        );
    }
}
