//! Prometheus' `template/template_test.go` cases that apply to alert templates, the limits
//! that keep a template from exhausting the plugin, and (in [`promtool`]) the outputs of the
//! real Prometheus for the same templates.

mod promtool;
mod promtool_edges;

use super::*;

/// A query engine that knows the few series the cases ask for.
struct Series;

impl QueryFn for Series {
    fn query(&mut self, expr: &str) -> Result<Vec<QuerySample>, String> {
        let a = sample(&[("__name__", "metric"), ("instance", "a")], 11.0);
        let b = sample(&[("__name__", "metric"), ("instance", "b")], 21.0);
        Ok(match expr {
            "metric" => vec![b, a],
            "metric{instance='a'}" => vec![a],
            "metric{__value__='a'}" => vec![sample(&[("__value__", "a")], 11.0)],
            "up" => vec![sample(
                &[("__name__", "up"), ("instance", "host:9090"), ("job", "j")],
                3.5,
            )],
            "broken" => return Err("query failed".into()),
            _ => vec![],
        })
    }
}

fn sample(labels: &[(&str, &str)], value: f64) -> QuerySample {
    QuerySample {
        labels: pairs(labels),
        value,
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Expands `text` for rule `A` on the element `up{instance="host:9090",job="j"} 3.5`.
fn expand(text: &str, external_url: &str) -> Result<String, String> {
    let labels = pairs(&[("__name__", "up"), ("instance", "host:9090"), ("job", "j")]);
    let external = pairs(&[("cluster", "c1")]);
    let data = AlertData {
        labels: &labels,
        external_labels: &external,
        external_url,
        value: 3.5,
    };
    expand_alert("A", text, &data, 0, &mut Series)
}

/// Checks every `(text, what promtool 2.42 showed)` case, naming each that differs.
fn assert_as_promtool(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for &(text, want) in cases {
        let got = expand_for_promtool(text, "");
        if got != want {
            failures.push(format!("{text:?}\n   want {want:?}\n    got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What promtool shows for `text`: the expansion, the error Prometheus writes into the
/// annotation, or the error that refuses the rule file when the template does not parse.
fn expand_for_promtool(text: &str, external_url: &str) -> String {
    if let Err(e) = check_alert("A", text) {
        return e;
    }
    let labels = pairs(&[("__name__", "up"), ("instance", "host:9090"), ("job", "j")]);
    let data = AlertData {
        labels: &labels,
        external_labels: &[],
        external_url,
        value: 3.5,
    };
    expand_alert("A", text, &data, 0, &mut Series)
        .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
}

const URL: &str = "http://testhost:9090/path/prefix";

#[test]
fn prometheus_template_test_cases() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("plain text", Ok("plain text")),
        ("{{ 1 }}", Ok("1")),
        (
            "{{\u{a0}}}",
            Err("error parsing template __alert_A: template: __alert_A:1: unrecognized character in action: U+00A0"),
        ),
        // Alerts use text/template: no HTML escaping.
        ("{{ \"<b>\" }}", Ok("<b>")),
        ("{{ \"<b>\" | safeHtml }}", Ok("<b>")),
        (
            "{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}",
            Ok("1 2"),
        ),
        ("{{ query \"metric{instance='a'}\" | first | value }}", Ok("11")),
        ("{{ query \"metric{instance='a'}\" | first | label \"instance\" }}", Ok("a")),
        ("{{ query \"metric{__value__='a'}\" | first | strvalue }}", Ok("a")),
        ("{{ query \"metric{instance='a'}\" | first | label \"foo\" }}", Ok("")),
        ("{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}", Ok("")),
        (
            "{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}",
            Ok("a:11: b:21: "),
        ),
        ("{{", Err("error parsing template __alert_A: template: __alert_A:1: unclosed action")),
        (
            "{{ query \"missing\" | first }}",
            Err("error executing template __alert_A: template: __alert_A:1:133: executing \"__alert_A\" at <first>: error calling first: first() called on vector with no elements"),
        ),
        (
            "{{ (query \"missing\").banana }}",
            Err("error executing template __alert_A: template: __alert_A:1:122: executing \"__alert_A\" at <\"missing\">: can't evaluate field banana in type template.queryResult"),
        ),
        ("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", Ok("xa")),
        (
            "{{ humanize 0.0 }}:{{ humanize 1.0 }}:{{ humanize 1234567.0 }}:{{ humanize .12 }}",
            Ok("0:1:1.235M:120m"),
        ),
        (
            "{{ humanizeDuration 60.1 }}:{{ humanizeDuration 1234567 }}:{{ humanizeDuration .0001 }}",
            Ok("1m 0s:14d 6h 56m 7s:100us"),
        ),
        ("{{ 1435065584.128 | humanizeTimestamp }}", Ok("2015-06-23 13:19:44.128 +0000 UTC")),
        ("{{ (\"1435065584.128\" | toTime).Format \"2006\" }}", Ok("2015")),
        ("{{ pathPrefix }}", Ok("/path/prefix")),
        ("{{ externalURL }}", Ok(URL)),
        ("{{ $externalURL }}|{{ $externalLabels.cluster }}", Ok("http://testhost:9090/path/prefix|c1")),
        ("{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}", Ok("3720.01")),
        // wasmfed's: text without an action is not parsed.
        ("100% done }}", Ok("100% done }}")),
        (
            "{{ query \"broken\" }}",
            Err("error executing template __alert_A: template: __alert_A:1:115: executing \"__alert_A\" at <query \"broken\">: error calling query: query failed"),
        ),
    ];
    for &(text, want) in cases {
        let got = expand(text, URL);
        assert_eq!(got.as_deref().map_err(String::as_str), want, "{text:?}");
    }
}

#[test]
fn check_alert_refuses_what_rulefmt_refuses() {
    assert_eq!(
        check_alert("A", "no action {{"),
        Err("template: __alert_A:1: unclosed action".into())
    );
    assert_eq!(
        check_alert("X", "{{ foo }}"),
        Err("template: __alert_X:1: function \"foo\" not defined".into())
    );
    assert_eq!(
        check_alert("X", "{{ $labels.instance }} {{ $value }}"),
        Ok(())
    );
    assert_eq!(check_alert("X", "plain text"), Ok(()));
}

#[test]
fn deep_nesting_and_large_input_are_errors_not_crashes() {
    let nested_parens = format!(
        "{}1{}",
        "{{".to_string() + &"(".repeat(50_000),
        ")".repeat(50_000) + "}}"
    );
    let err = expand(&nested_parens, URL).unwrap_err();
    assert!(err.ends_with("max expression depth exceeded"), "{err}");

    let nested_ifs = format!("{}x{}", "{{if 1}}".repeat(50_000), "{{end}}".repeat(50_000));
    let err = expand(&nested_ifs, URL).unwrap_err();
    assert!(err.ends_with("max expression depth exceeded"), "{err}");

    // Within the limit nesting works.
    let ok = format!("{}x{}", "{{if 1}}".repeat(40), "{{end}}".repeat(40));
    assert_eq!(expand(&ok, URL), Ok("x".to_string()));

    let recursive = "{{define \"r\"}}{{template \"r\"}}{{end}}{{template \"r\"}}";
    let err = expand(recursive, URL).unwrap_err();
    assert!(
        err.ends_with("exceeded maximum template depth (100)"),
        "{err}"
    );

    // Templates that multiply their output or their work are stopped.
    let mut blowup = format!("{{{{define \"t0\"}}}}{}{{{{end}}}}", "a".repeat(1000));
    for i in 1..=5 {
        blowup += &format!(
            "{{{{define \"t{i}\"}}}}{}{{{{end}}}}",
            format!("{{{{template \"t{}\"}}}}", i - 1).repeat(10)
        );
    }
    let err = expand(&(blowup + "{{template \"t5\"}}"), URL).unwrap_err();
    assert!(err.ends_with("output exceeds 4194304 bytes"), "{err}");
    let mut busy = "{{define \"s0\"}}{{\"\"}}{{end}}".to_string();
    for i in 1..=7 {
        busy += &format!(
            "{{{{define \"s{i}\"}}}}{}{{{{end}}}}",
            format!("{{{{template \"s{}\"}}}}", i - 1).repeat(10)
        );
    }
    let err = expand(&(busy + "{{template \"s7\"}}"), URL).unwrap_err();
    assert!(err.ends_with("execution exceeds 1000000 steps"), "{err}");

    // A large template of many actions is fine.
    let large = "{{ $labels.instance }} ".repeat(20_000);
    assert_eq!(expand(&large, URL).unwrap().len(), 20_000 * 10);
}
