//! The identity test plugin: the smallest well-behaved component for both stages.
//!
//! It exists so the host's tests and benchmarks exercise a real `wit-bindgen` guest (canonical
//! ABI lifting and lowering done by generated code, `cabi_realloc`, post-return) rather than
//! only hand-written WAT. `drop_me`, `fail_me` and a config containing `reject` give the host
//! tests a keep/drop decision, a plugin-reported failure and an init failure to observe;
//! `loop_me` and `grow_me` make it loop or allocate forever, for containment tests of a node.

wit_bindgen::generate!({ path: "../../../../wit", world: "relabel-plugin" });

use exports::wasmfed::plugin::{lifecycle, series, targets};
use wasmfed::plugin::types::{Labels, PluginError};

struct Identity;

impl lifecycle::Guest for Identity {
    fn init(config: String) -> Result<(), PluginError> {
        if config.contains("reject") {
            return Err(PluginError::InvalidConfig(format!("rejected: {config}")));
        }
        Ok(())
    }
}

impl targets::Guest for Identity {
    fn process(targets: Vec<Labels>) -> Result<Vec<Option<Labels>>, PluginError> {
        pass_through(targets)
    }
}

impl series::Guest for Identity {
    fn process(series: Vec<Labels>) -> Result<Vec<Option<Labels>>, PluginError> {
        pass_through(series)
    }
}

fn pass_through(batch: Vec<Labels>) -> Result<Vec<Option<Labels>>, PluginError> {
    batch
        .into_iter()
        .map(|labels| {
            let name = labels.iter().find(|l| l.name == "__name__");
            match name.map(|l| l.value.as_str()) {
                Some("drop_me") => Ok(None),
                Some("fail_me") => Err(PluginError::Failed("asked to fail".to_string())),
                Some("loop_me") => spin_forever(),
                Some("grow_me") => grow_forever(),
                _ => Ok(Some(labels)),
            }
        })
        .collect()
}

/// Hostile on request: the host's budget must end this call.
fn spin_forever() -> ! {
    let mut i: u64 = 0;
    loop {
        i = std::hint::black_box(i.wrapping_add(1));
    }
}

/// Hostile on request: the host's memory cap must end this call.
fn grow_forever() -> ! {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        held.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}

export!(Identity);
