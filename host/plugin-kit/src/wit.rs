//! wasmfed's WIT package, as this binary was built with it. Projects vendor these files (so a
//! plugin builds against exactly the contract of the node that will check it), and the C
//! bindings are generated from them.

use wit_parser::{Resolve, SourceMap, WorldId};

use crate::{KitError, Result};

/// The package's files, by name.
pub const FILES: [(&str, &str); 2] = [
    ("plugin.wit", include_str!("../../../wit/plugin.wit")),
    ("rules.wit", include_str!("../../../wit/rules.wit")),
];

/// The package resolved, and the world named `world` in it.
pub fn world(world: &str) -> Result<(Resolve, WorldId)> {
    let mut sources = SourceMap::new();
    for (name, text) in FILES {
        sources.push_str(name, text);
    }
    let group = sources
        .parse()
        .map_err(|(_, e)| KitError::Wit(e.to_string()))?;
    let mut resolve = Resolve::default();
    let package = resolve
        .push_group(group)
        .map_err(|e| KitError::Wit(e.to_string()))?;
    let id = resolve.packages[package]
        .worlds
        .get(world)
        .copied()
        .ok_or_else(|| {
            let names: Vec<&str> = resolve.packages[package]
                .worlds
                .keys()
                .map(String::as_str)
                .collect();
            KitError::NoWorld(world.to_owned(), names.join(", "))
        })?;
    Ok((resolve, id))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_plugin_world_resolves_and_others_are_named() {
        for world in [
            "target-plugin",
            "series-plugin",
            "relabel-plugin",
            "rule-plugin",
            "promql-plugin",
        ] {
            super::world(world).unwrap();
        }
        let err = super::world("shard-plugin").unwrap_err().to_string();
        assert!(
            err.contains("no world \"shard-plugin\"") && err.contains("series-plugin"),
            "{err}"
        );
    }
}
