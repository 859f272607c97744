//! `sao plugin new`: writes a self-contained vendor plugin crate (with its own copy of the
//! WIT contract) that builds as-is for `wasm32-wasip2`.

use std::path::Path;

use anyhow::{bail, Context as _};

use crate::plugin::manifest::is_name;

/// The WIT contract, copied into every new plugin.
const WIT: &str = include_str!("../../wit/plugin.wit");
const CARGO_TOML: &str = include_str!("../templates/plugin/Cargo.toml.in");
const LIB_RS: &str = include_str!("../templates/plugin/src/lib.rs.in");
const PLUGIN_TOML: &str = include_str!("../templates/plugin/plugin.toml.in");
const SCHEMA: &str = include_str!("../templates/plugin/config.schema.json");
const README: &str = include_str!("../templates/plugin/README.md.in");

/// Creates plugin `id` in `dir` (which must not exist yet).
pub fn create(id: &str, dir: &Path) -> anyhow::Result<()> {
    if !is_name(id) {
        bail!("plugin id `{id}` must be 1-64 characters of a-z, 0-9 and '-'");
    }
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let fill = |template: &str| {
        template
            .replace("{{id}}", id)
            .replace("{{crate}}", &id.replace('-', "_"))
            .replace("{{sao_version}}", crate::VERSION)
    };
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("src/lib.rs", fill(LIB_RS)),
        ("plugin.toml", fill(PLUGIN_TOML)),
        ("config.schema.json", SCHEMA.to_string()),
        ("README.md", fill(README)),
        ("wit/plugin.wit", WIT.to_string()),
    ];
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("template paths have parents"))?;
        std::fs::write(&path, content)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
