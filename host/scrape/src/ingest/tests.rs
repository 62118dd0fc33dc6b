use super::*;
use wasmfed_model::{is_stale_nan, Sample};

fn settings(target: &Labels) -> IngestSettings<'_> {
    IngestSettings {
        target_labels: target,
        honor_labels: false,
        honor_timestamps: true,
        sample_limit: 0,
        series_stage: &NO_STAGE,
        known_only: false,
        compat: Compat::V3,
        names: NameRules::default(),
        every_sample: false,
        ha: None,
    }
}

static NO_STAGE: std::sync::LazyLock<GuardedStage> =
    std::sync::LazyLock::new(|| GuardedStage::empty(wasmfed_plugin::World::Series));

fn target() -> Labels {
    Labels::from_pairs([("instance", "h:1"), ("job", "j")])
}

fn only_sample(head: &Head, labels: &[(&str, &str)]) -> Vec<Sample> {
    let labels = Labels::from_pairs(labels.iter().copied());
    let refs = head.select(&[wasmfed_storage::Matcher::new(
        wasmfed_storage::MatchOp::Equal,
        "__name__",
        labels.metric_name(),
    )
    .unwrap()]);
    let r = refs
        .into_iter()
        .find(|r| head.labels(*r).as_ref() == Some(&labels))
        .expect("series exists");
    head.samples(r, i64::MIN, i64::MAX)
}

#[test]
fn steady_scrapes_reuse_series_and_vanished_series_go_stale() {
    let head = Head::new();
    let target = target();
    let mut cache = SeriesCache::default();
    let s = settings(&target);
    let body = b"a 1\nb{x=\"1\"} 2\n";
    let r1 = cache
        .ingest(&head, &s, body, Format::PrometheusText, 1000)
        .unwrap();
    assert_eq!(
        (
            r1.scraped,
            r1.kept,
            r1.appended,
            r1.series_added,
            r1.stale_markers
        ),
        (2, 2, 2, 2, 0)
    );
    let r2 = cache
        .ingest(&head, &s, body, Format::PrometheusText, 2000)
        .unwrap();
    assert_eq!((r2.series_added, r2.stale_markers), (0, 0));
    let r3 = cache
        .ingest(&head, &s, b"a 3\n", Format::PrometheusText, 3000)
        .unwrap();
    assert_eq!((r3.appended, r3.stale_markers), (1, 1));
    assert_eq!(head.num_series(), 2);
    let a = only_sample(
        &head,
        &[("__name__", "a"), ("instance", "h:1"), ("job", "j")],
    );
    assert_eq!(
        a.iter().map(|s| s.value).collect::<Vec<_>>(),
        [1.0, 1.0, 3.0]
    );
    let b = only_sample(
        &head,
        &[
            ("__name__", "b"),
            ("instance", "h:1"),
            ("job", "j"),
            ("x", "1"),
        ],
    );
    assert_eq!(b.len(), 3);
    assert!(is_stale_nan(b[2].value));
    assert_eq!(b[2].timestamp_ms, 3000);
}

#[test]
fn a_parse_error_stores_nothing() {
    let head = Head::new();
    let target = target();
    let mut cache = SeriesCache::default();
    let err = cache
        .ingest(
            &head,
            &settings(&target),
            b"a 1\nb{x=} 2\n",
            Format::PrometheusText,
            1000,
        )
        .unwrap_err();
    assert!(
        matches!(err, IngestError::Parse(ref e) if e.line == 2),
        "{err}"
    );
    assert_eq!(head.num_series(), 0);
}

#[test]
fn failed_scrape_marks_previous_series_stale() {
    let head = Head::new();
    let target = target();
    let mut cache = SeriesCache::default();
    cache
        .ingest(
            &head,
            &settings(&target),
            b"a 1\n",
            Format::PrometheusText,
            1000,
        )
        .unwrap();
    assert_eq!(cache.mark_all_stale(&head, 2000), 1);
    let a = only_sample(
        &head,
        &[("__name__", "a"), ("instance", "h:1"), ("job", "j")],
    );
    assert!(is_stale_nan(a[1].value));
    // Nothing is stale twice.
    assert_eq!(cache.mark_all_stale(&head, 3000), 0);
}

#[test]
fn sample_limit_fails_the_scrape() {
    let head = Head::new();
    let target = target();
    let mut cache = SeriesCache::default();
    let s = IngestSettings {
        sample_limit: 2,
        ..settings(&target)
    };
    let err = cache
        .ingest(&head, &s, b"a 1\nb 2\nc 3\n", Format::PrometheusText, 1000)
        .unwrap_err();
    assert_eq!(
        err,
        IngestError::SampleLimit {
            samples: 3,
            limit: 2
        }
    );
    assert_eq!(head.num_series(), 0);
}

#[test]
fn every_sample_answers_store_each_sample_once_and_their_stale_markers() {
    let head = Head::new();
    let target = target();
    let mut cache = SeriesCache::default();
    let s = IngestSettings {
        every_sample: true,
        ..settings(&target)
    };
    let page = |body: &str, cache: &mut SeriesCache| {
        cache
            .ingest(&head, &s, body.as_bytes(), Format::PrometheusText, 9000)
            .unwrap()
    };
    let first = page(
        "a 1 1000\na 2 2000\nb 5 1000\n# STALE b NaN 2000\n",
        &mut cache,
    );
    assert_eq!((first.appended, first.resent, first.scraped), (4, 0, 4));
    // The leaf sends the newest again with what is new: only the new is stored.
    let second = page("a 2 2000\na 3 3000\n# STALE b NaN 2000\n", &mut cache);
    assert_eq!(
        (second.appended, second.resent, second.out_of_order),
        (1, 2, 0)
    );
    let labels = |name| [("__name__", name), ("instance", "h:1"), ("job", "j")];
    let a: Vec<(i64, f64)> = only_sample(&head, &labels("a"))
        .iter()
        .map(|s| (s.timestamp_ms, s.value))
        .collect();
    assert_eq!(a, [(1000, 1.0), (2000, 2.0), (3000, 3.0)]);
    let b = only_sample(&head, &labels("b"));
    assert!(
        is_stale_nan(b[1].value) && b[1].timestamp_ms == 2000,
        "{b:?}"
    );
    // No marker of the global's own: the leaf's say when series end.
    assert_eq!(page("", &mut cache).stale_markers, 0);
}

#[test]
fn ha_replicas_store_one_copy_without_the_replica_label() {
    let head = Head::new();
    let ha = crate::ha::HaTracker::new(&wasmfed_config::FederationConfig {
        replica_label: "replica".into(),
        failover_timeout: wasmfed_config::Duration::from_millis(50),
        ..Default::default()
    })
    .unwrap();
    let (target_a, target_b) = (
        target(),
        Labels::from_pairs([("instance", "h:2"), ("job", "j")]),
    );
    let (a, b) = (
        IngestSettings {
            honor_labels: true,
            ha: Some(&ha),
            ..settings(&target_a)
        },
        IngestSettings {
            honor_labels: true,
            ha: Some(&ha),
            ..settings(&target_b)
        },
    );
    let (mut cache_a, mut cache_b) = (SeriesCache::default(), SeriesCache::default());
    let scrape = |cache: &mut SeriesCache, s: &IngestSettings<'_>, body: &str| {
        cache
            .ingest(&head, s, body.as_bytes(), Format::PrometheusText, 0)
            .unwrap()
    };
    // Federated series carry their own instance and job (honor_labels keeps them).
    let from = |r: &str, t: i64| {
        format!("m{{cluster=\"eu\",instance=\"x\",job=\"n\",replica=\"{r}\"}} {t} {t}\n")
    };
    assert_eq!(scrape(&mut cache_a, &a, &from("a", 1000)).appended, 1);
    let standby = scrape(&mut cache_b, &b, &from("b", 1001));
    assert_eq!((standby.appended, standby.standby), (0, 1));
    std::thread::sleep(std::time::Duration::from_millis(60)); // a is silent past the timeout
    let took_over = scrape(&mut cache_b, &b, &from("b", 2001));
    assert_eq!((took_over.appended, took_over.took_over.len()), (1, 1));
    assert!(!took_over.rewind, "plain /federate cannot go back");
    let labels = [
        ("__name__", "m"),
        ("cluster", "eu"),
        ("instance", "x"),
        ("job", "n"),
    ];
    let stored = only_sample(&head, &labels);
    let times: Vec<i64> = stored.iter().map(|s| s.timestamp_ms).collect();
    assert_eq!(times, [1000, 2001], "one series, without the replica label");
    // In every-sample mode a take-over drops the answer and asks for it again from further back.
    let every_b = IngestSettings {
        every_sample: true,
        ..b
    };
    std::thread::sleep(std::time::Duration::from_millis(60));
    let back = scrape(
        &mut cache_a,
        &IngestSettings {
            every_sample: true,
            ..a
        },
        &from("a", 3000),
    );
    assert_eq!((back.appended, back.rewind), (0, true));
    assert_eq!(scrape(&mut cache_b, &every_b, &from("b", 3001)).standby, 1);
}

#[test]
fn explicit_timestamps_are_honored_and_not_tracked() {
    let head = Head::new();
    let target = target();
    let mut cache = SeriesCache::default();
    let s = settings(&target);
    cache
        .ingest(&head, &s, b"a 1 500\n", Format::PrometheusText, 1000)
        .unwrap();
    let r = cache
        .ingest(&head, &s, b"", Format::PrometheusText, 2000)
        .unwrap();
    assert_eq!(r.stale_markers, 0);
    let a = only_sample(
        &head,
        &[("__name__", "a"), ("instance", "h:1"), ("job", "j")],
    );
    assert_eq!(
        a,
        [Sample {
            timestamp_ms: 500,
            value: 1.0
        }]
    );
    let ignore = IngestSettings {
        honor_timestamps: false,
        ..settings(&target)
    };
    let mut cache = SeriesCache::default();
    cache
        .ingest(&head, &ignore, b"z 1 500\n", Format::PrometheusText, 9000)
        .unwrap();
    let z = only_sample(
        &head,
        &[("__name__", "z"), ("instance", "h:1"), ("job", "j")],
    );
    assert_eq!(z[0].timestamp_ms, 9000);
}

#[test]
fn out_of_order_samples_are_counted_not_fatal() {
    let head = Head::new();
    let target = target();
    let mut cache = SeriesCache::default();
    let s = settings(&target);
    cache
        .ingest(&head, &s, b"a 1 5000\n", Format::PrometheusText, 6000)
        .unwrap();
    let r = cache
        .ingest(&head, &s, b"a 2 4000\nb 1\n", Format::PrometheusText, 7000)
        .unwrap();
    assert_eq!((r.out_of_order, r.kept, r.appended), (1, 2, 1));
}

#[test]
fn invalid_utf8_is_refused() {
    let head = Head::new();
    let target = target();
    let mut cache = SeriesCache::default();
    let err = cache
        .ingest(
            &head,
            &settings(&target),
            b"a{x=\"\xff\"} 1\n",
            Format::PrometheusText,
            1,
        )
        .unwrap_err();
    assert_eq!(err, IngestError::NotUtf8(5));
}

#[test]
fn known_only_stores_a_scrape_of_known_series_and_gives_up_at_a_new_one() {
    let head = Head::new();
    let target = target();
    let mut cache = SeriesCache::default();
    cache
        .ingest(
            &head,
            &settings(&target),
            b"a 1\nb 2\n",
            Format::PrometheusText,
            1000,
        )
        .unwrap();
    let known_only = IngestSettings {
        known_only: true,
        ..settings(&target)
    };
    let report = cache
        .ingest(
            &head,
            &known_only,
            b"a 3\nb 4\n",
            Format::PrometheusText,
            2000,
        )
        .unwrap();
    assert_eq!((report.scraped, report.cache_hits), (2, 2));
    let err = cache
        .ingest(
            &head,
            &known_only,
            b"a 5\nc 6\n",
            Format::PrometheusText,
            3000,
        )
        .unwrap_err();
    assert_eq!(err, IngestError::NewSeries);
    // Nothing of the refused scrape was stored; the full ingest then stores all of it, and
    // series b (absent from it) ends there, as after any scrape.
    let full = cache
        .ingest(
            &head,
            &settings(&target),
            b"a 5\nc 6\n",
            Format::PrometheusText,
            3000,
        )
        .unwrap();
    assert_eq!((full.series_added, full.stale_markers), (1, 1));
    let a = head.select(&[wasmfed_storage::Matcher::new(
        wasmfed_storage::MatchOp::Equal,
        "__name__",
        "a",
    )
    .unwrap()]);
    let times: Vec<i64> = head
        .samples(a[0], 0, 10_000)
        .iter()
        .map(|s| s.timestamp_ms)
        .collect();
    assert_eq!(times, [1000, 2000, 3000]);
}

#[test]
fn prometheus_3_normalizes_le_and_quantile_of_new_series_only_by_type() {
    let body = b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n\
# TYPE s summary\ns{quantile=\"0.50\"} 3\ns{quantile=\"1\"} 4\n\
# TYPE g gauge\ng{le=\"1\",quantile=\"1\"} 5\n";
    let stored = |compat| {
        let head = Head::new();
        let target = target();
        let s = IngestSettings {
            compat,
            ..settings(&target)
        };
        let mut cache = SeriesCache::default();
        for scrape_ms in [1000, 2000] {
            cache
                .ingest(&head, &s, body, Format::PrometheusText, scrape_ms)
                .unwrap();
        }
        let mut series: Vec<String> = head
            .select(&[wasmfed_storage::Matcher::new(
                wasmfed_storage::MatchOp::NotEqual,
                "__name__",
                "",
            )
            .unwrap()])
            .into_iter()
            .map(|r| {
                let mut labels = head.labels(r).unwrap();
                labels.retain(|l| l.name != "instance" && l.name != "job");
                assert_eq!(head.samples(r, 0, 3000).len(), 2, "{labels}");
                labels.to_string()
            })
            .collect();
        series.sort();
        series
    };
    for (compat, want) in [
        (
            Compat::V2,
            [
                r#"{__name__="g", le="1", quantile="1"}"#,
                r#"{__name__="h_bucket", le="+Inf"}"#,
                r#"{__name__="h_bucket", le="1"}"#,
                r#"{__name__="h_count"}"#,
                r#"{__name__="s", quantile="0.50"}"#,
                r#"{__name__="s", quantile="1"}"#,
            ],
        ),
        (
            Compat::V3,
            [
                r#"{__name__="g", le="1", quantile="1"}"#,
                r#"{__name__="h_bucket", le="+Inf"}"#,
                r#"{__name__="h_bucket", le="1.0"}"#,
                r#"{__name__="h_count"}"#,
                r#"{__name__="s", quantile="0.5"}"#,
                r#"{__name__="s", quantile="1.0"}"#,
            ],
        ),
    ] {
        assert_eq!(stored(compat), want, "{compat:?}");
    }
}

#[test]
fn a_series_left_without_a_valid_name_fails_the_scrape_as_in_prometheus() {
    let named = Labels::from_pairs([("__name__", "x-y"), ("a", "b")]);
    let (utf8, legacy) = (NameValidation::Utf8, NameValidation::Legacy);
    assert_eq!(check_labels(&named, utf8), Ok(()), "3 reads names as UTF-8");
    assert_eq!(
        check_labels(&named, legacy).unwrap_err().to_string(),
        "invalid metric name or label names: {__name__=\"x-y\", a=\"b\"}"
    );
    let nameless = Labels::from_pairs([("a", "b")]);
    assert_eq!(
        check_labels(&nameless, utf8).unwrap_err().to_string(),
        "missing metric name (__name__ label)"
    );
    let bad_label = Labels::from_pairs([("__name__", "m"), ("0a", "b")]);
    assert!(check_labels(&bad_label, legacy).is_err());
    let empty_label_name = Labels::from_pairs([("__name__", "m"), ("", "b")]);
    assert!(check_labels(&empty_label_name, utf8).is_err());
}

#[test]
fn quoted_names_are_stored_as_the_job_allows() {
    let body = "# TYPE \"http.requests\" counter\n{\"http.requests\",\"url.path\"=\"/\"} 1\n";
    let legacy = NameRules {
        validation: NameValidation::Legacy,
        escaping: wasmfed_config::NameEscaping::Underscores,
        quoted: true,
    };
    let target = target();
    for (names, want) in [
        (NameRules::default(), Ok(())),
        (
            legacy,
            Err("invalid metric name or label names: {__name__=\"http.requests\", instance=\"h:1\", job=\"j\", url.path=\"/\"}"),
        ),
        (NameRules::V2, Err("line 1: expected metric name after TYPE")),
    ] {
        let head = Head::new();
        let s = IngestSettings {
            names,
            ..settings(&target)
        };
        let got = SeriesCache::default()
            .ingest(&head, &s, body.as_bytes(), Format::PrometheusText, 1000)
            .map(|_| ())
            .map_err(|e| e.to_string());
        match (got, want) {
            (Ok(()), Ok(())) => {
                let stored = only_sample(
                    &head,
                    &[
                        ("__name__", "http.requests"),
                        ("instance", "h:1"),
                        ("job", "j"),
                        ("url.path", "/"),
                    ],
                );
                assert_eq!(stored.len(), 1);
            }
            (Err(e), Err(want)) => assert!(e.starts_with(want), "{names:?}: {e}"),
            (got, want) => panic!("{names:?}: got {got:?}, want {want:?}"),
        }
    }
}
