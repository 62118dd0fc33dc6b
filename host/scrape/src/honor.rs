//! Merging a target's labels into the labels of a series it exposed (`honor_labels`).
//!
//! As in Prometheus' `mutateSampleLabels`: with `honor_labels: true` the scraped value wins and a
//! target label is only added where the series lacks it — what a federating node wants. With
//! `false` the target label wins and a clashing scraped label is kept as `exported_<name>`,
//! prefixed again until the name is free; shorter names are resolved first.

use wasmfed_model::Labels;

const EXPORTED_PREFIX: &str = "exported_";

/// Returns the series' labels with the target's public labels merged in.
pub fn merge_target_labels(mut scraped: Labels, target: &Labels, honor_labels: bool) -> Labels {
    if honor_labels {
        for l in target {
            if scraped.get(&l.name).is_none() {
                scraped.set(l.name.clone(), l.value.clone());
            }
        }
        return scraped;
    }
    let exposed = scraped.clone();
    let mut conflicts: Vec<(String, String)> = Vec::new();
    for l in target {
        if let Some(v) = exposed.get(&l.name).filter(|v| !v.is_empty()) {
            conflicts.push((l.name.clone(), v.to_owned()));
        }
        scraped.set(l.name.clone(), l.value.clone());
    }
    conflicts.sort_by_key(|(name, _)| name.len());
    for i in 0..conflicts.len() {
        let mut name = conflicts[i].0.clone();
        loop {
            name = format!("{EXPORTED_PREFIX}{name}");
            let taken = exposed.get(&name).is_some()
                || target.get(&name).is_some()
                || conflicts[..i].iter().any(|(n, _)| *n == name);
            if !taken {
                break;
            }
        }
        conflicts[i].0 = name;
    }
    for (name, value) in conflicts {
        scraped.set(name, value);
    }
    scraped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn table() {
        let target = l(&[("instance", "h:9100"), ("job", "node")]);
        struct Case {
            name: &'static str,
            scraped: Labels,
            honor: bool,
            want: Labels,
        }
        let cases = [
            Case {
                name: "no clash, honor false",
                scraped: l(&[("__name__", "up"), ("cpu", "0")]),
                honor: false,
                want: l(&[
                    ("__name__", "up"),
                    ("cpu", "0"),
                    ("instance", "h:9100"),
                    ("job", "node"),
                ]),
            },
            Case {
                name: "clash, honor false: scraped kept as exported_",
                scraped: l(&[("__name__", "m"), ("job", "app")]),
                honor: false,
                want: l(&[
                    ("__name__", "m"),
                    ("exported_job", "app"),
                    ("instance", "h:9100"),
                    ("job", "node"),
                ]),
            },
            Case {
                name: "clash where exported_ is taken too",
                scraped: l(&[("__name__", "m"), ("job", "a"), ("exported_job", "b")]),
                honor: false,
                want: l(&[
                    ("__name__", "m"),
                    ("exported_exported_job", "a"),
                    ("exported_job", "b"),
                    ("instance", "h:9100"),
                    ("job", "node"),
                ]),
            },
            Case {
                name: "clash, honor true: scraped wins",
                scraped: l(&[("__name__", "m"), ("job", "app")]),
                honor: true,
                want: l(&[("__name__", "m"), ("instance", "h:9100"), ("job", "app")]),
            },
            Case {
                name: "honor true fills what is missing",
                scraped: l(&[("__name__", "m"), ("instance", "leaf")]),
                honor: true,
                want: l(&[("__name__", "m"), ("instance", "leaf"), ("job", "node")]),
            },
            Case {
                name: "empty scraped value is no clash",
                scraped: l(&[("__name__", "m"), ("job", "")]),
                honor: false,
                want: l(&[("__name__", "m"), ("instance", "h:9100"), ("job", "node")]),
            },
        ];
        for c in cases {
            assert_eq!(
                merge_target_labels(c.scraped, &target, c.honor),
                c.want,
                "{}",
                c.name
            );
        }
    }
}
