//! Blocks cut from wasmfed's head, read by the real Prometheus 2.42 tools (Debian's
//! `prometheus` package, installed by `./test.sh`): `promtool tsdb dump` prints exactly the
//! head's samples of the persisted range, so the XOR chunks, index and meta wasmfed writes are
//! Prometheus' format and not merely readable by wasmfed's own reader.

use wasmfed_block::testing::promtool_dump;
use wasmfed_model::Labels;
use wasmfed_storage::Head;

#[test]
fn promtool_dumps_what_the_head_persisted() {
    let head = Head::new();
    let mut want = Vec::new();
    for i in 0..30 {
        let labels = Labels::from_pairs([
            ("__name__", "node_load1".to_string()),
            ("cpu", format!("{}", i % 4)),
            ("instance", format!("10.0.0.{i}:9100")),
        ]);
        let (r, _) = head.get_or_create(&labels);
        let mut t = 1_700_000_000_000 + i * 7;
        let mut v = i as f64;
        while t < 1_700_000_000_000 + 3 * 3_600_000 {
            head.append(r, t, v).unwrap();
            // Irregular steps and values: every XOR and delta-of-delta branch is taken.
            t += 15_000 + (t % 5) * 1_000;
            v = if t % 3 == 0 { v * 1.5 + 0.25 } else { v - 3.0 };
        }
    }
    let (mint, maxt) = (1_700_000_000_000i64, 1_700_000_000_000 + 2 * 3_600_000);
    for r in head.select(&[wasmfed_storage::Matcher::new(
        wasmfed_storage::MatchOp::Regex,
        "__name__",
        ".+",
    )
    .unwrap()])
    {
        let labels = head.labels(r).unwrap();
        let text: Vec<String> = labels
            .iter()
            .map(|l| format!("{}=\"{}\"", l.name, l.value))
            .collect();
        for s in head.samples(r, mint, maxt - 1) {
            // Go's %g, as promtool prints values.
            let mut value = Vec::new();
            wasmfed_model::gofloat::push_g_shortest(&mut value, s.value);
            let value = String::from_utf8(value).unwrap();
            want.push(format!(
                "{{{}}} {value} {}",
                text.join(", "),
                s.timestamp_ms
            ));
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let meta = head.persist_block(dir.path(), mint, maxt).unwrap().unwrap();
    assert_eq!(meta.stats.num_samples as usize, want.len());
    let got = promtool_dump(dir.path());
    want.sort();
    assert_eq!(got.len(), want.len());
    let diff: Vec<_> = got
        .iter()
        .zip(&want)
        .filter(|(a, b)| a != b)
        .take(3)
        .collect();
    assert!(
        diff.is_empty(),
        "promtool dumps other samples than the head holds: {diff:?}"
    );
}
