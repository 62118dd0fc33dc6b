//! `/federate`'s bytes for names outside the legacy character set, per negotiated escaping,
//! as Prometheus 3's `expfmt` writes them (`EscapeMetricFamily`, `writeName`,
//! `writeNameAndLabelPairs`).

use super::*;

fn federated(escaping: Option<NameEscaping>) -> String {
    let head = Head::with_series(&[
        (
            &[("__name__", "http.requests"), ("a", "b"), ("url.path", "/")],
            &[(1500, 1.0)],
        ),
        (&[("__name__", "plain"), ("a.b", "c")], &[(1500, 2.0)]),
        (&[("__name__", "up"), ("job", "n")], &[(1500, 3.0)]),
        (&[("__name__", "only.name")], &[(1500, 4.0)]),
    ]);
    let sets = parse_match_params([("match[]", r#"{a!="x"}"#)], Compat::V3).unwrap();
    let selected = head.select_latest(&sets, 1000, 2000);
    let external = Labels::from_pairs([("dc.name", "eu")]);
    let mut writer = FederateWriter::new(&external, &selected, escaping);
    let mut out = Vec::new();
    for series in selected.iter() {
        writer.write(&mut out, series);
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn utf8_names_quoted_for_a_utf8_reader() {
    assert_eq!(
        federated(Some(NameEscaping::AllowUtf8)),
        r#"# TYPE "http.requests" untyped
{"http.requests",a="b","url.path"="/","dc.name"="eu",instance=""} 1 1500
# TYPE "only.name" untyped
{"only.name","dc.name"="eu",instance=""} 4 1500
# TYPE plain untyped
plain{"a.b"="c","dc.name"="eu",instance=""} 2 1500
# TYPE up untyped
up{job="n","dc.name"="eu",instance=""} 3 1500
"#
    );
}

#[test]
fn utf8_names_escaped_for_other_readers() {
    assert_eq!(
        federated(Some(NameEscaping::Underscores)),
        r#"# TYPE http_requests untyped
http_requests{a="b",url_path="/",dc_name="eu",instance=""} 1 1500
# TYPE only_name untyped
only_name{dc_name="eu",instance=""} 4 1500
# TYPE plain untyped
plain{a_b="c",dc_name="eu",instance=""} 2 1500
# TYPE up untyped
up{job="n",dc_name="eu",instance=""} 3 1500
"#
    );
    assert!(federated(Some(NameEscaping::Values))
        .contains("U__http_2e_requests{a=\"b\",U__url_2e_path=\"/\""));
    // Prometheus 2 has no negotiation: names as stored.
    assert!(federated(None).contains("http.requests{a=\"b\",url.path=\"/\""));
}
