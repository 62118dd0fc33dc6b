//! The export macros and what their expansion calls: the component's exported functions
//! keep the plugin made by `init` in a per-instance slot and hand each stage call to it,
//! converting WIT lists to [`Labels`] and [`Error`]s to `plugin-error`. The functions are
//! generic and tested natively; the macros only name the stage's bindings.
//!
//! Not part of the API beyond the three `export_*_plugin!` macros.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::bindings::rule::exports::wasmfed::plugin::rules::RuleResult as WitRuleResult;
use crate::bindings::PluginError;
use crate::{Error, Label, LabelPlugin, Labels, Plugin, RulePlugin, Store};

/// Where an instance keeps its plugin between `init` and the stage calls (an instance is
/// single-threaded; the host makes a fresh one after any change or failure).
pub struct Slot<P>(RefCell<Option<P>>);

impl<P> Slot<P> {
    #[allow(
        clippy::new_without_default,
        reason = "used in a const thread_local initialiser"
    )]
    pub const fn new() -> Slot<P> {
        Slot(RefCell::new(None))
    }
}

/// The slot of one exported plugin type, as the export macros declare it.
pub type Instance<P> = LocalKey<Slot<P>>;

/// `init`: the plugin made from `config`, kept for the stage calls.
pub fn init<P: Plugin>(slot: &'static Instance<P>, config: String) -> Result<(), PluginError> {
    let plugin = P::from_config(&config)?;
    slot.with(|s| *s.0.borrow_mut() = Some(plugin));
    Ok(())
}

fn with_plugin<P, T>(
    slot: &'static Instance<P>,
    call: impl FnOnce(&mut P) -> Result<T, Error>,
) -> Result<T, PluginError> {
    slot.with(|s| match s.0.borrow_mut().as_mut() {
        Some(plugin) => call(plugin).map_err(PluginError::from),
        None => Err(PluginError::Failed(
            "the plugin was called before init".into(),
        )),
    })
}

/// `targets.process` or `series.process`.
pub fn process<P: LabelPlugin>(
    slot: &'static Instance<P>,
    batch: Vec<Vec<Label>>,
) -> Result<Vec<Option<Vec<Label>>>, PluginError> {
    let batch = batch.into_iter().map(Labels::from).collect();
    let answers = with_plugin(slot, |plugin| plugin.process_batch(batch))?;
    Ok(answers
        .into_iter()
        .map(|answer| answer.map(Vec::from))
        .collect())
}

/// `rules.evaluate`, reading `store` (the host's, in a component).
pub fn evaluate<P: RulePlugin>(
    slot: &'static Instance<P>,
    at_ms: i64,
    store: &dyn Store,
) -> Result<Vec<WitRuleResult>, PluginError> {
    let results = with_plugin(slot, |plugin| plugin.evaluate(at_ms, store))?;
    Ok(results.into_iter().map(Into::into).collect())
}

/// Exports `$plugin`, a [`LabelPlugin`], as a target plugin (world `target-plugin`).
#[macro_export]
macro_rules! export_target_plugin {
    ($plugin:ty) => {
        $crate::__export_label_plugin!($plugin, target, targets, {
            $crate::__export_target_stage_impl!(Export with_types_in $crate::bindings::target);
        });
    };
}

/// Exports `$plugin`, a [`LabelPlugin`], as a series plugin (world `series-plugin`).
#[macro_export]
macro_rules! export_series_plugin {
    ($plugin:ty) => {
        $crate::__export_label_plugin!($plugin, series, series, {
            $crate::__export_series_stage_impl!(Export with_types_in $crate::bindings::series);
        });
    };
}

/// Exports `$plugin`, a [`RulePlugin`], as a rule plugin (world `rule-plugin`).
#[macro_export]
macro_rules! export_rule_plugin {
    ($plugin:ty) => {
        const _: () = {
            $crate::__export_instance!($plugin);

            impl $crate::bindings::rule::exports::wasmfed::plugin::rules::Guest for Export {
                fn evaluate(
                    at_ms: i64,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::bindings::rule::exports::wasmfed::plugin::rules::RuleResult>,
                    $crate::bindings::PluginError,
                > {
                    $crate::glue::evaluate(&PLUGIN, at_ms, &$crate::HostStore)
                }
            }

            #[cfg(target_arch = "wasm32")]
            const _: () = {
                $crate::__export_plugin_lifecycle_impl!(Export with_types_in $crate::bindings::lifecycle);
                $crate::__export_rule_stage_impl!(Export with_types_in $crate::bindings::rule);
            };
        };
    };
}

/// The slot, the exported type and its `lifecycle` implementation.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_instance {
    ($plugin:ty) => {
        ::std::thread_local! {
            static PLUGIN: $crate::glue::Slot<$plugin> = const { $crate::glue::Slot::new() };
        }

        #[allow(dead_code, reason = "only the wasm32 exports name it")]
        struct Export;

        impl $crate::bindings::Lifecycle for Export {
            fn init(
                config: ::std::string::String,
            ) -> ::std::result::Result<(), $crate::bindings::PluginError> {
                $crate::glue::init(&PLUGIN, config)
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_label_plugin {
    ($plugin:ty, $world:ident, $interface:ident, { $($export:tt)* }) => {
        const _: () = {
            $crate::__export_instance!($plugin);

            impl $crate::bindings::$world::exports::wasmfed::plugin::$interface::Guest for Export {
                fn process(
                    batch: ::std::vec::Vec<::std::vec::Vec<$crate::Label>>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<::std::option::Option<::std::vec::Vec<$crate::Label>>>,
                    $crate::bindings::PluginError,
                > {
                    $crate::glue::process(&PLUGIN, batch)
                }
            }

            #[cfg(target_arch = "wasm32")]
            const _: () = {
                $crate::__export_plugin_lifecycle_impl!(Export with_types_in $crate::bindings::lifecycle);
                $($export)*
            };
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Matcher, RuleResult, Sample, SeriesSamples, StoreError};

    /// Keeps label sets whose `job` is the configured one, adding `kept="yes"`.
    struct KeepJob(String);

    #[derive(serde::Deserialize)]
    struct KeepJobConfig {
        job: String,
    }

    impl Plugin for KeepJob {
        type Config = KeepJobConfig;
        fn new(config: KeepJobConfig) -> Result<KeepJob, Error> {
            if config.job.is_empty() {
                return Err(Error::invalid_config("job must not be empty"));
            }
            Ok(KeepJob(config.job))
        }
    }

    impl LabelPlugin for KeepJob {
        fn process(&self, mut labels: Labels) -> Result<Option<Labels>, Error> {
            match labels.get("job") {
                Some("fail") => Err(Error::failed("asked to fail")),
                Some(job) if job == self.0 => {
                    labels.set("kept", "yes");
                    Ok(Some(labels))
                }
                _ => Ok(None),
            }
        }
    }

    thread_local! {
        static KEEP_JOB: Slot<KeepJob> = const { Slot::new() };
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
        Labels::from_iter(pairs.iter().copied()).into()
    }

    #[test]
    fn a_label_plugin_answers_each_input_in_order_after_init() {
        assert_eq!(
            process(&KEEP_JOB, vec![labels(&[("job", "app")])]),
            Err(PluginError::Failed(
                "the plugin was called before init".into()
            ))
        );
        assert_eq!(
            init(&KEEP_JOB, r#"{"job": ""}"#.into()),
            Err(PluginError::InvalidConfig("job must not be empty".into()))
        );
        assert!(matches!(
            init(&KEEP_JOB, "null".into()),
            Err(PluginError::InvalidConfig(why)) if why.contains("missing field `job`")
        ));
        init(&KEEP_JOB, r#"{"job": "app"}"#.into()).unwrap();
        let answers = process(
            &KEEP_JOB,
            vec![labels(&[("job", "db")]), labels(&[("job", "app")])],
        )
        .unwrap();
        assert_eq!(
            answers,
            vec![None, Some(labels(&[("job", "app"), ("kept", "yes")]))]
        );
        assert_eq!(
            process(
                &KEEP_JOB,
                vec![labels(&[("job", "app")]), labels(&[("job", "fail")])]
            ),
            Err(PluginError::Failed("asked to fail".into()))
        );
    }

    /// Records how many series of `up` the store has, and counts its evaluations.
    struct CountUp {
        evaluations: u32,
    }

    impl Plugin for CountUp {
        type Config = ();
        fn new((): ()) -> Result<CountUp, Error> {
            Ok(CountUp { evaluations: 0 })
        }
    }

    impl RulePlugin for CountUp {
        fn evaluate(&mut self, at_ms: i64, store: &dyn Store) -> Result<Vec<RuleResult>, Error> {
            self.evaluations += 1;
            let count = store
                .series(&[Matcher::equal("__name__", "up")], at_ms - 1000, at_ms)
                .map(|found| {
                    vec![Sample {
                        labels: Labels::from([("__name__", "up:count")]),
                        timestamp_ms: at_ms,
                        value: found.len() as f64,
                    }]
                });
            Ok(vec![
                RuleResult::new("up:count", count),
                RuleResult::new(
                    "evaluations",
                    Ok::<_, StoreError>(vec![Sample {
                        labels: Labels::from([("__name__", "evaluations")]),
                        timestamp_ms: at_ms,
                        value: self.evaluations.into(),
                    }]),
                ),
            ])
        }
    }

    /// A store with two `up` series, or one that always fails.
    struct FakeStore {
        fail: bool,
    }

    impl Store for FakeStore {
        fn select(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<SeriesSamples>, StoreError> {
            unreachable!("CountUp reads label sets only")
        }

        fn series(&self, matchers: &[Matcher], _: i64, _: i64) -> Result<Vec<Labels>, StoreError> {
            if self.fail {
                return Err(StoreError("over budget".into()));
            }
            assert_eq!(matchers[0].value, "up");
            Ok(vec![
                Labels::from([("instance", "a")]),
                Labels::from([("instance", "b")]),
            ])
        }
    }

    thread_local! {
        static COUNT_UP: Slot<CountUp> = const { Slot::new() };
    }

    #[test]
    fn a_rule_plugin_reads_the_store_and_keeps_its_state() {
        init(&COUNT_UP, "null".into()).unwrap();
        let first = evaluate(&COUNT_UP, 5000, &FakeStore { fail: false }).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].name, "up:count");
        assert_eq!(first[0].outcome.as_ref().unwrap()[0].value, 2.0);
        let second = evaluate(&COUNT_UP, 6000, &FakeStore { fail: true }).unwrap();
        assert_eq!(second[0].outcome, Err("over budget".into()));
        let evaluations = second[1].outcome.as_ref().unwrap();
        assert_eq!(
            (evaluations[0].timestamp_ms, evaluations[0].value),
            (6000, 2.0)
        );
    }
}
