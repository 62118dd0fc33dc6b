//! What a component is, before a node loads it (`wasmfed plugin inspect`): its size, sha256
//! (what a pinned reference names), imports and exports, and for each stage whether the node
//! would accept it there, or why not (a wrong world, an import the sandbox does not give).
//! The answer comes from the same compile, link and export checks a load runs, so it cannot
//! disagree with what a node does.

use super::engine::PluginRuntime;
use super::error::PluginError;
use super::World;

/// Every stage a component may be loaded for.
pub const WORLDS: [World; 4] = [World::Target, World::Series, World::Rule, World::Query];

/// What [`PluginRuntime::inspect`] found.
#[derive(Debug)]
pub struct Inspection {
    pub bytes: usize,
    pub sha256: String,
    /// Imported interfaces (or functions), by name.
    pub imports: Vec<String>,
    /// Exported interfaces (or functions), by name.
    pub exports: Vec<String>,
    /// Each stage, and why the component would be refused there (`None`: accepted).
    pub stages: Vec<(World, Option<String>)>,
}

impl Inspection {
    /// The stages the component would be accepted for.
    pub fn accepted(&self) -> Vec<World> {
        self.stages
            .iter()
            .filter(|(_, refusal)| refusal.is_none())
            .map(|(world, _)| *world)
            .collect()
    }
}

impl PluginRuntime {
    /// Compiles `wasm_bytes` and checks it against every stage, without starting it. Fails
    /// only if it is not a component that compiles.
    pub fn inspect(&self, wasm_bytes: &[u8]) -> Result<Inspection, PluginError> {
        let (sha256, component) = self.compiled(wasm_bytes)?;
        let ty = component.component_type();
        let engine = self.engine();
        let imports = ty
            .imports(engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let exports = ty
            .exports(engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let stages = WORLDS
            .iter()
            .map(|&world| {
                let with_store = matches!(world, World::Rule | World::Query);
                let refusal = self.link(wasm_bytes, world, with_store).err();
                (world, refusal.map(|e| e.to_string()))
            })
            .collect();
        Ok(Inspection {
            bytes: wasm_bytes.len(),
            sha256,
            imports,
            exports,
            stages,
        })
    }
}
