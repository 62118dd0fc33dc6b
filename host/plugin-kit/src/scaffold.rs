//! `wasmfed plugin new`: a ready project for a target, series or rule plugin in Rust, C,
//! Python or JavaScript, that builds to a component with one documented command and passes
//! its own fixture. The templates (in `templates/`: one folder per language, the rule
//! plugins' sources and fixture in `rules/`) are filled with the project's name and world;
//! every project vendors wasmfed's WIT: a Rust project inside its copy of the plugin SDK
//! (`wasmfed-guest/`, which generates the bindings), the others in `wit/`; a C project gets
//! its bindings written too, so it needs no generator of its own.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{bindings, guest_sdk, io, wit, KitError, Result};

/// A plugin's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Rust,
    C,
    Python,
    Js,
}

/// The stage a plugin serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Target,
    Series,
    Rules,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::Rust, Lang::C, Lang::Python, Lang::Js];

    fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::C => "c",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    /// The plugin's source for `kind`: (path in the project, text).
    fn source(self, kind: Kind) -> (&'static str, &'static str) {
        let rules = kind == Kind::Rules;
        match self {
            Lang::Rust if rules => ("src/lib.rs", include_str!("../templates/rules/lib.rs")),
            Lang::Rust => ("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
            Lang::C if rules => ("plugin.c", include_str!("../templates/rules/plugin.c")),
            Lang::C => ("plugin.c", include_str!("../templates/c/plugin.c")),
            Lang::Python if rules => ("app.py", include_str!("../templates/rules/app.py")),
            Lang::Python => ("app.py", include_str!("../templates/python/app.py")),
            Lang::Js if rules => ("plugin.js", include_str!("../templates/rules/plugin.js")),
            Lang::Js => ("plugin.js", include_str!("../templates/js/plugin.js")),
        }
    }

    /// The language's build setup and README: (path in the project, text).
    fn setup(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::Rust => &[
                ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
                ("README.md", include_str!("../templates/rust/README.md")),
            ],
            Lang::C => &[
                ("Makefile", include_str!("../templates/c/Makefile")),
                ("README.md", include_str!("../templates/c/README.md")),
            ],
            Lang::Python => &[
                (
                    "requirements.txt",
                    include_str!("../templates/python/requirements.txt"),
                ),
                ("README.md", include_str!("../templates/python/README.md")),
            ],
            Lang::Js => &[
                ("package.json", include_str!("../templates/js/package.json")),
                ("README.md", include_str!("../templates/js/README.md")),
            ],
        }
    }

    /// Where the built component is, from the project's folder.
    fn component(self, vars: &Vars) -> String {
        match self {
            Lang::Rust => format!("target/wasm32-wasip2/release/{}.wasm", vars.crate_name),
            _ => format!("{}.wasm", vars.name),
        }
    }

    /// How to build and test the project, from its folder.
    fn build(self, vars: &Vars) -> String {
        match self {
            Lang::Rust => format!(
                "cargo build --release --target wasm32-wasip2\n\
                 wasmfed plugin test {} --fixture fixture.yml",
                self.component(vars)
            ),
            Lang::C => "make test".to_owned(),
            Lang::Python => format!(
                "pip install -r requirements.txt\n\
                 componentize-py -d wit -w {} componentize app -o {}.wasm\n\
                 wasmfed plugin test {}.wasm --fixture fixture.yml",
                vars.world, vars.name, vars.name
            ),
            Lang::Js => "npm install\nnpm test".to_owned(),
        }
    }
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Target => "target",
            Kind::Series => "series",
            Kind::Rules => "rule",
        }
    }
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Lang, String> {
        Lang::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| format!("unknown language {s:?} (rust, c, python, js)"))
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Kind, String> {
        match s {
            "target" => Ok(Kind::Target),
            "series" => Ok(Kind::Series),
            "rules" | "rule" => Ok(Kind::Rules),
            _ => Err(format!("unknown kind {s:?} (target, series, rules)")),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the templates' `{{...}}` stand for.
struct Vars {
    name: String,
    crate_name: String,
    world: &'static str,
    pairs: Vec<(&'static str, String)>,
}

impl Vars {
    fn new(name: &str, kind: Kind, lang: Lang) -> Vars {
        let (world, interface, label, kept, dropped) = match kind {
            Kind::Target => (
                "target-plugin",
                "targets",
                "__address__",
                r#"'{__address__="a:9100",job="app"}'"#,
                r#"'{__address__="debug_b:9100",job="app"}'"#,
            ),
            Kind::Series => (
                "series-plugin",
                "series",
                "__name__",
                r#"'up{job="app"}'"#,
                r#"'debug_requests_total{job="app"}'"#,
            ),
            Kind::Rules => ("rule-plugin", "rules", "", "", ""),
        };
        let crate_name = name.replace('-', "_");
        let mut vars = Vars {
            name: name.to_owned(),
            crate_name: crate_name.clone(),
            world,
            pairs: Vec::new(),
        };
        let load = load_snippet(kind, lang, &lang.component(&vars), name);
        vars.pairs = vec![
            ("name", name.to_owned()),
            ("crate", crate_name),
            ("kind", kind.name().to_owned()),
            ("item", kind.name().to_owned()),
            ("world", world.to_owned()),
            ("world_c", world.replace('-', "_")),
            ("interface", interface.to_owned()),
            ("Interface", interface[..1].to_uppercase() + &interface[1..]),
            ("label", label.to_owned()),
            ("kept", kept.to_owned()),
            ("dropped", dropped.to_owned()),
            ("load", load),
        ];
        vars
    }

    fn fill(&self, template: &str) -> String {
        let mut text = template.to_owned();
        for (key, value) in &self.pairs {
            text = text.replace(&format!("{{{{{key}}}}}"), value);
        }
        text
    }
}

/// The README's paragraph on loading the plugin into a node.
fn load_snippet(kind: Kind, lang: Lang, component: &str, name: &str) -> String {
    // The C starters take no configuration; the others show theirs.
    let config = match (kind, lang) {
        (_, Lang::C) => String::new(),
        (Kind::Rules, _) => "\n    config: {metric: up}".to_owned(),
        _ => "\n        config: {drop_prefix: debug_}".to_owned(),
    };
    match kind {
        Kind::Rules => format!(
            "Load it as a rule plugin (the path is relative to the config file):\n\n```yaml\n\
             rule_plugins:\n  - file: {component}\n    name: {name}\n    interval: 1m{config}\n```\n"
        ),
        _ => {
            let stem = Path::new(component)
                .file_stem()
                .map_or(name.into(), |s| s.to_string_lossy());
            let which = match kind {
                Kind::Series => " (from the next scrape of `--target INSTANCE` if the job has several)",
                _ => "",
            };
            format!(
                "Load it in a scrape config (the path is relative to the config file):\n\n```yaml\n\
                 scrape_configs:\n  - job_name: app\n    static_configs: [{{targets: ['app:8080']}}]\n    \
                 {kind}_plugins:\n      - file: {component}{config}\n```\n\n\
                 Once it runs, record what the node gives it now{which} and what it answers, as a \
                 further fixture (the node's admin token in `$WASMFED_ADMIN_TOKEN`):\n\n```sh\n\
                 wasmfed plugin record --from http://localhost:9090 --plugin {stem} --job app -o recorded.yml\n\
                 wasmfed plugin test {component} --fixture recorded.yml\n```\n"
            )
        }
    }
}

/// A project written by [`new_project`].
#[derive(Debug)]
pub struct Project {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// The commands that build the component and run its fixture, from `dir`.
    pub build: String,
}

/// Writes a new `kind` plugin project in `lang` as `parent/name`, which must not exist.
pub fn new_project(parent: &Path, name: &str, kind: Kind, lang: Lang) -> Result<Project> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(KitError::BadName(name.to_owned()));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(KitError::Exists(dir));
    }
    let vars = Vars::new(name, kind, lang);
    let mut files = Vec::new();
    let mut write = |path: &str, text: &[u8]| -> Result<()> {
        let path = dir.join(path);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(io(folder))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
        files.push(path);
        Ok(())
    };
    let (source, template) = lang.source(kind);
    write(source, vars.fill(template).as_bytes())?;
    for (path, template) in lang.setup() {
        write(path, vars.fill(template).as_bytes())?;
    }
    let fixture = match kind {
        Kind::Rules => include_str!("../templates/rules/fixture.yml"),
        _ => include_str!("../templates/fixture.yml"),
    };
    write("fixture.yml", vars.fill(fixture).as_bytes())?;
    write(
        ".gitignore",
        include_str!("../templates/gitignore").as_bytes(),
    )?;
    if lang == Lang::Rust {
        for (path, text) in guest_sdk::files() {
            write(&format!("wasmfed-guest/{path}"), text.as_bytes())?;
        }
    } else {
        for (file, text) in wit::FILES {
            write(&format!("wit/{file}"), text.as_bytes())?;
        }
    }
    if lang == Lang::C {
        for (file, bytes) in bindings::c(vars.world)? {
            write(&format!("bindings/{file}"), &bytes)?;
        }
    }
    Ok(Project {
        build: lang.build(&vars),
        dir,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_filled_completely() {
        let parent = tempfile::tempdir().unwrap();
        for lang in Lang::ALL {
            for kind in [Kind::Target, Kind::Series, Kind::Rules] {
                let name = format!("p-{lang}-{kind}");
                let project = new_project(parent.path(), &name, kind, lang).unwrap();
                for file in &project.files {
                    if file.extension().is_some_and(|e| e == "o") {
                        continue;
                    }
                    let text = std::fs::read_to_string(file).unwrap();
                    assert!(
                        !text.contains("{{"),
                        "{} keeps a placeholder",
                        file.display()
                    );
                }
                let fixture = std::fs::read_to_string(project.dir.join("fixture.yml")).unwrap();
                assert!(fixture.contains(&format!("world: {kind}")), "{fixture}");
                // Target and series READMEs say how to record a fixture from a node, naming
                // the plugin as the node does (the component's file stem).
                let readme = std::fs::read_to_string(project.dir.join("README.md")).unwrap();
                let stem = match lang {
                    Lang::Rust => name.replace('-', "_"),
                    _ => name.clone(),
                };
                let record = format!(
                    "wasmfed plugin record --from http://localhost:9090 --plugin {stem} --job app"
                );
                assert_eq!(readme.contains(&record), kind != Kind::Rules, "{readme}");
                // Rust's WIT is the SDK's copy; the other languages' is in `wit/`.
                let sdk = project.dir.join("wasmfed-guest");
                assert_eq!(sdk.join("wit/plugin.wit").exists(), lang == Lang::Rust);
                assert_eq!(project.dir.join("wit").exists(), lang != Lang::Rust);
            }
        }
    }

    #[test]
    fn names_and_existing_folders_are_refused() {
        let parent = tempfile::tempdir().unwrap();
        for bad in ["", "My", "1st", "a b", "../x"] {
            let err = new_project(parent.path(), bad, Kind::Series, Lang::Rust).unwrap_err();
            assert!(matches!(err, KitError::BadName(_)), "{bad}: {err}");
        }
        new_project(parent.path(), "twice", Kind::Series, Lang::Js).unwrap();
        let err = new_project(parent.path(), "twice", Kind::Series, Lang::Js).unwrap_err();
        assert!(matches!(err, KitError::Exists(_)), "{err}");
        assert_eq!("rules".parse::<Kind>(), Ok(Kind::Rules));
        assert!("shard"
            .parse::<Kind>()
            .unwrap_err()
            .contains("target, series, rules"));
        assert!("go"
            .parse::<Lang>()
            .unwrap_err()
            .contains("rust, c, python, js"));
    }
}
