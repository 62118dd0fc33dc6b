//! The one boundary between the WIT contract (`wit/plugin.wit`) and the host's own types.
//!
//! `bindgen!` generates the contract's types and export lookups here and nowhere else; the
//! rest of the plugin module sees [`Exports`] and [`Funcs`], which speak `wasmfed_model`.
//! Inputs are lowered straight from borrowed `Labels` (a record of two `&str`) rather than
//! through the generated owned types, which would clone every label string of every batch
//! only to copy it again into the guest. Results are lifted into the generated owned types
//! and their strings moved, not copied, into `model::Label`s.

use wasmtime::component::{ComponentType, InstancePre, Lower};
use wasmtime::component::{Instance, TypedFunc};
use wasmtime::AsContextMut;

use wasmfed_model::{Label, Labels};

use super::error::PluginError;
use super::rules::QueryError;
use super::sandbox::HostState;
use super::World;

mod convert;
mod store_import;

pub(crate) use convert::{Returned, ReturnedAlert, ReturnedAnswer, ReturnedRule, ReturnedValue};

mod generated {
    // One set of generated types for every world: a world of the host's own that includes
    // them all (the WIT package stays the plugins' view, one world per stage).
    wasmtime::component::bindgen!({
        path: "../../wit",
        inline: "
            package wasmfed:host;
            world node {
                include wasmfed:plugin/relabel-plugin@0.1.0;
                include wasmfed:plugin/promql-plugin@0.1.0;
            }
        ",
        world: "wasmfed:host/node",
    });
}

use generated::exports::wasmfed::plugin::alerts as wit_alerts;
use generated::exports::wasmfed::plugin::query as wit_query;
use generated::exports::wasmfed::plugin::rules as wit_rules;
use generated::exports::wasmfed::plugin::{
    alerts, expressions, lifecycle, query, range_query, rules, series, targets,
};
pub(crate) use generated::wasmfed::plugin::store as wit_store;
use generated::wasmfed::plugin::types;

/// Export names as components spell them.
const LIFECYCLE: &str = "wasmfed:plugin/lifecycle@0.1.0";
const TARGETS: &str = "wasmfed:plugin/targets@0.1.0";
const SERIES: &str = "wasmfed:plugin/series@0.1.0";
const RULES: &str = "wasmfed:plugin/rules@0.1.0";
const QUERY: &str = "wasmfed:plugin/query@0.1.0";
/// Optional beside `rules`: a rule plugin that exports it raises alerts.
const ALERTS: &str = "wasmfed:plugin/alerts@0.1.0";
/// Optional beside `query`: a query plugin that exports it answers range queries.
const RANGE_QUERY: &str = "wasmfed:plugin/range-query@0.1.0";
/// Optional beside `query`: a query plugin that exports it names an expression's selectors.
const EXPRESSIONS: &str = "wasmfed:plugin/expressions@0.1.0";

impl World {
    /// The interfaces a plugin of this world must export.
    fn interfaces(self) -> [&'static str; 2] {
        [
            LIFECYCLE,
            match self {
                World::Target => TARGETS,
                World::Series => SERIES,
                World::Rule => RULES,
                World::Query => QUERY,
            },
        ]
    }
}

/// What a rule plugin answered to one evaluation: its rules' results and its alerts.
pub(crate) type RulesAnswer = (Vec<ReturnedRule>, Vec<ReturnedAlert>);

/// A label lowered from borrowed host strings; same WIT record as the generated `Label`.
#[derive(ComponentType, Lower)]
#[component(record)]
struct LabelIn<'a> {
    #[component(name = "name")]
    name: &'a str,
    #[component(name = "value")]
    value: &'a str,
}

type ProcessParams<'a> = (&'a [&'a [LabelIn<'a>]],);
type ProcessResults = (Result<Vec<Option<types::Labels>>, types::PluginError>,);

/// Where a world's functions sit in one component, found once per loaded plugin.
pub(crate) struct Exports {
    lifecycle: lifecycle::GuestIndices,
    stage: StageIndices,
}

enum StageIndices {
    Target(targets::GuestIndices),
    Series(series::GuestIndices),
    /// `alerts` when the component exports it.
    Rule(rules::GuestIndices, Option<alerts::GuestIndices>),
    /// `range-query` and `expressions` when the component exports them.
    Query(
        query::GuestIndices,
        Option<range_query::GuestIndices>,
        Option<expressions::GuestIndices>,
    ),
}

impl Exports {
    /// Checks that the component exports what `world` needs, naming what is missing.
    pub(crate) fn find(pre: &InstancePre<HostState>, world: World) -> Result<Self, PluginError> {
        let component = pre.component();
        let missing: Vec<&str> = world
            .interfaces()
            .into_iter()
            .filter(|name| component.get_export_index(None, name).is_none())
            .collect();
        if !missing.is_empty() {
            let engine = pre.engine();
            let exported: Vec<String> = component
                .component_type()
                .exports(engine)
                .map(|(name, _)| format!("`{name}`"))
                .collect();
            return Err(PluginError::WrongWorld(format!(
                "a {world} plugin must export `{}`; this component does not export `{}` (it exports {})",
                world.interfaces().join("` and `"),
                missing.join("` or `"),
                if exported.is_empty() { "nothing".to_string() } else { exported.join(", ") },
            )));
        }
        let wrong = |e: wasmtime::Error| PluginError::WrongWorld(format!("{e:#}"));
        Ok(Exports {
            lifecycle: lifecycle::GuestIndices::new(pre).map_err(wrong)?,
            stage: match world {
                World::Target => {
                    StageIndices::Target(targets::GuestIndices::new(pre).map_err(wrong)?)
                }
                World::Series => {
                    StageIndices::Series(series::GuestIndices::new(pre).map_err(wrong)?)
                }
                World::Rule => StageIndices::Rule(
                    rules::GuestIndices::new(pre).map_err(wrong)?,
                    match component.get_export_index(None, ALERTS) {
                        Some(_) => Some(alerts::GuestIndices::new(pre).map_err(wrong)?),
                        None => None,
                    },
                ),
                World::Query => StageIndices::Query(
                    query::GuestIndices::new(pre).map_err(wrong)?,
                    match component.get_export_index(None, RANGE_QUERY) {
                        Some(_) => Some(range_query::GuestIndices::new(pre).map_err(wrong)?),
                        None => None,
                    },
                    match component.get_export_index(None, EXPRESSIONS) {
                        Some(_) => Some(expressions::GuestIndices::new(pre).map_err(wrong)?),
                        None => None,
                    },
                ),
            },
        })
    }

    /// Binds the functions of one instance, checking their types against the contract.
    pub(crate) fn bind(
        &self,
        mut store: impl AsContextMut<Data = HostState>,
        instance: &Instance,
    ) -> Result<Funcs, PluginError> {
        let wrong = |e: wasmtime::Error| PluginError::WrongWorld(format!("{e:#}"));
        let lifecycle = self.lifecycle.load(&mut store, instance).map_err(wrong)?;
        let stage = match &self.stage {
            StageIndices::Target(indices) => StageFunc::Process(
                *indices
                    .load(&mut store, instance)
                    .map_err(wrong)?
                    .func_process()
                    .func(),
            ),
            StageIndices::Series(indices) => StageFunc::Process(
                *indices
                    .load(&mut store, instance)
                    .map_err(wrong)?
                    .func_process()
                    .func(),
            ),
            StageIndices::Rule(indices, alerts) => StageFunc::Rules(
                indices.load(&mut store, instance).map_err(wrong)?,
                match alerts {
                    Some(alerts) => Some(alerts.load(&mut store, instance).map_err(wrong)?),
                    None => None,
                },
            ),
            StageIndices::Query(indices, range, expressions) => StageFunc::Query(
                indices.load(&mut store, instance).map_err(wrong)?,
                match range {
                    Some(range) => Some(range.load(&mut store, instance).map_err(wrong)?),
                    None => None,
                },
                match expressions {
                    Some(e) => Some(e.load(&mut store, instance).map_err(wrong)?),
                    None => None,
                },
            ),
        };
        Ok(Funcs { lifecycle, stage })
    }
}

/// The typed entry points of one instance.
pub(crate) struct Funcs {
    lifecycle: lifecycle::Guest,
    stage: StageFunc,
}

/// The stage interface's function(s). `process` has the same type in both labelling stages
/// and is called through a hand-written typed signature (see [`LabelIn`]).
enum StageFunc {
    Process(wasmtime::component::Func),
    Rules(rules::Guest, Option<alerts::Guest>),
    Query(
        query::Guest,
        Option<range_query::Guest>,
        Option<expressions::Guest>,
    ),
}

/// A call made on an instance of another world: the host's own mistake, reported as a trap so
/// it is never mistaken for the plugin's.
fn wrong_stage(wanted: &str) -> wasmtime::Error {
    wasmtime::format_err!("host error: called `{wanted}` on a plugin of another stage")
}

/// What a plugin answered when it refused: the text of its `plugin-error`, and whether it
/// blamed its configuration.
pub(crate) struct Refusal {
    pub(crate) invalid_config: bool,
    pub(crate) message: String,
}

impl Funcs {
    pub(crate) fn init(
        &self,
        store: impl AsContextMut<Data = HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), Refusal>> {
        Ok(self
            .lifecycle
            .call_init(store, config)?
            .map_err(Refusal::from))
    }

    /// One `process` call. The outer error is a failed call (trap, budget, ABI); the inner
    /// one is the plugin's own refusal.
    pub(crate) fn process(
        &self,
        mut store: impl AsContextMut<Data = HostState>,
        batch: &[Labels],
    ) -> wasmtime::Result<Result<Vec<Option<Vec<Label>>>, Refusal>> {
        let flat: Vec<LabelIn<'_>> = batch
            .iter()
            .flat_map(Labels::iter)
            .map(|l| LabelIn {
                name: &l.name,
                value: &l.value,
            })
            .collect();
        let mut sets: Vec<&[LabelIn<'_>]> = Vec::with_capacity(batch.len());
        let mut rest = flat.as_slice();
        for labels in batch {
            let (set, tail) = rest.split_at(labels.len());
            sets.push(set);
            rest = tail;
        }
        let StageFunc::Process(process) = &self.stage else {
            return Err(wrong_stage("process"));
        };
        let func: TypedFunc<ProcessParams<'_>, ProcessResults> = process.typed(&store)?;
        let (answer,) = func.call(store.as_context_mut(), (&sets,))?;
        Ok(answer.map(convert::label_sets).map_err(Refusal::from))
    }

    /// One `rules.evaluate` call and, when the plugin raises alerts and the evaluation
    /// succeeded, its `alerts` after it; lifted but not yet checked (see `plugin::rules`).
    pub(crate) fn evaluate(
        &self,
        mut store: impl AsContextMut<Data = HostState>,
        at_ms: i64,
    ) -> wasmtime::Result<Result<RulesAnswer, Refusal>> {
        let StageFunc::Rules(rules, alerts) = &self.stage else {
            return Err(wrong_stage("evaluate"));
        };
        let results = match rules.call_evaluate(store.as_context_mut(), at_ms)? {
            Ok(results) => results.into_iter().map(ReturnedRule::from).collect(),
            Err(refusal) => return Ok(Err(Refusal::from(refusal))),
        };
        let raised = match alerts {
            Some(alerts) => alerts
                .call_alerts(store)?
                .into_iter()
                .map(ReturnedAlert::from)
                .collect(),
            None => Vec::new(),
        };
        Ok(Ok((results, raised)))
    }

    /// Hands a fresh instance the alerts of the one it replaces (`alerts.restore`); nothing
    /// for a plugin that raises no alerts.
    pub(crate) fn restore_alerts(
        &self,
        store: impl AsContextMut<Data = HostState>,
        alerts: &[crate::rules::RaisedAlert],
    ) -> wasmtime::Result<()> {
        let StageFunc::Rules(_, Some(exported)) = &self.stage else {
            return Ok(());
        };
        let alerts: Vec<wit_alerts::Alert> = alerts.iter().map(convert::alert_to_wit).collect();
        exported.call_restore(store, &alerts)
    }

    /// One `query.instant` call, lifted but not yet checked. The inner error is the query's
    /// own failure.
    pub(crate) fn instant(
        &self,
        store: impl AsContextMut<Data = HostState>,
        expr: &str,
        at_ms: i64,
    ) -> wasmtime::Result<Result<ReturnedAnswer, QueryError>> {
        let StageFunc::Query(query, _, _) = &self.stage else {
            return Err(wrong_stage("instant"));
        };
        Ok(query
            .call_instant(store, expr, at_ms)?
            .map(ReturnedAnswer::from)
            .map_err(QueryError::from))
    }

    /// One `range-query.range` call, like [`Funcs::instant`]; `None` when the plugin does not
    /// answer range queries.
    pub(crate) fn range(
        &self,
        store: impl AsContextMut<Data = HostState>,
        expr: &str,
        (start_ms, end_ms, step_ms): (i64, i64, i64),
    ) -> wasmtime::Result<Option<Result<ReturnedAnswer, QueryError>>> {
        let StageFunc::Query(_, range, _) = &self.stage else {
            return Err(wrong_stage("range"));
        };
        let Some(range) = range else {
            return Ok(None);
        };
        Ok(Some(
            range
                .call_range(store, expr, start_ms, end_ms, step_ms)?
                .map(ReturnedAnswer::from)
                .map_err(QueryError::from),
        ))
    }

    /// One `expressions.selectors` call; `None` when the plugin does not export it.
    pub(crate) fn selectors(
        &self,
        store: impl AsContextMut<Data = HostState>,
        expr: &str,
    ) -> wasmtime::Result<Option<Result<Vec<String>, QueryError>>> {
        let StageFunc::Query(_, _, expressions) = &self.stage else {
            return Err(wrong_stage("selectors"));
        };
        let Some(expressions) = expressions else {
            return Ok(None);
        };
        Ok(Some(
            expressions
                .call_selectors(store, expr)?
                .map_err(QueryError::from),
        ))
    }
}
