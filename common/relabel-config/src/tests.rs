//! The rules' reading and validation, as Prometheus' `relabel_test.go` and
//! `config/testdata/*.bad.yml` have them: in JSON as the relabel plugin gets rules, and in YAML
//! as the host's configuration file has them.

use super::*;

/// One rule as the plugin reads it.
fn one(json: &str) -> Result<RelabelConfig, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

/// One rule as the host's configuration file has it.
fn parse(yaml: &str) -> Result<RelabelConfig, String> {
    serde_yaml::from_str(yaml).map_err(|e| e.to_string())
}

#[test]
fn defaults() {
    let rule = one(r#"{"target_label": "x"}"#).unwrap();
    assert_eq!(rule.action, Action::Replace);
    assert_eq!(rule.separator, ";");
    assert_eq!(rule.replacement, "$1");
    assert_eq!(rule.modulus, 0);
    assert!(rule.source_labels.is_empty());
    assert!(rule.regex.is_match("anything\nat all"));

    // Null is the zero value, not the default.
    let rule = one(r#"{"action": "keep", "separator": null, "replacement": null, "regex": null}"#)
        .unwrap();
    assert_eq!(rule.separator, "");
    assert_eq!(rule.replacement, "");
    assert!(rule.regex.is_match(""));
    assert!(!rule.regex.is_match("x"));

    let rule = one(
        r#"{"source_labels": ["__address__"], "modulus": 4, "target_label": "__tmp_hash", "action": "HashMod"}"#,
    )
    .unwrap();
    assert_eq!(rule.action, Action::HashMod);
    assert_eq!(rule.modulus, 4);
    assert_eq!(rule.source_labels, ["__address__"]);
}

/// Every message of Prometheus' `Validate` and of its field parsing, with the cases of its
/// `relabel_test.go` and `config/testdata/*.bad.yml`.
#[test]
fn validation_errors() {
    for (json, want) in [
        (r#"{"action": null}"#, "relabel action cannot be empty"),
        (r#"{"action": "rewrite"}"#, r#"unknown relabel action "rewrite""#),
        (r#"{"action": ""}"#, r#"unknown relabel action """#),
        (
            r#"{"action": "hashmod", "target_label": "x"}"#,
            "relabel configuration for hashmod requires non-zero modulus",
        ),
        (
            r#"{"action": "hashmod", "regex": "abcdef"}"#,
            "relabel configuration for hashmod requires non-zero modulus",
        ),
        (
            r#"{"regex": "abcdef"}"#,
            "relabel configuration for replace action requires 'target_label' value",
        ),
        (
            r#"{"action": "hashmod", "modulus": 2}"#,
            "relabel configuration for hashmod action requires 'target_label' value",
        ),
        (
            r#"{"action": "lowercase"}"#,
            "relabel configuration for lowercase action requires 'target_label' value",
        ),
        (
            r#"{"action": "uppercase"}"#,
            "relabel configuration for uppercase action requires 'target_label' value",
        ),
        (
            r#"{"action": "keepequal", "source_labels": ["abcdef"]}"#,
            "relabel configuration for keepequal action requires 'target_label' value",
        ),
        (
            r#"{"action": "dropequal", "source_labels": ["abcdef"]}"#,
            "relabel configuration for dropequal action requires 'target_label' value",
        ),
        (
            r#"{"action": "lowercase", "target_label": "__name__", "replacement": "bar"}"#,
            "'replacement' can not be set for lowercase action",
        ),
        (
            r#"{"action": "uppercase", "target_label": "__name__", "replacement": "bar"}"#,
            "'replacement' can not be set for uppercase action",
        ),
        (
            r#"{"action": "keepequal", "target_label": "x", "replacement": null}"#,
            "'replacement' can not be set for keepequal action",
        ),
        (
            r#"{"action": "labelmap", "replacement": ""}"#,
            r#""" is invalid 'replacement' for labelmap action"#,
        ),
        (
            r#"{"action": "keepequal", "source_labels": ["abcdef"], "regex": "foo", "target_label": "bar"}"#,
            "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            r#"{"action": "dropequal", "source_labels": ["abcdef"], "regex": "foo", "target_label": "bar"}"#,
            "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            r#"{"action": "keepequal", "target_label": "x", "regex": "(.*)"}"#,
            "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            r#"{"action": "dropequal", "target_label": "x", "separator": ","}"#,
            "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            r#"{"action": "dropequal", "target_label": "x", "modulus": 3}"#,
            "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            r#"{"action": "labelkeep", "source_labels": ["abcdef"]}"#,
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            r#"{"action": "labelkeep", "source_labels": []}"#,
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            r#"{"action": "labelkeep", "modulus": 8}"#,
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            r#"{"action": "labelkeep", "separator": ","}"#,
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            r#"{"action": "labelkeep", "replacement": "yolo-{1}"}"#,
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            r#"{"action": "labelkeep", "target_label": "yolo"}"#,
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            r#"{"action": "labeldrop", "source_labels": ["abcdef"]}"#,
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            r#"{"action": "labeldrop", "modulus": 8}"#,
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            r#"{"action": "labeldrop", "separator": ","}"#,
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            r#"{"action": "labeldrop", "replacement": "yolo-{1}"}"#,
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            r#"{"action": "labeldrop", "target_label": "yolo"}"#,
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (r#"{"source_labels": [""]}"#, r#""" is not a valid label name"#),
        (r#"{"regex": "abc(def", "target_label": "x"}"#, "error parsing regexp: missing closing ): `^(?s:abc(def)$`"),
        (r#"{"regex": "a{1001}", "action": "keep"}"#, "error parsing regexp: invalid repeat count: `{1001}`"),
        (r#"{"action": "keep", "regexp": "a"}"#, "unknown field `regexp`"),
        (r#"{"modulus": -1}"#, "invalid value: integer `-1`, expected u64"),
        (r#"{"target_label": 1}"#, "invalid type: integer `1`, expected a string"),
    ] {
        let err = one(json).expect_err(json);
        assert!(err.starts_with(want), "{json}\n  got: {err}\n  want: {want}");
    }
}

/// The accepted half of the same tests, including `relabelTarget`'s positive cases.
#[test]
fn valid_rules() {
    for json in [
        r#"{"target_label": "label"}"#,
        r#"{"target_label": "label${1}"}"#,
        r#"{"target_label": "${1}label"}"#,
        r#"{"target_label": "${1}"}"#,
        r#"{"target_label": "$1"}"#,
        r#"{"target_label": "asd$2asd"}"#,
        r#"{"target_label": "_${1}_"}"#,
        r#"{"target_label": "foo${bar}foo"}"#,
        r#"{"source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "replacement": "${1}", "target_label": "${3}"}"#,
        r#"{"action": "labelmap", "regex": "__meta_(.+)"}"#,
        r#"{"action": "labelmap", "regex": "(b.*)", "replacement": "bar_${1}"}"#,
        r#"{"action": "keepequal", "source_labels": ["a"], "target_label": "b"}"#,
        r#"{"action": "DropEqual", "source_labels": ["a"], "target_label": "b", "separator": ";", "replacement": "$1"}"#,
        r#"{"action": "labeldrop", "regex": "tmp_.*"}"#,
        r#"{"action": "labelkeep", "regex": "tmp_.*", "separator": ";", "source_labels": null}"#,
        r#"{"action": "keep", "source_labels": []}"#,
        r#"{"action": "lowercase", "target_label": "x", "replacement": "$1"}"#,
    ] {
        if let Err(err) = one(json) {
            panic!("{json}: {err}");
        }
    }
}

#[test]
fn yaml_defaults_and_fields() {
    let c = parse("target_label: x").unwrap();
    assert_eq!(
        c,
        RelabelConfig {
            target_label: "x".into(),
            ..RelabelConfig::default()
        }
    );
    let c = parse(
        "source_labels: [__address__]\nmodulus: 4\ntarget_label: __tmp_hash\naction: HashMod",
    )
    .unwrap();
    assert_eq!(c.action, Action::HashMod);
    assert_eq!(c.modulus, 4);
    assert_eq!(c.source_labels, ["__address__"]);

    // Scalars of any type are regexes; null means the empty regex, not the default.
    assert_eq!(parse("regex: 1\naction: keep").unwrap().regex.as_str(), "1");
    assert_eq!(parse("regex:\naction: keep").unwrap().regex.as_str(), "");
    assert_eq!(parse("separator:\naction: keep").unwrap().separator, "");
    assert_eq!(
        parse("replacement: ~\naction: keep").unwrap().replacement,
        ""
    );
    assert_eq!(
        parse("action: labelmap\nregex: __meta_(.+)")
            .unwrap()
            .replacement,
        "$1"
    );
    assert!(parse("action: replace\ntarget_label: ${1}_x").is_ok());
    assert!(parse("action: keepequal\nsource_labels: [a]\ntarget_label: b").is_ok());
    assert!(parse("action: labelkeep\nregex: tmp_.*\nseparator: ';'").is_ok());
}

#[test]
fn yaml_validation_errors() {
    for (yaml, message) in [
        ("action:", "relabel action cannot be empty"),
        ("action: rewrite", r#"unknown relabel action "rewrite""#),
        ("action: ''", r#"unknown relabel action """#),
        (
            "action: keepequal\ntarget_label: x\nregex: (.*)",
            "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            "action: labeldrop\nsource_labels: []",
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            "regex: '(a'\naction: keep",
            "error parsing regexp: missing closing ): `^(?s:(a)$`",
        ),
        ("action: keep\nregexp: a", "unknown field `regexp`"),
    ] {
        let err = parse(yaml).expect_err(yaml);
        assert!(err.contains(message), "{yaml}\n  got: {err}\n  want: {message}");
    }
}

/// The host hands its rules to the plugin as JSON; what is written must read back.
#[test]
fn serialized_rules_read_back() {
    for yaml in [
        "source_labels: [__address__]\nmodulus: 4\ntarget_label: __tmp_hash\naction: hashmod",
        "action: labelmap\nregex: __meta_kubernetes_(.+)\nreplacement: k8s_$1",
        "action: keepequal\nsource_labels: [a]\ntarget_label: b",
        "action: labeldrop\nregex: tmp_.*",
        "action: keep\nregex:",
    ] {
        let rule = parse(yaml).unwrap();
        let text = serde_yaml::to_string(&rule).unwrap();
        let json = serde_json::to_string(&rule).unwrap();
        assert_eq!(parse(&text), Ok(rule.clone()), "{text}");
        assert_eq!(one(&json), Ok(rule), "{json}");
    }
}

/// Values are blamed where they stand, rules where they start.
#[test]
fn errors_name_the_rule_and_its_line() {
    with_release(Release::V2, errors_name_the_rule_and_its_line_in_2);
}

fn errors_name_the_rule_and_its_line_in_2() {
    type Job = std::collections::BTreeMap<String, Vec<RelabelConfig>>;
    for (yaml, want) in [
        (
            "relabel_configs:\n  - action: keep\n  - action: hashmod\n    target_label: x\n",
            "relabel_configs[1]: relabel configuration for hashmod requires non-zero modulus at line 3 column 5",
        ),
        (
            "relabel_configs:\n  - action: keep\n    source_labels: [a, 1b]\n",
            "relabel_configs[0].source_labels[1]: \"1b\" is not a valid label name at line 3 column 24",
        ),
    ] {
        let err = serde_yaml::from_str::<Job>(yaml).unwrap_err().to_string();
        assert_eq!(err, want);
    }
}

/// Prometheus 2 (and a Prometheus 3 job with legacy validation) refuses names outside the
/// legacy set; Prometheus 3 reads any non-empty UTF-8 name. Source labels are checked as they
/// are read (the release's scheme), targets also by `check_names` afterwards.
#[test]
fn names_by_scheme() {
    for (json, legacy) in [
        (
            r#"{"target_label": "1x"}"#,
            r#""1x" is invalid 'target_label' for replace action"#,
        ),
        (
            r#"{"target_label": "a-b"}"#,
            r#""a-b" is invalid 'target_label' for replace action"#,
        ),
        (
            r#"{"target_label": "${1"}"#,
            r#""${1" is invalid 'target_label' for replace action"#,
        ),
        (
            r#"{"target_label": "$"}"#,
            r#""$" is invalid 'target_label' for replace action"#,
        ),
        (
            r#"{"target_label": "${}"}"#,
            r#""${}" is invalid 'target_label' for replace action"#,
        ),
        (
            r#"{"target_label": "0${3}"}"#,
            r#""0${3}" is invalid 'target_label' for replace action"#,
        ),
        (
            r#"{"target_label": "-${3}"}"#,
            r#""-${3}" is invalid 'target_label' for replace action"#,
        ),
        (
            r#"{"target_label": "-foo${1}bar-"}"#,
            r#""-foo${1}bar-" is invalid 'target_label' for replace action"#,
        ),
        (
            r#"{"action": "lowercase", "target_label": "${3}"}"#,
            r#""${3}" is invalid 'target_label' for lowercase action"#,
        ),
        (
            r#"{"action": "lowercase", "source_labels": ["__name__"], "target_label": "42lab"}"#,
            r#""42lab" is invalid 'target_label' for lowercase action"#,
        ),
        (
            r#"{"action": "uppercase", "source_labels": ["__name__"], "target_label": "42lab"}"#,
            r#""42lab" is invalid 'target_label' for uppercase action"#,
        ),
        (
            r#"{"action": "keepequal", "target_label": "a.b"}"#,
            r#""a.b" is invalid 'target_label' for keepequal action"#,
        ),
        (
            r#"{"action": "hashmod", "modulus": 2, "target_label": "$1"}"#,
            r#""$1" is invalid 'target_label' for hashmod action"#,
        ),
        (
            r#"{"action": "labelmap", "replacement": "l-$1"}"#,
            r#""l-$1" is invalid 'replacement' for labelmap action"#,
        ),
        (
            r#"{"action": "keep", "source_labels": ["a.b"]}"#,
            r#""a.b" is not a valid label name"#,
        ),
    ] {
        let in_2 = with_release(Release::V2, || one(json)).expect_err(json);
        assert!(
            in_2.starts_with(legacy),
            "{json}\n  got: {in_2}\n  want: {legacy}"
        );
        let rule = one(json).unwrap_or_else(|e| panic!("{json} in 3: {e}"));
        match rule.check_names(NameScheme::Legacy) {
            Ok(()) => assert!(json.contains(r#"["a.b"]"#), "{json}"),
            Err(e) => assert!(legacy.starts_with(&e.to_string()), "{json}: {e}"),
        }
    }
    let empty = one(r#"{"source_labels": [""]}"#).unwrap_err();
    assert!(
        empty.starts_with(r#""" is not a valid label name"#),
        "{empty}"
    );
    let empty_map = one(r#"{"action": "labelmap", "replacement": ""}"#).unwrap_err();
    assert!(
        empty_map.starts_with(r#""" is invalid 'replacement'"#),
        "{empty_map}"
    );
}
