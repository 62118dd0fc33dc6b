//! Applying relabel rules to a label set, as Prometheus' `relabel.Process` does.
//!
//! [`Rules`] is the rule list compiled at `init`: regexes compiled, templates parsed against
//! their regex, so that a call only matches and copies. Rules run in order on one label set; each
//! reads the set as the previous rule left it, and the first rule that drops the set ends it.
//!
//! `labelmap` reads the set as it was when the rule started, in name order, so that of two
//! labels mapped to one name the later in name order wins. Prometheus 2.42 does exactly that;
//! later versions walk their label builder instead, which visits labels added by earlier rules
//! after the original ones (the two differ only when two labels map to one name).

use promregex::CaptureLocations;
use relabel_config::{Action, NameScheme, RelabelConfig};

use crate::case;
use crate::config::{parse_rules, ConfigError};
use crate::labels::LabelSet;
use crate::template::Template;

/// The compiled rule list of one plugin instance.
#[derive(Clone, Debug)]
pub struct Rules {
    rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
struct Rule {
    config: RelabelConfig,
    /// The label names a `replace` may write.
    names: NameScheme,
    /// `target_label` for `replace`, which may hold `$` templates.
    target: Template,
    /// `replacement` for `replace` and `labelmap`.
    replacement: Template,
}

/// Buffers reused from one label set to the next, so that a batch allocates only for the
/// values it writes.
pub struct Scratch {
    joined: String,
    target: String,
    /// One per rule: capture slots sized for that rule's regex.
    locs: Vec<CaptureLocations>,
}

impl Rules {
    /// Reads and compiles the plugin's configuration: a JSON array of Prometheus relabel
    /// configs, or `null` for none.
    pub fn from_json(json: &str) -> Result<Rules, ConfigError> {
        let parsed = parse_rules(json)?;
        Ok(Rules::compile(parsed.rules, parsed.names))
    }

    fn compile(configs: Vec<RelabelConfig>, names: NameScheme) -> Rules {
        let rules = configs
            .into_iter()
            .map(|config| Rule {
                names,
                target: Template::parse(&config.target_label, &config.regex),
                replacement: Template::parse(&config.replacement, &config.regex),
                config,
            })
            .collect();
        Rules { rules }
    }

    pub fn scratch(&self) -> Scratch {
        Scratch {
            joined: String::new(),
            target: String::new(),
            locs: self
                .rules
                .iter()
                .map(|r| r.config.regex.capture_locations())
                .collect(),
        }
    }

    /// Relabels `labels` in place; `false` means the set is dropped.
    pub fn apply(&self, labels: &mut LabelSet, scratch: &mut Scratch) -> bool {
        self.rules
            .iter()
            .zip(&mut scratch.locs)
            .all(|(rule, locs)| rule.apply(labels, &mut scratch.joined, &mut scratch.target, locs))
    }

    /// Relabels one set; `None` means it is dropped.
    pub fn process(&self, mut labels: LabelSet) -> Option<LabelSet> {
        self.apply(&mut labels, &mut self.scratch())
            .then_some(labels)
    }
}

impl Rule {
    fn apply(
        &self,
        labels: &mut LabelSet,
        joined: &mut String,
        target: &mut String,
        locs: &mut CaptureLocations,
    ) -> bool {
        let cfg = &self.config;
        joined.clear();
        for (i, name) in cfg.source_labels.iter().enumerate() {
            if i > 0 {
                joined.push_str(&cfg.separator);
            }
            joined.push_str(labels.get(name));
        }
        let value = joined.as_str();
        match cfg.action {
            Action::Drop => return !cfg.regex.is_match(value),
            Action::Keep => return cfg.regex.is_match(value),
            Action::DropEqual => return labels.get(&cfg.target_label) != value,
            Action::KeepEqual => return labels.get(&cfg.target_label) == value,
            Action::Replace => self.replace(labels, value, target, locs),
            Action::Lowercase => labels.set(&cfg.target_label, case::to_lower(value)),
            Action::Uppercase => labels.set(&cfg.target_label, case::to_upper(value)),
            Action::HashMod => {
                let hash = plugin_sdk::hashmod(value, cfg.modulus);
                labels.set(&cfg.target_label, hash.to_string());
            }
            Action::LabelMap => self.label_map(labels, target, locs),
            Action::LabelDrop => labels.retain_names(|name| !cfg.regex.is_match(name)),
            Action::LabelKeep => labels.retain_names(|name| cfg.regex.is_match(name)),
        }
        true
    }

    fn replace(
        &self,
        labels: &mut LabelSet,
        value: &str,
        target: &mut String,
        locs: &mut CaptureLocations,
    ) {
        let regex = &self.config.regex;
        let (name, replacement) = match (self.target.as_literal(), self.replacement.as_literal()) {
            // Constant templates need to know only whether the regex matched.
            (Some(name), Some(replacement)) => {
                if !regex.is_match(value) {
                    return;
                }
                (name, replacement.to_owned())
            }
            _ => {
                let Some(groups) = regex.captures(value, locs) else {
                    return;
                };
                target.clear();
                self.target.expand_into(&groups, target);
                let mut replacement = String::new();
                self.replacement.expand_into(&groups, &mut replacement);
                (target.as_str(), replacement)
            }
        };
        // The target is checked after expansion: a template may expand to an invalid name, and
        // then the rule does nothing.
        if !self.names.is_valid_label_name(name) {
            return;
        }
        // An empty replacement deletes the target, as `set` does.
        labels.set(name, replacement);
    }

    fn label_map(&self, labels: &mut LabelSet, name: &mut String, locs: &mut CaptureLocations) {
        let regex = &self.config.regex;
        let mapped: Vec<(String, String)> = labels
            .iter()
            .filter_map(|label| {
                let groups = regex.captures(&label.name, locs)?;
                name.clear();
                self.replacement.expand_into(&groups, name);
                Some((name.clone(), label.value.clone()))
            })
            .collect();
        for (name, value) in mapped {
            labels.set(&name, value);
        }
    }
}

#[cfg(test)]
mod tests;
