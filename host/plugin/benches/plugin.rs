//! The plugin runtime's costs: compiling and instantiating a component, one batch of 1,000
//! series of 10 labels through the identity plugin, and what fuel and epoch interruption each
//! add to guest code (the identity call, and a tight arithmetic loop where instrumentation
//! shows most).
//!
//! Run: `cargo bench -p wasmfed-plugin --bench plugin -- --warm-up-time 1 --measurement-time 3`
//! Figures and the choice they led to: `src/plugin/mod.rs`.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use wasmfed_model::Labels;
use wasmfed_plugin::{PluginLimits, PluginRuntime, World};
use wasmtime::component::{Component, ComponentType, Lift, Linker, Lower, TypedFunc};
use wasmtime::{Config, Engine, Instance, Module, Store};

const IDENTITY: &[u8] = wasmfed_artifacts::IDENTITY;
const SERIES: usize = 1000;

fn batch() -> Vec<Labels> {
    (0..SERIES)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", format!("node_cpu_seconds_total_{}", i % 50)),
                ("instance", format!("host-{}:9100", i / 100)),
                ("job", "node".to_owned()),
                ("cpu", (i % 8).to_string()),
                ("mode", ["idle", "user", "system"][i % 3].to_owned()),
                ("dc", "eu-west-1".to_owned()),
                ("rack", format!("r{}", i % 20)),
                ("env", "prod".to_owned()),
                ("team", "infra".to_owned()),
                ("shard", (i % 4).to_string()),
            ])
        })
        .collect()
}

/// How an engine bounds guest CPU.
#[derive(Clone, Copy, Debug)]
enum Interruption {
    None,
    Fuel,
    Epoch,
}

fn engine(interruption: Interruption) -> Engine {
    let mut config = Config::new();
    match interruption {
        Interruption::None => {}
        Interruption::Fuel => {
            config.consume_fuel(true);
        }
        Interruption::Epoch => {
            config.epoch_interruption(true);
        }
    }
    Engine::new(&config).unwrap()
}

fn arm<T>(store: &mut Store<T>, interruption: Interruption) {
    match interruption {
        Interruption::None => {}
        Interruption::Fuel => store.set_fuel(u64::MAX).unwrap(),
        Interruption::Epoch => store.set_epoch_deadline(u64::MAX / 2),
    }
}

#[derive(ComponentType, Lower, Lift)]
#[component(record)]
struct Label {
    name: String,
    value: String,
}

#[derive(ComponentType, Lift)]
#[component(variant)]
enum PluginError {
    #[component(name = "invalid-config")]
    InvalidConfig(String),
    #[component(name = "failed")]
    Failed(String),
}

type Process = TypedFunc<(Vec<Vec<Label>>,), (Result<Vec<Option<Vec<Label>>>, PluginError>,)>;

/// The identity plugin's series `process`, instantiated directly under `interruption`.
fn raw_identity(interruption: Interruption) -> (Store<()>, Process) {
    let engine = engine(interruption);
    let component = Component::new(&engine, IDENTITY).unwrap();
    let mut store = Store::new(&engine, ());
    arm(&mut store, interruption);
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &component)
        .unwrap();
    let series = component
        .get_export_index(None, "wasmfed:plugin/series@0.1.0")
        .unwrap();
    let process = component
        .get_export_index(Some(&series), "process")
        .unwrap();
    let func = instance.get_typed_func(&mut store, process).unwrap();
    (store, func)
}

/// A core module whose `spin(n)` runs an arithmetic loop of `n` iterations over memory.
const SPIN: &str = r#"(module
  (memory 1)
  (func (export "spin") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 1103515245)) (i32.const 12345)))
      (i32.store (i32.and (local.get $acc) (i32.const 0xfffc)) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $acc)))"#;

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let runtime = PluginRuntime::new().unwrap();
    let batch = batch();

    let mut group = c.benchmark_group("plugin");
    group.sample_size(10);
    group.bench_function("compile_identity", |b| {
        let engine = engine(Interruption::Fuel);
        b.iter(|| black_box(Component::new(&engine, IDENTITY).unwrap()))
    });
    group.bench_function("load_identity", |b| {
        b.iter(|| {
            let limits = PluginLimits::default();
            black_box(runtime.load("identity", IDENTITY, World::Series, "null", limits))
        })
    });
    group.bench_function("instantiate_identity", |b| {
        let engine = engine(Interruption::Fuel);
        let component = Component::new(&engine, IDENTITY).unwrap();
        let pre = Linker::new(&engine).instantiate_pre(&component).unwrap();
        b.iter(|| {
            let mut store = Store::new(&engine, ());
            store.set_fuel(u64::MAX).unwrap();
            black_box(pre.instantiate(&mut store).unwrap())
        })
    });
    group.finish();

    let plugin = runtime
        .load(
            "identity",
            IDENTITY,
            World::Series,
            "null",
            PluginLimits::default(),
        )
        .unwrap();
    let mut group = c.benchmark_group("plugin_call");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("identity_1000x10", |b| {
        b.iter(|| black_box(plugin.process(&batch).unwrap()))
    });
    for interruption in [Interruption::None, Interruption::Fuel, Interruption::Epoch] {
        let (mut store, func) = raw_identity(interruption);
        let name = format!("raw_identity_1000x10_{interruption:?}").to_lowercase();
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let sets: Vec<Vec<Label>> = batch
                        .iter()
                        .map(|labels| {
                            labels
                                .iter()
                                .map(|l| Label {
                                    name: l.name.clone(),
                                    value: l.value.clone(),
                                })
                                .collect()
                        })
                        .collect();
                    (sets,)
                },
                |params| match func.call(&mut store, params).unwrap().0 {
                    Ok(answer) => black_box(answer.len()),
                    Err(PluginError::InvalidConfig(m) | PluginError::Failed(m)) => panic!("{m}"),
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group("plugin_spin_1m");
    group.throughput(Throughput::Elements(1_000_000));
    for interruption in [Interruption::None, Interruption::Fuel, Interruption::Epoch] {
        let engine = engine(interruption);
        let module = Module::new(&engine, wat::parse_str(SPIN).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        arm(&mut store, interruption);
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let spin = instance
            .get_typed_func::<u32, u32>(&mut store, "spin")
            .unwrap();
        let name = format!("{interruption:?}").to_lowercase();
        group.bench_function(name, |b| {
            b.iter(|| black_box(spin.call(&mut store, 1_000_000).unwrap()))
        });
    }
    group.finish();
    c.final_summary();

    // Fuel per unit of time, to size the default budget.
    let calls = plugin.stats().calls().max(1);
    println!(
        "identity 1000x10: {} fuel per call",
        plugin.stats().fuel_used() / calls
    );
    let engine = engine(Interruption::Fuel);
    let module = Module::new(&engine, wat::parse_str(SPIN).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(u64::MAX).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let spin = instance
        .get_typed_func::<u32, u32>(&mut store, "spin")
        .unwrap();
    let started = Instant::now();
    spin.call(&mut store, 50_000_000).unwrap();
    let took = started.elapsed();
    let fuel = u64::MAX - store.get_fuel().unwrap();
    println!(
        "spin: {fuel} fuel in {took:?} = {:.2} fuel/ns",
        fuel as f64 / took.as_nanos() as f64
    );
}
