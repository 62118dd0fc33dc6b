//! C bindings for a plugin world, as `wit-bindgen c` writes them (the same library, at the
//! release that matches the host's component encoder): `<world>.h`, `<world>.c` and
//! `<world>_component_type.o`, the object that carries the world's type into the module so
//! that [`crate::componentize`] knows what the module implements.

use std::path::{Path, PathBuf};

use crate::{io, wit, KitError, Result};

/// The binding files for `world`, by file name.
pub fn c(world: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let (mut resolve, id) = wit::world(world)?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, id, &mut files)
        .map_err(|e| KitError::Bindings {
            world: world.to_owned(),
            why: format!("{e:#}"),
        })?;
    Ok(files
        .iter()
        .map(|(name, bytes)| (name.to_owned(), bytes.to_vec()))
        .collect())
}

/// Writes `world`'s C bindings into `dir` (created if missing); returns the paths written.
pub fn write_c(world: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for (name, bytes) in c(world)? {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_world_gets_header_source_and_type_object() {
        let files = super::c("series-plugin").unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "series_plugin.c",
                "series_plugin.h",
                "series_plugin_component_type.o"
            ]
        );
        let header = String::from_utf8(files[1].1.clone()).unwrap();
        assert!(
            header.contains("bool exports_wasmfed_plugin_series_process("),
            "{header}"
        );
    }
}
