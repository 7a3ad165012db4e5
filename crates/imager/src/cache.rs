//! The build cache: blobs by digest, and per-layer records keyed by a digest
//! of the layer's inputs. One build at a time holds the cache's lock, so two
//! concurrent builds never see each other's half-written state.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::blobs::BlobStore;
use crate::layer::PackedLayer;
use crate::{Error, Result};

/// An open, locked cache directory.
#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
    store: BlobStore,
    reuse: bool,
    _lock: File,
}

/// A recipe layer's cache record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerRecord {
    pub(crate) packed: PackedLayer,
    /// The allowlist and scanner the layer's files were last cleared under.
    pub(crate) scanned: String,
}

/// `$XDG_CACHE_HOME/hoist`, else `~/.cache/hoist`, else a temp directory.
#[must_use]
pub fn default_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("hoist");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".cache/hoist");
    }
    std::env::temp_dir().join("hoist-cache")
}

impl Cache {
    /// Opens (creating) the cache and waits for its lock. With `reuse`
    /// false (`--no-cache`) nothing is read from it, but results are stored.
    pub(crate) fn open(dir: &Path, reuse: bool) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io("open", &lock_path, e))?;
        lock.lock().map_err(|e| Error::io("lock", &lock_path, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            store: BlobStore::new(dir),
            reuse,
            _lock: lock,
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn store(&self) -> &BlobStore {
        &self.store
    }

    pub(crate) fn reuse(&self) -> bool {
        self.reuse
    }

    fn record_path(&self, kind: &str, key: &str) -> PathBuf {
        self.dir.join(kind).join(format!("{key}.json"))
    }

    /// A layer built before from the same inputs whose blob is still there.
    /// Blobs are only ever written whole and renamed into place under their
    /// digest, so the size is checked, not the hash (see
    /// [`BlobStore::holds`]). A blob of another size (truncated by a crash,
    /// replaced) means a rebuild, never a bad image.
    pub(crate) fn layer(&self, key: &str) -> Option<LayerRecord> {
        if !self.reuse {
            return None;
        }
        let bytes = fs::read(self.record_path("layers-v2", key)).ok()?;
        let record: LayerRecord = serde_json::from_slice(&bytes).ok()?;
        self.store
            .holds(&record.packed.digest, record.packed.size)
            .then_some(record)
    }

    pub(crate) fn put_layer(&self, key: &str, record: &LayerRecord) -> Result<()> {
        crate::base::save(&self.record_path("layers-v2", key), record)
    }

    /// Whether a marker (a prepare step's or a scan's) exists.
    pub(crate) fn marked(&self, kind: &str, key: &str) -> bool {
        self.reuse && self.record_path(kind, key).is_file()
    }

    pub(crate) fn mark(&self, kind: &str, key: &str) -> Result<()> {
        crate::blobs::write_atomic(&self.record_path(kind, key), b"{}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_serialises_two_builds() {
        let dir = tempfile::tempdir().unwrap();
        let first = Cache::open(dir.path(), true).unwrap();
        let path = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _second = Cache::open(&path, true).unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "second build must wait"
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
    }
}
