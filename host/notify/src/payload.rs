//! Alerts as Alertmanager's v2 API takes them (`POST /api/v2/alerts`, a `PostableAlerts`
//! array), written as Prometheus' notifier writes them: label and annotation maps, `startsAt`
//! and `endsAt` in RFC 3339 with milliseconds (go-openapi's `strfmt.DateTime`), the
//! `generatorURL` linking back to the rule's expression.

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value};

use wasmfed_rules::Notification;

/// The JSON body of one post.
pub fn encode(alerts: &[Notification]) -> String {
    let list: Vec<Value> = alerts.iter().map(alert).collect();
    Value::Array(list).to_string()
}

fn alert(a: &Notification) -> Value {
    let mut out = Map::new();
    // Omitted when empty, as go-swagger's `omitempty` on PostableAlert.annotations does.
    if !a.annotations.is_empty() {
        out.insert(
            "annotations".into(),
            object(a.annotations.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
        );
    }
    out.insert("endsAt".into(), time(a.ends_at_ms).into());
    out.insert("startsAt".into(), time(a.starts_at_ms).into());
    if !a.generator_url.is_empty() {
        out.insert("generatorURL".into(), a.generator_url.clone().into());
    }
    out.insert(
        "labels".into(),
        object(a.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))),
    );
    Value::Object(out)
}

fn object<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(
        pairs
            .map(|(n, v)| (n.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

/// `2026-12-06T10:00:00.000Z`.
fn time(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map_or_else(String::new, |t| {
            t.to_rfc3339_opts(SecondsFormat::Millis, true)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_model::Labels;

    #[test]
    fn alerts_are_written_as_alertmanager_v2_postable_alerts() {
        let body = encode(&[Notification {
            labels: Labels::from_pairs([("alertname", "Down"), ("job", "node")]),
            annotations: vec![("summary".into(), "node is down".into())],
            starts_at_ms: 1_765_015_200_000,
            ends_at_ms: 1_765_015_440_123,
            generator_url: "http://node:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1".into(),
        }]);
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([{
                "annotations": {"summary": "node is down"},
                "endsAt": "2025-12-06T10:04:00.123Z",
                "startsAt": "2025-12-06T10:00:00.000Z",
                "generatorURL": "http://node:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
                "labels": {"alertname": "Down", "job": "node"},
            }])
        );
        let bare = encode(&[Notification {
            labels: Labels::from_pairs([("alertname", "Up")]),
            annotations: vec![],
            starts_at_ms: 0,
            ends_at_ms: 0,
            generator_url: String::new(),
        }]);
        assert_eq!(
            bare,
            r#"[{"endsAt":"1970-01-01T00:00:00.000Z","labels":{"alertname":"Up"},"startsAt":"1970-01-01T00:00:00.000Z"}]"#
        );
    }
}
