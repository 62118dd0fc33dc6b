//! One table, like Prometheus' `TestRelabel`: input labels, rules (as the plugin's JSON), and
//! the expected output or drop. The first block is Prometheus' own table, case for case.

use super::*;
use crate::labels::Label;

type Pairs<'a> = &'a [(&'a str, &'a str)];

struct Case<'a> {
    name: &'a str,
    input: Pairs<'a>,
    rules: &'a str,
    /// `None`: the set is dropped.
    output: Option<Pairs<'a>>,
}

fn run(cases: &[Case<'_>]) {
    for case in cases {
        let rules = Rules::from_json(case.rules).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let got = rules.process(LabelSet::from_pairs(case.input.iter().copied()));
        let want = case.output.map(|o| LabelSet::from_pairs(o.iter().copied()));
        assert_eq!(got, want, "{}", case.name);
    }
}

#[test]
fn prometheus_relabel_table() {
    let abc: Pairs = &[("a", "foo"), ("b", "bar"), ("c", "baz")];
    let ports: Pairs = &[
        ("__tmp_port", "1234"),
        ("__port1", "1234"),
        ("__port2", "5678"),
    ];
    run(&[
        Case {
            name: "replace with ${1}",
            input: abc,
            rules: r#"[{"source_labels": ["a"], "regex": "f(.*)", "target_label": "d", "replacement": "ch${1}-ch${1}"}]"#,
            output: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
        },
        Case {
            name: "second rule sees the first's result",
            input: abc,
            rules: r#"[
                {"source_labels": ["a", "b"], "regex": "f(.*);(.*)r", "target_label": "a", "replacement": "b${1}${2}m"},
                {"source_labels": ["c", "a"], "regex": "(b).*b(.*)ba(.*)", "target_label": "d", "replacement": "$1$2$2$3"}
            ]"#,
            output: Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
        },
        Case {
            name: "drop ends the rules",
            input: &[("a", "foo")],
            rules: r#"[
                {"source_labels": ["a"], "regex": ".*o.*", "action": "drop"},
                {"source_labels": ["a"], "regex": "f(.*)", "target_label": "d", "replacement": "ch$1-ch$1"}
            ]"#,
            output: None,
        },
        Case {
            name: "drop",
            input: &[("a", "foo"), ("b", "bar")],
            rules: r#"[{"source_labels": ["a"], "regex": ".*o.*", "action": "drop"}]"#,
            output: None,
        },
        Case {
            name: "replace with a group inside",
            input: &[("a", "abc")],
            rules: r#"[{"source_labels": ["a"], "regex": ".*(b).*", "target_label": "d", "replacement": "$1"}]"#,
            output: Some(&[("a", "abc"), ("d", "b")]),
        },
        Case {
            name: "drop without a match",
            input: &[("a", "foo")],
            rules: r#"[{"source_labels": ["a"], "regex": "no-match", "action": "drop"}]"#,
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "drop regex is anchored",
            input: &[("a", "foo")],
            rules: r#"[{"source_labels": ["a"], "regex": "f|o", "action": "drop"}]"#,
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "keep without a match",
            input: &[("a", "foo")],
            rules: r#"[{"source_labels": ["a"], "regex": "no-match", "action": "keep"}]"#,
            output: None,
        },
        Case {
            name: "keep",
            input: &[("a", "foo")],
            rules: r#"[{"source_labels": ["a"], "regex": "f.*", "action": "keep"}]"#,
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "no replacement without a match",
            input: &[("a", "boo")],
            rules: r#"[{"source_labels": ["a"], "regex": "f", "target_label": "b", "replacement": "bar"}]"#,
            output: Some(&[("a", "boo")]),
        },
        Case {
            name: "blank replacement deletes the expanded target",
            input: &[("a", "foo"), ("f", "baz")],
            rules: r#"[{"source_labels": ["a"], "regex": "(f).*", "target_label": "$1", "replacement": "$2"}]"#,
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "hashmod",
            input: abc,
            rules: r#"[{"source_labels": ["c"], "target_label": "d", "action": "hashmod", "modulus": 1000}]"#,
            output: Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
        },
        Case {
            name: "hashmod of a value with a newline",
            input: &[("a", "foo\nbar")],
            rules: r#"[{"source_labels": ["a"], "target_label": "b", "action": "hashmod", "modulus": 1000}]"#,
            output: Some(&[("a", "foo\nbar"), ("b", "734")]),
        },
        Case {
            name: "labelmap",
            input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            rules: r#"[{"regex": "(b.*)", "replacement": "bar_${1}", "action": "labelmap"}]"#,
            output: Some(&[
                ("a", "foo"),
                ("b1", "bar"),
                ("b2", "baz"),
                ("bar_b1", "bar"),
                ("bar_b2", "baz"),
            ]),
        },
        Case {
            name: "labelmap of __meta labels",
            input: &[
                ("a", "foo"),
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
            ],
            rules: r#"[{"regex": "__meta_(my.*)", "replacement": "${1}", "action": "labelmap"}]"#,
            output: Some(&[
                ("a", "foo"),
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
                ("my_bar", "aaa"),
                ("my_baz", "bbb"),
            ]),
        },
        Case {
            name: "templated target",
            input: &[("a", "some-name-value")],
            rules: r#"[{"source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "replacement": "${2}", "target_label": "${1}"}]"#,
            output: Some(&[("a", "some-name-value"), ("name", "value")]),
        },
        Case {
            name: "replacement from a missing group",
            input: &[("a", "some-name-value")],
            rules: r#"[{"source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "replacement": "${3}", "target_label": "${1}"}]"#,
            output: Some(&[("a", "some-name-value")]),
        },
        Case {
            name: "targets from missing groups",
            input: &[("a", "some-name-0")],
            rules: r#"[
                {"source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "replacement": "${1}", "target_label": "${3}"},
                {"source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "replacement": "${1}", "target_label": "${3}"},
                {"source_labels": ["a"], "regex": "some-([^-]+)(-[^,]+)", "replacement": "${1}", "target_label": "${3}"}
            ]"#,
            output: Some(&[("a", "some-name-0")]),
        },
        Case {
            name: "real-life tags",
            input: &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
            rules: r#"[
                {"source_labels": ["__meta_sd_tags"], "regex": "(?:.+,|^)path:(/[^,]+).*", "replacement": "${1}", "target_label": "__metrics_path__"},
                {"source_labels": ["__meta_sd_tags"], "regex": "(?:.+,|^)job:([^,]+).*", "replacement": "${1}", "target_label": "job"},
                {"source_labels": ["__meta_sd_tags"], "regex": "(?:.+,|^)label:([^=]+)=([^,]+).*", "replacement": "${2}", "target_label": "${1}"}
            ]"#,
            output: Some(&[
                ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
                ("__metrics_path__", "/secret"),
                ("job", "some-job"),
                ("foo", "bar"),
            ]),
        },
        Case {
            name: "prometheus issue 12283",
            input: &[
                ("__meta_kubernetes_pod_container_port_name", "foo"),
                ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ],
            rules: r#"[
                {"regex": "^__meta_kubernetes_pod_container_port_name$", "action": "labeldrop"},
                {"source_labels": ["__meta_kubernetes_pod_annotation_XXX_metrics_port"], "regex": "(.+)", "replacement": "metrics", "target_label": "__meta_kubernetes_pod_container_port_name"},
                {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": "^metrics$", "action": "keep"}
            ]"#,
            output: Some(&[
                ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
                ("__meta_kubernetes_pod_container_port_name", "metrics"),
            ]),
        },
        Case {
            name: "labelkeep",
            input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            rules: r#"[{"regex": "(b.*)", "action": "labelkeep"}]"#,
            output: Some(&[("b1", "bar"), ("b2", "baz")]),
        },
        Case {
            name: "labeldrop",
            input: &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
            rules: r#"[{"regex": "(b.*)", "action": "labeldrop"}]"#,
            output: Some(&[("a", "foo")]),
        },
        Case {
            name: "uppercase and lowercase",
            input: &[("foo", "bAr123Foo")],
            rules: r#"[
                {"source_labels": ["foo"], "action": "uppercase", "target_label": "foo_uppercase"},
                {"source_labels": ["foo"], "action": "lowercase", "target_label": "foo_lowercase"}
            ]"#,
            output: Some(&[
                ("foo", "bAr123Foo"),
                ("foo_lowercase", "bar123foo"),
                ("foo_uppercase", "BAR123FOO"),
            ]),
        },
        Case {
            name: "keepequal, equal",
            input: ports,
            rules: r#"[{"source_labels": ["__tmp_port"], "action": "keepequal", "target_label": "__port1"}]"#,
            output: Some(ports),
        },
        Case {
            name: "dropequal, equal",
            input: ports,
            rules: r#"[{"source_labels": ["__tmp_port"], "action": "dropequal", "target_label": "__port1"}]"#,
            output: None,
        },
        Case {
            name: "dropequal, different",
            input: ports,
            rules: r#"[{"source_labels": ["__tmp_port"], "action": "dropequal", "target_label": "__port2"}]"#,
            output: Some(ports),
        },
        Case {
            name: "keepequal, different",
            input: ports,
            rules: r#"[{"source_labels": ["__tmp_port"], "action": "keepequal", "target_label": "__port2"}]"#,
            output: None,
        },
        Case {
            name: "dot matches a newline",
            input: &[("a", "line1\nline2"), ("b", "bar"), ("c", "baz")],
            rules: r#"[{"source_labels": ["a"], "regex": "line1.*line2", "target_label": "d", "replacement": "match${1}"}]"#,
            output: Some(&[
                ("a", "line1\nline2"),
                ("b", "bar"),
                ("c", "baz"),
                ("d", "match"),
            ]),
        },
    ]);
}

#[test]
fn defaults_and_sources() {
    run(&[
        Case {
            name: "no rules",
            input: &[("a", "1")],
            rules: "[]",
            output: Some(&[("a", "1")]),
        },
        Case {
            name: "null config is no rules",
            input: &[("a", "1")],
            rules: "null",
            output: Some(&[("a", "1")]),
        },
        Case {
            name: "default rule copies a label",
            input: &[("a", "1")],
            rules: r#"[{"source_labels": ["a"], "target_label": "b"}]"#,
            output: Some(&[("a", "1"), ("b", "1")]),
        },
        Case {
            name: "copying a missing label deletes the target",
            input: &[("a", "1"), ("b", "2")],
            rules: r#"[{"source_labels": ["missing"], "target_label": "b"}]"#,
            output: Some(&[("a", "1")]),
        },
        Case {
            name: "a constant label",
            input: &[("a", "1")],
            rules: r#"[{"target_label": "cluster", "replacement": "dev"}]"#,
            output: Some(&[("a", "1"), ("cluster", "dev")]),
        },
        Case {
            name: "missing sources join as empty strings",
            input: &[("a", "x"), ("c", "y")],
            rules: r#"[{"source_labels": ["a", "b", "c"], "separator": ",", "target_label": "j"}]"#,
            output: Some(&[("a", "x"), ("c", "y"), ("j", "x,,y")]),
        },
        Case {
            name: "default separator",
            input: &[("a", "x"), ("b", "y")],
            rules: r#"[{"source_labels": ["a", "b"], "target_label": "j"}]"#,
            output: Some(&[("a", "x"), ("b", "y"), ("j", "x;y")]),
        },
        Case {
            name: "null separator is empty",
            input: &[("a", "x"), ("b", "y")],
            rules: r#"[{"source_labels": ["a", "b"], "separator": null, "target_label": "j"}]"#,
            output: Some(&[("a", "x"), ("b", "y"), ("j", "xy")]),
        },
        Case {
            name: "keep with the default regex keeps everything",
            input: &[("a", "x")],
            rules: r#"[{"action": "keep"}]"#,
            output: Some(&[("a", "x")]),
        },
        Case {
            name: "drop with the default regex drops everything",
            input: &[("a", "x")],
            rules: r#"[{"action": "drop", "source_labels": ["missing"]}]"#,
            output: None,
        },
        Case {
            name: "null regex matches only the empty value",
            input: &[("a", "x")],
            rules: r#"[{"action": "drop", "source_labels": ["missing"], "regex": null}, {"action": "drop", "source_labels": ["a"], "regex": null}]"#,
            output: None,
        },
        Case {
            name: "actions are case-insensitive",
            input: &[("a", "x")],
            rules: r#"[{"action": "DROP", "source_labels": ["a"], "regex": "y"}, {"action": "LabelDrop", "regex": "a"}]"#,
            output: Some(&[]),
        },
    ]);
}

#[test]
fn replace_and_expansion() {
    let host: Pairs = &[("__address__", "db1:9100")];
    run(&[
        Case {
            name: "named group",
            input: host,
            rules: r#"[{"source_labels": ["__address__"], "regex": "(?P<host>[^:]+):(?P<port>\\d+)", "target_label": "instance", "replacement": "$host/${port}"}]"#,
            output: Some(&[("__address__", "db1:9100"), ("instance", "db1/9100")]),
        },
        Case {
            name: "$1x names group 1x, which expands to nothing and deletes the target",
            input: &[("__address__", "db1:9100"), ("x", "old")],
            rules: r#"[{"source_labels": ["__address__"], "regex": "([^:]+):.*", "target_label": "x", "replacement": "$1x"}]"#,
            output: Some(&[("__address__", "db1:9100")]),
        },
        Case {
            name: "${1}x",
            input: host,
            rules: r#"[{"source_labels": ["__address__"], "regex": "([^:]+):.*", "target_label": "x", "replacement": "${1}x"}]"#,
            output: Some(&[("__address__", "db1:9100"), ("x", "db1x")]),
        },
        Case {
            name: "$$ is a dollar",
            input: host,
            rules: r#"[{"source_labels": ["__address__"], "regex": "([^:]+):.*", "target_label": "x", "replacement": "$$1 is $1"}]"#,
            output: Some(&[("__address__", "db1:9100"), ("x", "$1 is db1")]),
        },
        Case {
            name: "group 0 is the whole value",
            input: host,
            rules: r#"[{"source_labels": ["__address__"], "regex": "db(\\d):.*", "target_label": "x", "replacement": "<$0>"}]"#,
            output: Some(&[("__address__", "db1:9100"), ("x", "<db1:9100>")]),
        },
        Case {
            name: "kubernetes address rewrite",
            input: &[("__address__", "10.0.0.1:80"), ("__meta_port", "9100")],
            rules: r#"[{"source_labels": ["__address__", "__meta_port"], "regex": "(.+?)(\\:\\d+)?;(\\d+)", "target_label": "__address__", "replacement": "$1:$3"}]"#,
            output: Some(&[("__address__", "10.0.0.1:9100"), ("__meta_port", "9100")]),
        },
        Case {
            name: "target expanding to an invalid legacy name does nothing",
            input: &[("a", "1abc"), ("b", "keep")],
            rules: r#"{"compat": 3, "names": "legacy", "rules": [{"source_labels": ["a"], "regex": "(.*)", "target_label": "${1}", "replacement": "v"}]}"#,
            output: Some(&[("a", "1abc"), ("b", "keep")]),
        },
        Case {
            name: "in Prometheus 2 too",
            input: &[("a", "1abc"), ("b", "keep")],
            rules: r#"{"compat": 2, "rules": [{"source_labels": ["a"], "regex": "(.*)", "target_label": "${1}", "replacement": "v"}]}"#,
            output: Some(&[("a", "1abc"), ("b", "keep")]),
        },
        Case {
            name: "Prometheus 3 writes any UTF-8 name a target expands to",
            input: &[("a", "1abc.d"), ("b", "keep")],
            rules: r#"[{"source_labels": ["a"], "regex": "(.*)", "target_label": "${1}", "replacement": "v"}]"#,
            output: Some(&[("1abc.d", "v"), ("a", "1abc.d"), ("b", "keep")]),
        },
        Case {
            name: "target expanding to nothing does nothing; a replacement of nothing deletes",
            input: &[("dropped", "x"), ("job", "foo")],
            rules: r#"[{"replacement": "dropped", "target_label": "${0}"}, {"replacement": "${0}", "target_label": "dropped"}]"#,
            output: Some(&[("job", "foo")]),
        },
        Case {
            name: "target naming group 1b expands to nothing",
            input: &[("a", "x")],
            rules: r#"[{"source_labels": ["a"], "target_label": "$1b", "replacement": "v"}]"#,
            output: Some(&[("a", "x")]),
        },
        Case {
            name: "target overwritten by a templated name",
            input: &[("a", "b"), ("b", "old")],
            rules: r#"[{"source_labels": ["a"], "target_label": "$1", "replacement": "new"}]"#,
            output: Some(&[("a", "b"), ("b", "new")]),
        },
        Case {
            name: "ASCII \\d, as Go",
            input: &[("a", "٣")],
            rules: r#"[{"source_labels": ["a"], "regex": "\\d", "target_label": "digit", "replacement": "yes"}]"#,
            output: Some(&[("a", "٣")]),
        },
    ]);
}

#[test]
fn other_actions() {
    run(&[
        Case {
            name: "lowercase of nothing deletes the target",
            input: &[("a", "x"), ("t", "old")],
            rules: r#"[{"source_labels": ["missing"], "action": "lowercase", "target_label": "t"}]"#,
            output: Some(&[("a", "x")]),
        },
        Case {
            name: "case mapping as Go",
            input: &[("a", "Straße ᾳ"), ("b", "ΟΔΟΣ İ")],
            rules: r#"[
                {"source_labels": ["a"], "action": "uppercase", "target_label": "a"},
                {"source_labels": ["b"], "action": "lowercase", "target_label": "b"}
            ]"#,
            output: Some(&[("a", "STRAßE ᾼ"), ("b", "οδοσ i")]),
        },
        Case {
            name: "hashmod of nothing, joined sources",
            input: &[("a", "foo"), ("b", "bar")],
            rules: r#"[
                {"source_labels": ["missing"], "action": "hashmod", "target_label": "h0", "modulus": 1000},
                {"source_labels": ["a", "b"], "separator": "\n", "action": "hashmod", "target_label": "h1", "modulus": 1000}
            ]"#,
            output: Some(&[
                ("a", "foo"),
                ("b", "bar"),
                ("h0", &hashmod_str("", 1000)),
                ("h1", "734"),
            ]),
        },
        Case {
            name: "hashmod shard selection",
            input: &[("__address__", "baz")],
            rules: r#"[
                {"source_labels": ["__address__"], "action": "hashmod", "target_label": "__tmp_hash", "modulus": 1000},
                {"source_labels": ["__tmp_hash"], "regex": "^976$", "action": "keep"},
                {"regex": "__tmp_hash", "action": "labeldrop"}
            ]"#,
            output: Some(&[("__address__", "baz")]),
        },
        Case {
            name: "keepequal with both sides missing",
            input: &[("a", "x")],
            rules: r#"[{"source_labels": ["m1"], "action": "keepequal", "target_label": "m2"}]"#,
            output: Some(&[("a", "x")]),
        },
        Case {
            name: "dropequal with both sides missing",
            input: &[("a", "x")],
            rules: r#"[{"source_labels": ["m1"], "action": "dropequal", "target_label": "m2"}]"#,
            output: None,
        },
        Case {
            name: "labelmap: the later name in name order wins",
            input: &[("a_x", "1"), ("b_x", "2")],
            rules: r#"[{"regex": "(?:a|b)_(x)", "action": "labelmap"}]"#,
            output: Some(&[("a_x", "1"), ("b_x", "2"), ("x", "2")]),
        },
        Case {
            name: "labelmap overwrites and does not see its own output",
            input: &[("__meta_a", "new"), ("a", "old"), ("__meta___meta_b", "x")],
            rules: r#"[{"regex": "__meta_(.+)", "action": "labelmap"}]"#,
            output: Some(&[
                ("__meta_a", "new"),
                ("__meta___meta_b", "x"),
                ("__meta_b", "x"),
                ("a", "new"),
            ]),
        },
        Case {
            name: "labelmap may write an empty name, as Prometheus (the host refuses it)",
            input: &[("a", "x")],
            rules: r#"[{"regex": "(a)", "replacement": "$2", "action": "labelmap"}]"#,
            output: Some(&[("", "x"), ("a", "x")]),
        },
        Case {
            name: "labeldrop regex is anchored",
            input: &[("ab", "1"), ("b", "2")],
            rules: r#"[{"regex": "b", "action": "labeldrop"}]"#,
            output: Some(&[("ab", "1")]),
        },
        Case {
            name: "labelkeep with (?i)",
            input: &[("ab", "1"), ("AB", "2"), ("c", "3")],
            rules: r#"[{"regex": "(?i)ab", "action": "labelkeep"}]"#,
            output: Some(&[("AB", "2"), ("ab", "1")]),
        },
    ]);
}

fn hashmod_str(value: &str, modulus: u64) -> String {
    plugin_sdk::hashmod(value, modulus).to_string()
}

const KUBERNETES_RULES: &str = include_str!("../../testdata/kubernetes_rules.json");
const KUBERNETES_TARGET: &str = include_str!("../../testdata/kubernetes_target.json");

fn kubernetes_target() -> LabelSet {
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_str(KUBERNETES_TARGET).unwrap();
    LabelSet::new(map.into_iter().map(|(n, v)| Label::new(n, v)).collect())
}

/// Prometheus' `BenchmarkRelabel` "kubernetes" rules and target: the target lands on one shard
/// of three, and with the shard filter opened up its labels are what the rules mean.
#[test]
fn kubernetes_example() {
    let rules = Rules::from_json(KUBERNETES_RULES).unwrap();
    let shard = plugin_sdk::hashmod("10.132.183.40:80", 3);
    assert_eq!(
        rules.process(kubernetes_target()).is_some(),
        shard == 0,
        "shard {shard}"
    );

    let keep_all = KUBERNETES_RULES.replace(r#""regex": "^0$""#, r#""regex": ".*""#);
    assert_ne!(keep_all, KUBERNETES_RULES);
    let rules = Rules::from_json(&keep_all).unwrap();
    let got = rules.process(kubernetes_target()).expect("kept");
    for (name, value) in [
        ("job", "loki-boltdb-shipper/promtail-loki-boltdb-shipper"),
        ("namespace", "loki-boltdb-shipper"),
        ("pod", "promtail-loki-boltdb-shipper-jgtr7"),
        ("container", "promtail"),
        (
            "instance",
            "promtail-loki-boltdb-shipper-jgtr7:promtail:http-metrics",
        ),
        ("cluster", "dev-us-central-0"),
        ("__address__", "10.132.183.40:80"),
        (
            "__meta_kubernetes_pod_label_name",
            "promtail-loki-boltdb-shipper",
        ),
        ("__tmp_hash", ""),
    ] {
        assert_eq!(got.get(name), value, "{name}");
    }
}

#[test]
fn scratch_is_reusable_across_sets() {
    let rules = Rules::from_json(
        r#"[{"source_labels": ["a"], "regex": "(x+)(y*)", "target_label": "t", "replacement": "$2$1"}]"#,
    )
    .unwrap();
    let mut scratch = rules.scratch();
    for (value, want) in [("xxy", "yxx"), ("nope", ""), ("x", "x")] {
        let mut set = LabelSet::from_pairs([("a", value)]);
        assert!(rules.apply(&mut set, &mut scratch));
        assert_eq!(set.get("t"), want, "{value}");
    }
}
