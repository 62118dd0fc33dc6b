//! A stage of one scrape job: its plugins applied in the configured order.
//!
//! The output of one plugin is the input of the next, and what one drops the next never sees;
//! the caller gets one entry per original input, as from a single plugin. A set left empty
//! counts as dropped, as in Prometheus (an empty label set after relabeling drops the target
//! or series). What to do when a call fails is the caller's: the target stage keeps the job's
//! previous decisions, the series stage drops the batch's new series; the error names the
//! plugin so it can be logged and counted against it.

use std::sync::Arc;

use wasmfed_model::Labels;

use super::error::PluginError;
use super::instance::Plugin;
use super::World;

/// The plugins of one stage, in order.
#[derive(Clone, Debug)]
pub struct Stage {
    world: World,
    plugins: Vec<Arc<Plugin>>,
}

/// A failed stage call: which plugin failed and how.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin}: {error}")]
pub struct StageError {
    pub plugin: String,
    pub error: PluginError,
}

impl Stage {
    /// Refuses a plugin loaded for another stage.
    pub fn new(world: World, plugins: Vec<Arc<Plugin>>) -> Result<Self, PluginError> {
        if let Some(p) = plugins.iter().find(|p| p.world() != world) {
            return Err(PluginError::WrongWorld(format!(
                "plugin {} was loaded for the {} stage, not the {world} stage",
                p.name(),
                p.world()
            )));
        }
        Ok(Stage { world, plugins })
    }

    pub fn world(&self) -> World {
        self.world
    }

    pub fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    /// Changes whenever one of the plugins is swapped: answers cached under another
    /// generation are stale.
    pub fn generation(&self) -> u64 {
        self.plugins
            .iter()
            .map(|p| p.generation())
            .fold(0, u64::wrapping_add)
    }

    /// Runs `batch` through every plugin; one entry per input, `None` where any plugin dropped
    /// it. With no plugins every input is kept as it is.
    pub fn process(&self, batch: &[Labels]) -> Result<Vec<Option<Labels>>, StageError> {
        let Some((first, rest)) = self.plugins.split_first() else {
            return Ok(batch.iter().cloned().map(Some).collect());
        };
        let mut result = call(first, batch)?;
        for plugin in rest {
            let (positions, kept): (Vec<usize>, Vec<Labels>) = result
                .iter_mut()
                .enumerate()
                .filter_map(|(i, slot)| slot.take().map(|labels| (i, labels)))
                .unzip();
            if kept.is_empty() {
                break;
            }
            for (i, labels) in positions.into_iter().zip(call(plugin, &kept)?) {
                result[i] = labels;
            }
        }
        Ok(result)
    }
}

/// One plugin's answer, with emptied sets turned into drops.
fn call(plugin: &Plugin, batch: &[Labels]) -> Result<Vec<Option<Labels>>, StageError> {
    let answer = plugin.process(batch).map_err(|error| StageError {
        plugin: plugin.name().to_string(),
        error,
    })?;
    Ok(answer
        .into_iter()
        .map(|set| set.filter(|labels| !labels.is_empty()))
        .collect())
}
