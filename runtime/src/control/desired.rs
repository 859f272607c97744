//! Desired configurations: what each target (group or pole) asked of each plugin, kept in
//! sled so the pole applies them at boot, before the network is up.
//!
//! A document's `config` is an RFC 7396 merge patch over the pole's local defaults
//! (`pole.toml`): the site-wide group's patch first, then the configured groups' in order,
//! then the pole's own. A group can set the street-light schedule for a district and one
//! pole can still override a single value. `config: null` withdraws a target's document;
//! it is kept as a tombstone so an older document cannot be replayed in its place.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::topics::Targets;

/// One target's desired configuration of one plugin, as accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DesiredDoc {
    /// The operator's version; only a higher one replaces it.
    pub version: u64,
    /// The merge patch (an object), or null once withdrawn.
    pub config: Value,
    /// The operator key that signed it.
    pub signed_by: Option<String>,
    /// Pole time it was accepted.
    pub accepted_ms: u64,
}

/// What a target's document set, as the reported state lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InForce {
    /// The target (`{site}/{pole}` or `{site}/group/{group}`).
    pub target: String,
    /// The version accepted from it.
    pub version: u64,
}

/// The accepted documents, per plugin and target.
#[derive(Debug, Clone)]
pub struct DesiredStore {
    tree: sled::Tree,
}

fn key(plugin: &str, target: &str) -> Vec<u8> {
    format!("{plugin}\0{target}").into_bytes()
}

impl DesiredStore {
    /// Opens the store in the pole's database.
    pub fn open(db: &sled::Db) -> sled::Result<Self> {
        Ok(Self {
            tree: db.open_tree("control-desired")?,
        })
    }

    /// The document `target` set for `plugin`, if any.
    pub fn get(&self, plugin: &str, target: &str) -> Option<DesiredDoc> {
        let bytes = self.tree.get(key(plugin, target)).ok().flatten()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Stores (and flushes) an accepted document.
    pub fn put(&self, plugin: &str, target: &str, doc: &DesiredDoc) -> sled::Result<()> {
        let bytes = serde_json::to_vec(doc).expect("documents serialise");
        self.tree.insert(key(plugin, target), bytes)?;
        self.tree.flush()?;
        Ok(())
    }

    /// The patches in force for `plugin` from the pole's `targets`, lowest precedence
    /// first; `replacing` stands in for what its target has stored.
    pub fn in_force(
        &self,
        plugin: &str,
        targets: &Targets,
        replacing: Option<(&str, &DesiredDoc)>,
    ) -> Vec<(String, DesiredDoc)> {
        targets
            .all()
            .iter()
            .filter_map(|target| {
                let doc = match replacing {
                    Some((t, doc)) if t == target => Some(doc.clone()),
                    _ => self.get(plugin, target),
                }?;
                (!doc.config.is_null()).then(|| (target.clone(), doc))
            })
            .collect()
    }
}

/// The config that results from applying `patches` (lowest precedence first) to
/// `defaults`, as RFC 7396 merge patches.
pub fn layer(defaults: &Value, patches: &[(String, DesiredDoc)]) -> Value {
    let mut config = defaults.clone();
    for (_, doc) in patches {
        json_patch::merge(&mut config, &doc.config);
    }
    config
}

/// The targets and versions of `patches`, for the reported state.
pub fn sources(patches: &[(String, DesiredDoc)]) -> Vec<InForce> {
    patches
        .iter()
        .map(|(target, doc)| InForce {
            target: target.clone(),
            version: doc.version,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(version: u64, config: Value) -> DesiredDoc {
        DesiredDoc {
            version,
            config,
            signed_by: None,
            accepted_ms: 0,
        }
    }

    #[test]
    fn the_pole_overrides_its_groups_which_override_the_defaults() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = DesiredStore::open(&db).unwrap();
        let targets = Targets::new("ccs", "p1", &["bus-stop".into()]);
        let defaults = json!({ "night-level": 40, "dawn": "06:00", "zones": [1, 2] });
        store
            .put(
                "dimming",
                "ccs/group/all",
                &doc(3, json!({ "night-level": 30, "zones": [3] })),
            )
            .unwrap();
        store
            .put(
                "dimming",
                "ccs/group/bus-stop",
                &doc(1, json!({ "night-level": 50 })),
            )
            .unwrap();
        store
            .put("dimming", "ccs/p1", &doc(9, json!({ "dawn": null })))
            .unwrap();
        // Another plugin's and another pole's documents do not leak in.
        store
            .put("air", "ccs/p1", &doc(1, json!({ "night-level": 1 })))
            .unwrap();
        store
            .put("dimming", "ccs/p2", &doc(1, json!({ "night-level": 2 })))
            .unwrap();

        let patches = store.in_force("dimming", &targets, None);
        assert_eq!(
            layer(&defaults, &patches),
            json!({ "night-level": 50, "zones": [3] })
        );
        assert_eq!(
            serde_json::to_value(sources(&patches)).unwrap(),
            json!([
                { "target": "ccs/group/all", "version": 3 },
                { "target": "ccs/group/bus-stop", "version": 1 },
                { "target": "ccs/p1", "version": 9 }
            ])
        );

        // A withdrawn group document stops counting; a candidate replaces its target's.
        let withdrawn = doc(2, Value::Null);
        let patches = store.in_force(
            "dimming",
            &targets,
            Some(("ccs/group/bus-stop", &withdrawn)),
        );
        assert_eq!(
            layer(&defaults, &patches),
            json!({ "night-level": 30, "zones": [3] })
        );
    }
}
