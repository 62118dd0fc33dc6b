//! Hot swaps and shadow candidates on real components: the stock `relabel` plugin configured to
//! drop `x`, and the identity guest, which drops `drop_me` and refuses a configuration saying
//! "reject".

use std::sync::Arc;

use super::{labels, runtime, IDENTITY};
use crate::Plugin;
use crate::{stock, PluginError, PluginLimits, World};

const RULE_HOSTILE: &[u8] = wasmfed_artifacts::RULE_HOSTILE;

fn relabel(config: &str) -> Arc<Plugin> {
    let bytes = stock::component("relabel").unwrap();
    Arc::new(
        runtime()
            .load("p", bytes, World::Series, config, PluginLimits::default())
            .unwrap(),
    )
}

const DROP_X: &str = r#"[{"source_labels": ["__name__"], "regex": "x", "action": "drop"}]"#;

fn names(answer: &[Option<wasmfed_model::Labels>]) -> Vec<Option<String>> {
    answer
        .iter()
        .map(|a| a.as_ref().map(|l| l.metric_name().to_string()))
        .collect()
}

fn batch() -> Vec<wasmfed_model::Labels> {
    ["x", "y", "drop_me"]
        .iter()
        .map(|n| labels(&[("__name__", n)]))
        .collect()
}

#[test]
fn a_swap_changes_the_answers_and_moves_the_generation_on() {
    let plugin = relabel(DROP_X);
    let before = plugin.sha256();
    assert_eq!(
        names(&plugin.process(&batch()).unwrap()),
        [None, Some("y".into()), Some("drop_me".into())]
    );
    let sha = runtime()
        .swap(std::slice::from_ref(&plugin), IDENTITY)
        .unwrap();
    assert_eq!(plugin.sha256(), sha);
    assert_ne!(sha, before);
    assert_eq!(plugin.generation(), 1);
    assert_eq!(plugin.stats().swaps(), 1);
    assert_eq!(
        names(&plugin.process(&batch()).unwrap()),
        [Some("x".into()), Some("y".into()), None]
    );
}

#[test]
fn refused_components_leave_the_running_version_alone() {
    let plugin = relabel(DROP_X);
    let sha = plugin.sha256();
    let core_module = wat::parse_str("(module)").unwrap();
    let cases: [(&[u8], &str); 3] = [
        (b"not wasm", "compiling plugin"),
        (&core_module, "not a component"),
        (RULE_HOSTILE, "does not fit its stage"),
    ];
    for (bytes, want) in cases {
        let err = runtime()
            .swap(std::slice::from_ref(&plugin), bytes)
            .unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
    }
    // The identity guest refuses this configuration at `init`.
    let picky =
        relabel(r#"[{"source_labels": ["__name__"], "regex": "reject", "action": "drop"}]"#);
    let err = runtime()
        .swap(std::slice::from_ref(&picky), IDENTITY)
        .unwrap_err();
    assert!(matches!(err, PluginError::Init(_)), "{err}");
    assert_eq!(picky.generation(), 0);
    assert_eq!(plugin.sha256(), sha);
    assert_eq!(plugin.generation(), 0);
    assert_eq!(plugin.stats().swap_refusals(), 3);
    assert_eq!(
        names(&plugin.process(&batch()).unwrap())[0],
        None,
        "still the relabel plugin"
    );
}

#[test]
fn a_swap_of_several_plugins_is_all_or_nothing() {
    let fine = relabel(DROP_X);
    let picky = relabel(r#"[{"source_labels": ["a"], "regex": "reject", "action": "drop"}]"#);
    let err = runtime().swap(&[fine.clone(), picky.clone()], IDENTITY);
    assert!(err.is_err());
    assert_eq!((fine.generation(), picky.generation()), (0, 0));
    assert_eq!(fine.stats().swaps(), 0);
}

#[test]
fn a_shadow_candidate_reports_exactly_where_it_differs() {
    let plugin = relabel(DROP_X);
    runtime()
        .shadow(std::slice::from_ref(&plugin), IDENTITY)
        .unwrap();
    // The live answer is the relabel plugin's, whatever the candidate says.
    let live = plugin.process(&batch()).unwrap();
    assert_eq!(
        names(&live),
        [None, Some("y".into()), Some("drop_me".into())]
    );
    let report = plugin.shadow_report().unwrap();
    assert_eq!(
        (report.batches, report.differences, report.failures),
        (1, 2, 0)
    );
    let diffs: Vec<(String, bool, bool)> = report
        .examples
        .iter()
        .map(|d| {
            (
                d.input.metric_name().to_string(),
                d.live.is_some(),
                d.candidate.is_some(),
            )
        })
        .collect();
    assert_eq!(
        diffs,
        [
            ("x".to_string(), false, true),
            ("drop_me".to_string(), true, false)
        ]
    );
    assert_eq!(
        plugin.generation(),
        1,
        "starting a shadow invalidates cached answers"
    );
    assert!(plugin.promote_shadow());
    assert!(plugin.shadow_report().is_none());
    assert_eq!(plugin.generation(), 2);
    assert_eq!(names(&plugin.process(&batch()).unwrap())[2], None);
    assert!(!plugin.drop_shadow());
}

#[test]
fn only_labelling_stages_have_shadows() {
    let head = Arc::new(wasmfed_storage::Head::new());
    let rule = runtime()
        .load_with_store(
            "r",
            RULE_HOSTILE,
            World::Rule,
            r#"{"mode": "ok"}"#,
            PluginLimits::rules(),
            Arc::new(crate::HeadStore::new(head, Arc::default())),
        )
        .unwrap();
    let err = runtime()
        .shadow(&[Arc::new(rule)], RULE_HOSTILE)
        .unwrap_err();
    assert!(err.to_string().contains("shadow mode compares"), "{err}");
}

#[test]
fn a_pinned_plugin_refuses_other_content_with_both_hashes() {
    let bytes = stock::component("relabel").unwrap();
    let pin = runtime().inspect(bytes).unwrap().sha256;
    assert!(stock::check_pin(&pin, bytes).is_ok());
    let plugin = Arc::new(
        Arc::try_unwrap(relabel(DROP_X))
            .ok()
            .unwrap()
            .with_pin(Some(pin.clone())),
    );
    let refused = runtime()
        .swap(std::slice::from_ref(&plugin), IDENTITY)
        .unwrap_err();
    assert!(matches!(refused, PluginError::Pinned(_)), "{refused}");
    let text = refused.to_string();
    assert!(
        text.contains(&pin) && text.contains("sha256 mismatch"),
        "{text}"
    );
    assert!(runtime()
        .shadow(std::slice::from_ref(&plugin), IDENTITY)
        .is_err());
    // Still the pinned version: x is dropped.
    assert_eq!(names(&plugin.process(&batch()).unwrap())[0], None);
    // The same content passes the pin.
    assert!(runtime().swap(std::slice::from_ref(&plugin), bytes).is_ok());
    let other = stock::read(
        &wasmfed_config::PluginSource::Stock("relabel".into()),
        Some(&"0".repeat(64)),
    );
    assert!(other.unwrap_err().contains("the configuration pins 0000"));
}
