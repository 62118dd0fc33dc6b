//! The rule-hostile test plugin: one `rule-plugin` component whose `init` config,
//! `{"mode": "..."}`, picks how `evaluate` behaves, so the host's rule-stage tests can check
//! that each kind of misbehaviour fails only its own evaluation:
//!
//! - `ok`: one rule `hostile:ok` with one sample `hostile:ok{}`, the number of series
//!   `store.series({__name__=~".+"}, at-300000, at)` returned: a healthy plugin that really
//!   goes through the `store` import;
//! - `loop`, `grow`: spins or allocates forever (the CPU and memory budgets must end the call);
//! - `huge`: one rule `hostile:huge` with 5 million samples (the output limit must refuse it).
//!   They carry no labels, so the guest needs only ~280 MB (the list and its canonical-ABI
//!   copy): a test must allow that much memory to reach the output checks;
//! - `trap`: panics (a trap, as the host builds guests with `panic = "abort"`);
//! - `fail-rule`: one rule `hostile:fail-rule` whose outcome is `err("deliberate")`;
//! - `select-all`: one rule `hostile:select-all` with one sample, the total number of samples
//!   `store.select({__name__=~".+"}, 0, at)` returned (the host's select budget must refuse
//!   it on a large store).
//!
//! When a `store` call fails, the rule's outcome is `err` with the host's text, so a test can
//! read why. The mode is a config value rather than a label trick (as in the identity plugin)
//! because `evaluate` receives nothing but a time.

use std::cell::Cell;

use serde::Deserialize;

wit_bindgen::generate!({ path: "../../../../wit", world: "rule-plugin" });

use exports::wasmfed::plugin::{lifecycle, rules};
use wasmfed::plugin::store;
use wasmfed::plugin::types::{Label, PluginError, Sample};

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    Ok,
    Loop,
    Grow,
    Huge,
    Trap,
    FailRule,
    SelectAll,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: Mode,
}

thread_local! {
    static MODE: Cell<Option<Mode>> = const { Cell::new(None) };
}

struct RuleHostile;

impl lifecycle::Guest for RuleHostile {
    fn init(config: String) -> Result<(), PluginError> {
        let config: Config = serde_json::from_str(&config)
            .map_err(|e| PluginError::InvalidConfig(format!("mode: {e}")))?;
        MODE.set(Some(config.mode));
        Ok(())
    }
}

impl rules::Guest for RuleHostile {
    fn evaluate(at_ms: i64) -> Result<Vec<rules::RuleResult>, PluginError> {
        let mode = MODE
            .get()
            .ok_or_else(|| PluginError::Failed("called before init".into()))?;
        let every_series = [store::Matcher {
            name: "__name__".into(),
            op: store::MatchOp::Regex,
            value: ".+".into(),
        }];
        let (name, outcome) = match mode {
            Mode::Ok => (
                "hostile:ok",
                store::series(&every_series, at_ms.saturating_sub(300_000), at_ms)
                    .map(|series| vec![sample("hostile:ok", at_ms, series.len() as f64)]),
            ),
            Mode::Loop => spin_forever(),
            Mode::Grow => grow_forever(),
            Mode::Huge => (
                "hostile:huge",
                Ok((0..5_000_000)
                    .map(|i| Sample {
                        labels: Vec::new(),
                        timestamp_ms: at_ms,
                        value: f64::from(i),
                    })
                    .collect()),
            ),
            Mode::Trap => panic!("deliberate trap"),
            Mode::FailRule => ("hostile:fail-rule", Err("deliberate".to_string())),
            Mode::SelectAll => (
                "hostile:select-all",
                store::select(&every_series, 0, at_ms).map(|series| {
                    let total: usize = series.iter().map(|s| s.timestamps_ms.len()).sum();
                    vec![sample("hostile:select-all", at_ms, total as f64)]
                }),
            ),
        };
        Ok(vec![rules::RuleResult {
            name: name.to_string(),
            outcome,
        }])
    }
}

fn sample(name: &str, at_ms: i64, value: f64) -> Sample {
    Sample {
        labels: vec![Label {
            name: "__name__".into(),
            value: name.into(),
        }],
        timestamp_ms: at_ms,
        value,
    }
}

/// Hostile on request: the host's fuel budget must end this call.
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

export!(RuleHostile);
