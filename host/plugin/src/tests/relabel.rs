//! The stock `relabel` component, loaded as a node loads it, against a table covering every
//! action, the defaults, template expansion, hashmod vectors and config errors. The plugin's
//! own crate tests the same logic natively; this proves the compiled component agrees.

use super::{labels, runtime};
use crate::{stock, PluginError, PluginLimits, World};

fn run(rules: &str, input: &[(&str, &str)]) -> Result<Option<Vec<(String, String)>>, PluginError> {
    let bytes = stock::component("relabel").expect("stock relabel");
    let plugin = runtime().load(
        "relabel",
        bytes,
        World::Series,
        rules,
        PluginLimits::default(),
    )?;
    let out = plugin.process(&[labels(input)])?;
    Ok(out.into_iter().next().expect("one answer").map(|l| {
        l.iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect()
    }))
}

type Pairs = &'static [(&'static str, &'static str)];

#[test]
fn every_action_through_the_component() {
    let cases: &[(&str, &str, Pairs, Option<Pairs>)] = &[
        (
            "replace with defaults",
            r#"[{"source_labels": ["a"], "target_label": "b"}]"#,
            &[("a", "x")],
            Some(&[("a", "x"), ("b", "x")]),
        ),
        (
            "replace with groups and ${1}",
            r#"[{"source_labels": ["a", "b"], "regex": "(.)-(.*);(.*)", "target_label": "c", "replacement": "${1}_$3"}]"#,
            &[("a", "x-y"), ("b", "z")],
            Some(&[("a", "x-y"), ("b", "z"), ("c", "x_z")]),
        ),
        (
            "anchored regex does not match a substring",
            r#"[{"source_labels": ["a"], "regex": "b", "target_label": "c"}]"#,
            &[("a", "abc")],
            Some(&[("a", "abc")]),
        ),
        (
            "empty replacement deletes",
            r#"[{"source_labels": ["a"], "regex": "(.*)", "target_label": "a", "replacement": ""}]"#,
            &[("a", "x"), ("b", "y")],
            Some(&[("b", "y")]),
        ),
        (
            "keep",
            r#"[{"source_labels": ["a"], "regex": "x|y", "action": "keep"}]"#,
            &[("a", "z")],
            None,
        ),
        (
            "drop",
            r#"[{"source_labels": ["a"], "regex": "z", "action": "drop"}]"#,
            &[("a", "z")],
            None,
        ),
        (
            "hashmod: md5(\"baz\") % 1000 = 976",
            r#"[{"source_labels": ["a"], "modulus": 1000, "target_label": "h", "action": "hashmod"}]"#,
            &[("a", "baz")],
            Some(&[("a", "baz"), ("h", "976")]),
        ),
        (
            "hashmod: md5(\"foo\\nbar\") % 1000 = 734 (separator joins sources)",
            r#"[{"source_labels": ["a", "b"], "separator": "\n", "modulus": 1000, "target_label": "h", "action": "hashmod"}]"#,
            &[("a", "foo"), ("b", "bar")],
            Some(&[("a", "foo"), ("b", "bar"), ("h", "734")]),
        ),
        (
            "labelmap",
            r#"[{"regex": "__meta_(.+)", "action": "labelmap"}]"#,
            &[("__meta_zone", "eu"), ("a", "1")],
            Some(&[("__meta_zone", "eu"), ("a", "1"), ("zone", "eu")]),
        ),
        (
            "labeldrop",
            r#"[{"regex": "tmp_.*", "action": "labeldrop"}]"#,
            &[("tmp_x", "1"), ("a", "1")],
            Some(&[("a", "1")]),
        ),
        (
            "labelkeep",
            r#"[{"regex": "a|__name__", "action": "labelkeep"}]"#,
            &[("__name__", "m"), ("a", "1"), ("b", "2")],
            Some(&[("__name__", "m"), ("a", "1")]),
        ),
        (
            "lowercase",
            r#"[{"source_labels": ["a"], "target_label": "b", "action": "lowercase"}]"#,
            &[("a", "MiXeD")],
            Some(&[("a", "MiXeD"), ("b", "mixed")]),
        ),
        (
            "uppercase",
            r#"[{"source_labels": ["a"], "target_label": "b", "action": "uppercase"}]"#,
            &[("a", "MiXeD")],
            Some(&[("a", "MiXeD"), ("b", "MIXED")]),
        ),
        (
            "keepequal keeps",
            r#"[{"source_labels": ["a"], "target_label": "b", "action": "keepequal"}]"#,
            &[("a", "1"), ("b", "1")],
            Some(&[("a", "1"), ("b", "1")]),
        ),
        (
            "keepequal drops",
            r#"[{"source_labels": ["a"], "target_label": "b", "action": "keepequal"}]"#,
            &[("a", "1"), ("b", "2")],
            None,
        ),
        (
            "dropequal drops",
            r#"[{"source_labels": ["a"], "target_label": "b", "action": "dropequal"}]"#,
            &[("a", "1"), ("b", "1")],
            None,
        ),
        (
            "rules apply in order",
            r#"[{"source_labels": ["a"], "target_label": "b"}, {"source_labels": ["b"], "regex": "x", "action": "drop"}]"#,
            &[("a", "x")],
            None,
        ),
    ];
    for (name, rules, input, want) in cases {
        let got = run(rules, input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = want.map(|w| {
            w.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        });
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn bad_rules_are_refused_at_init_with_prometheus_reasons() {
    for (rules, reason) in [
        (
            r#"[{"source_labels": ["a"], "action": "hashmod", "target_label": "t"}]"#,
            "modulus",
        ),
        (
            r#"[{"source_labels": ["a"], "regex": "(", "target_label": "t"}]"#,
            "error parsing regexp",
        ),
        (r#"[{"action": "replace"}]"#, "target_label"),
        (r#"[{"action": "bogus"}]"#, "bogus"),
    ] {
        match run(rules, &[("a", "1")]) {
            Err(PluginError::Init(message)) => {
                assert!(message.contains(reason), "{rules}: {message}")
            }
            other => panic!("{rules}: {other:?}"),
        }
    }
}
