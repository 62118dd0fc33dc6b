//! What every discovery mechanism builds its targets with: Prometheus' label name
//! sanitizing (`strutil.SanitizeLabelName`) for the `__meta_*_label_<name>` labels made from
//! an API's own labels, and target groups made of label sets that each hold their
//! `__address__`, the shape Prometheus' discoverers build.

use wasmfed_config::TargetGroup;
use wasmfed_model::Labels;

pub(super) const ADDRESS: &str = "__address__";

/// Prometheus' `strutil.SanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes
/// `_` (one per character, as Go's regexp replaces runes).
pub(super) fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A group from target label sets that each hold their `__address__`.
pub(super) fn group(source: String, labels: Labels, targets: Vec<Labels>) -> TargetGroup {
    let mut group = TargetGroup {
        targets: Vec::with_capacity(targets.len()),
        target_labels: Vec::with_capacity(targets.len()),
        labels,
        source,
    };
    for mut target in targets {
        group
            .targets
            .push(target.remove(ADDRESS).unwrap_or_default());
        group.target_labels.push(target);
    }
    group
}
