//! The stat index: how a warm build knows a layer is unchanged without
//! reading its files, as git's index and cargo's fingerprints do.
//!
//! A layer's cache key is a digest of its content (paths, modes and every
//! file's SHA-256), so two checkouts of one tree share layers whatever their
//! modification times. Reading every file to learn that key would cost a
//! warm build as much as packing, so each recipe layer keeps an index of its
//! files' `stat` (size, mtime, ctime, inode, device) and content digests:
//!
//! - a file whose `stat` matches its entry is not read; its digest is the
//!   recorded one. An entry is only trusted when the file's mtime is at
//!   least [`RACY_NS`] older than the build that recorded it: a file written
//!   again within the file system's timestamp granularity after it was read
//!   could otherwise keep its `stat` (git's "racily clean" entries);
//! - a file whose `stat` changed but not its size is hashed (one read), and
//!   a layer whose files all hash to their recorded digests is reused;
//! - a new file, or one whose size changed, means the layer's content did
//!   change: it is packed straight away, in one read per file that also
//!   yields the digests for the key and the index.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::BufReader;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::digest::KeyHasher;
use crate::layer::Walked;
use crate::recipe::Layer;
use crate::{Error, Result};

/// How much older than the recording build a file's mtime must be for its
/// entry to be trusted: above any file system's timestamp granularity that
/// matters here (ext4, xfs, btrfs, overlayfs tick in nanoseconds or jiffies).
const RACY_NS: i128 = 1_000_000_000;

/// What `stat` says about a file, as far as a change shows in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileStat {
    pub(crate) size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    dev: u64,
}

impl FileStat {
    pub(crate) fn of(meta: &fs::Metadata) -> Self {
        Self {
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }

    fn mtime_ns(&self) -> i128 {
        i128::from(self.mtime.0) * 1_000_000_000 + i128::from(self.mtime.1)
    }
}

/// One recipe layer's index.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Index {
    /// When the build that wrote it started walking, in ns since the epoch.
    started_ns: i64,
    /// Image path -> the file's stat and content digest.
    files: BTreeMap<String, (FileStat, String)>,
}

/// The layer's content key, learnt without packing.
pub(crate) struct Keyed {
    pub(crate) key: String,
    pub(crate) digests: BTreeMap<String, String>,
}

/// The time to record for a walk starting now, in ns since the epoch.
pub(crate) fn walk_started() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl Index {
    fn path(cache_dir: &Path, layer: &Layer) -> PathBuf {
        let mut key = KeyHasher::new("hoist-index-v1");
        key.field(&serde_json::to_vec(layer).unwrap_or_default());
        cache_dir
            .join("index")
            .join(format!("{}.json", key.finish()))
    }

    /// The index of `layer` in the cache at `cache_dir` (empty when there is
    /// none, or when `reuse` is false: `--no-cache`).
    pub(crate) fn load(cache_dir: &Path, reuse: bool, layer: &Layer) -> Self {
        if !reuse {
            return Self::default();
        }
        fs::read(Self::path(cache_dir, layer))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// The content key of `walked`, reading only files whose `stat` changed
    /// but not their size (counted in `reads`); `None` when a file is new or
    /// changed size, so the layer must be packed anyway.
    ///
    /// # Errors
    ///
    /// A file to hash cannot be read.
    pub(crate) fn key(&self, walked: &Walked, reads: &mut usize) -> Result<Option<Keyed>> {
        let mut digests = BTreeMap::new();
        let mut to_hash = Vec::new();
        for (path, host, stat) in walked.files() {
            match self.files.get(path) {
                Some((known, digest))
                    if known == stat
                        && known.mtime_ns() + RACY_NS < i128::from(self.started_ns) =>
                {
                    digests.insert(path.to_owned(), digest.clone());
                }
                Some((known, _)) if known.size == stat.size => to_hash.push((path, host)),
                _ => return Ok(None),
            }
        }
        for (path, host) in to_hash {
            let file = File::open(host).map_err(|e| Error::io("read", host, e))?;
            *reads += 1;
            let (digest, _) = crate::digest::sha256_reader(BufReader::new(file))
                .map_err(|e| Error::io("read", host, e))?;
            digests.insert(path.to_owned(), digest);
        }
        Ok(crate::layer::content_key(walked, &digests).map(|key| Keyed { key, digests }))
    }

    /// Records `walked`'s files with their `digests`, as seen by a build
    /// that started walking at `started_ns`; writes only when it changed.
    pub(crate) fn update(
        &self,
        cache_dir: &Path,
        layer: &Layer,
        walked: &Walked,
        digests: &BTreeMap<String, String>,
        started_ns: i64,
    ) -> Result<()> {
        let files: BTreeMap<String, (FileStat, String)> = walked
            .files()
            .filter_map(|(path, _, stat)| {
                Some((path.to_owned(), (*stat, digests.get(path)?.clone())))
            })
            .collect();
        let racy = files
            .values()
            .any(|(stat, _)| stat.mtime_ns() + RACY_NS >= i128::from(self.started_ns));
        if files == self.files && !racy {
            return Ok(());
        }
        let index = Self { started_ns, files };
        crate::base::save(&Self::path(cache_dir, layer), &index)
    }
}
