//! Alert templates: Go's `text/template` as Prometheus 2.42 runs it to expand an alerting
//! rule's labels and annotations (`rules/alerting.go`, `template/template.go`).
//!
//! Alert texts leave the node: Alertmanager groups and deduplicates by the expanded labels,
//! and people read the annotations next to Prometheus' own. So the engine follows Go 1.19's
//! lexer, parser and executor (and `fmt`'s printing of values) closely enough that a template
//! expands to the same bytes, and fails with the same message, as in Prometheus, rather than
//! being a look-alike template language. The parts are split by concern: [`lex`], [`parse`],
//! [`node`] and [`literal`] build the tree, [`exec`] walks it over [`value`]s, [`funcs`] and
//! [`builtins`] are the functions templates call, [`printf`], [`float`] and [`time`] print as
//! Go does.
//!
//! What Prometheus never reaches is left out: HTML mode (alerts use `text/template`), other
//! delimiters, complex numbers, `call` of function values.

mod builtins;
mod exec;
mod float;
mod funcs;
mod lex;
mod literal;
mod node;
mod parse;
mod printf;
#[cfg(test)]
mod tests;
mod time;
mod value;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use funcs::Env;
use node::Templates;
use value::{AlertValues, Map, Value};

/// What an alert's templates see: Prometheus' tmplData.
pub struct AlertData<'a> {
    /// The element's labels, `__name__` included, as Prometheus passes them.
    pub labels: &'a [(String, String)],
    pub external_labels: &'a [(String, String)],
    pub external_url: &'a str,
    pub value: f64,
}

/// One sample a template's `query` returns.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Runs `query "expr"` for a template at the evaluation time.
pub trait QueryFn {
    fn query(&mut self, expr: &str) -> Result<Vec<QuerySample>, String>;
}

/// The variables Prometheus declares ahead of every alert template.
const ALERT_DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// Expands `text` as Prometheus' AlertingRule does: the defs
/// `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}`
/// prepended, template name `__alert_<rule name>`, missingkey=zero; Err carries Go's error text
/// (the caller writes `<error expanding template: {err}>` in the field as Prometheus does).
pub fn expand_alert(
    rule_name: &str,
    text: &str,
    data: &AlertData,
    eval_time_ms: i64,
    query: &mut dyn QueryFn,
) -> Result<String, String> {
    // Without an action there is nothing to expand; Go would give the text back too.
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    // Queries run at the evaluation time; the caller's QueryFn already knows it.
    let _ = eval_time_ms;
    let name = format!("__alert_{rule_name}");
    let templates = parsed(&name, &format!("{ALERT_DEFS}{text}"))
        .map_err(|e| format!("error parsing template {name}: {e}"))?;
    let map = |pairs: &[(String, String)]| {
        Rc::new(Map::strings(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    };
    let values = Value::Alert(Rc::new(AlertValues {
        labels: map(data.labels),
        external_labels: map(data.external_labels),
        external_url: Rc::from(data.external_url),
        value: data.value,
    }));
    execute(&templates, values, data.external_url, query)
}

/// Checks that `text` parses as an alert template, as Prometheus checks a rule file when it
/// loads it (`rulefmt`): Err carries Go's message, e.g.
/// `template: __alert_X:1: function "foo" not defined`.
pub fn check_alert(rule_name: &str, text: &str) -> Result<(), String> {
    if !text.contains("{{") {
        return Ok(());
    }
    parsed(
        &format!("__alert_{rule_name}"),
        &format!("{ALERT_DEFS}{text}"),
    )
    .map(|_| ())
}

/// Runs parsed templates on `data`, with Prometheus' wording of a failure.
fn execute(
    templates: &Templates,
    data: Value,
    external_url: &str,
    query: &mut dyn QueryFn,
) -> Result<String, String> {
    let mut env = Env {
        query,
        external_url,
    };
    exec::execute(templates, data, &mut env)
        .map_err(|e| format!("error executing template {}: {e}", templates.name))
}

/// Templates parsed since the cache was last cleared, by name and text: a rule's labels and
/// annotations are expanded for every alert at every evaluation, the same few texts each time.
const CACHE_ENTRIES: usize = 512;

thread_local! {
    static CACHE: RefCell<HashMap<(String, String), Rc<Templates>>> = RefCell::new(HashMap::new());
}

fn parsed(name: &str, text: &str) -> Result<Rc<Templates>, String> {
    let key = (name.to_string(), text.to_string());
    if let Some(t) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(t);
    }
    let templates = Rc::new(parse::parse(name, text, &|f| funcs::function(f).is_some())?);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_ENTRIES {
            c.clear();
        }
        c.insert(key, templates.clone());
    });
    Ok(templates)
}
