//! `sao:plugin/kv`: a plugin-private key-value store in sled, one tree per plugin,
//! flushed to disk before `set` and `delete` return.

use super::sao::plugin::kv::{Error, Host};
use super::PluginState;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Most keys one plugin may store.
pub const MAX_KEYS: usize = 4096;
/// Most bytes (keys + values) one plugin may store.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// Plugin storage: one sled tree per plugin id.
#[derive(Clone)]
pub struct KvStore {
    db: sled::Db,
}

impl KvStore {
    /// Storage in `db`.
    pub fn new(db: sled::Db) -> Self {
        Self { db }
    }

    /// The tree of `plugin`.
    pub fn tree(&self, plugin: &str) -> Result<sled::Tree, Error> {
        self.db
            .open_tree(format!("kv/{plugin}"))
            .map_err(|e| Error::Io(e.to_string()))
    }
}

fn io(e: sled::Error) -> Error {
    Error::Io(e.to_string())
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(Error::InvalidKey);
    }
    Ok(())
}

impl PluginState {
    fn kv_tree(&self) -> Result<sled::Tree, Error> {
        self.services.kv.tree(&self.identity.id)
    }

    /// `set` after the key check: enforces the quotas, writes and flushes.
    fn kv_set(&self, key: String, value: Vec<u8>) -> Result<(), Error> {
        let tree = self.kv_tree()?;
        let (mut keys, mut bytes) = (0usize, 0usize);
        for item in tree.iter() {
            let (k, v) = item.map_err(io)?;
            if k.as_ref() != key.as_bytes() {
                keys += 1;
                bytes += k.len() + v.len();
            }
        }
        if keys + 1 > MAX_KEYS || bytes + key.len() + value.len() > MAX_BYTES {
            return Err(Error::QuotaExceeded);
        }
        tree.insert(key, value).map_err(io)?;
        tree.flush().map_err(io)?;
        Ok(())
    }
}

impl Host for PluginState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        check_key(&key)?;
        self.uncharged(|s| Ok(s.kv_tree()?.get(key).map_err(io)?.map(|v| v.to_vec())))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), Error> {
        check_key(&key)?;
        self.uncharged(|s| s.kv_set(key, value))
    }

    fn delete(&mut self, key: String) -> Result<(), Error> {
        check_key(&key)?;
        self.uncharged(|s| {
            let tree = s.kv_tree()?;
            tree.remove(key).map_err(io)?;
            tree.flush().map_err(io)?;
            Ok(())
        })
    }

    fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, Error> {
        self.uncharged(|s| {
            s.kv_tree()?
                .scan_prefix(prefix)
                .keys()
                .map(|k| {
                    k.map(|k| String::from_utf8_lossy(&k).into_owned())
                        .map_err(io)
                })
                .collect()
        })
    }
}
