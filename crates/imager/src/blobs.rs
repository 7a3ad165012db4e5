//! A content-addressed blob store (`<root>/blobs/sha256/<hex>`), written
//! atomically: a blob appears under its name only once complete and verified.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::{HashingWriter, hex_part, sha256_reader};
use crate::{Error, Result};

/// Blobs by digest under one directory.
#[derive(Debug, Clone)]
pub(crate) struct BlobStore {
    root: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// How much a blob writer gathers before hashing and writing it: a tar
/// writer hands over 512-byte headers and 8 KiB pieces of file data, and a
/// system call and a hash update for each cost more than the copy into
/// this buffer (a 24 MB layer took over 3000 `write` calls with 8 KiB).
const WRITE_BUFFER: usize = 1 << 20;

/// What [`BlobStore::write_with`] hands its closure: bytes are gathered,
/// then hashed and written in large pieces.
pub(crate) type BlobWriter = BufWriter<HashingWriter<File>>;

/// A unique temporary path next to `path`, for write-then-rename.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `bytes` to `path` atomically (temp file, then rename).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    }
    let temp = temp_path(path);
    fs::write(&temp, bytes).map_err(|e| Error::io("write", &temp, e))?;
    fs::rename(&temp, path).map_err(|e| Error::io("rename", path, e))
}

impl BlobStore {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub(crate) fn path(&self, digest: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex_part(digest))
    }

    pub(crate) fn has(&self, digest: &str) -> bool {
        self.path(digest).is_file()
    }

    /// Whether the store has `digest` with `size` bytes: the cheap check a
    /// record is trusted by before reuse (blobs are not synced, see
    /// [`BlobStore::write_with`]). Re-hashing every reused layer would cost a
    /// warm build more than the rest of it.
    pub(crate) fn holds(&self, digest: &str, size: u64) -> bool {
        fs::metadata(self.path(digest)).is_ok_and(|m| m.is_file() && m.len() == size)
    }

    /// Streams a new blob through `write`, hashing as it goes, and files it
    /// under its digest. Returns what `write` returned, the digest and size.
    ///
    /// The blob is not synced to disk before the rename: the store is a
    /// cache, and every reader checks what it takes from it (a layer record
    /// only holds while its blob has the recorded size, see
    /// [`crate::cache::Cache::layer`]; an import hashes what it finds). A crash
    /// leaves at worst a shorter blob, which those checks turn into a
    /// rebuild. An `fsync` of each new layer cost a cold build tens of
    /// milliseconds per 25 MB on the machines measured in BENCHMARKS.md.
    pub(crate) fn write_with<T>(
        &self,
        write: impl FnOnce(&mut BlobWriter) -> Result<T>,
    ) -> Result<(T, String, u64)> {
        let dir = self.root.join("blobs/sha256");
        fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        let temp = temp_path(&dir.join("blob"));
        let file = File::create(&temp).map_err(|e| Error::io("create", &temp, e))?;
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, HashingWriter::new(file));
        let result = write(&mut writer).and_then(|value| {
            writer
                .flush()
                .map_err(|e| Error::io("write", &temp, e))
                .map(|()| value)
        });
        let value = match result {
            Ok(value) => value,
            Err(error) => {
                let _ = fs::remove_file(&temp);
                return Err(error);
            }
        };
        let hashing = writer
            .into_inner()
            .map_err(|e| Error::io("write", &temp, e.into_error()))?;
        let (file, digest, size) = hashing.finish();
        drop(file);
        let path = self.path(&digest);
        fs::rename(&temp, &path).map_err(|e| Error::io("rename", &path, e))?;
        Ok((value, digest, size))
    }

    /// Stores bytes as a blob and returns the digest.
    pub(crate) fn put(&self, bytes: &[u8]) -> Result<String> {
        let ((), digest, _) = self.write_with(|w| {
            w.write_all(bytes)
                .map_err(|e| Error::io("write", Path::new("blob"), e))
        })?;
        Ok(digest)
    }

    /// Copies `reader` into the store, failing unless it hashes to `expected`.
    pub(crate) fn import(&self, reader: impl Read, expected: &str, what: &str) -> Result<u64> {
        if self.has(expected) {
            self.verify(expected, what)?;
            return Ok(fs::metadata(self.path(expected))
                .map_err(|e| Error::io("stat", &self.path(expected), e))?
                .len());
        }
        let mut reader = reader;
        let dir = self.root.join("blobs/sha256");
        fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        let temp = temp_path(&dir.join("import"));
        let file = File::create(&temp).map_err(|e| Error::io("create", &temp, e))?;
        let mut writer = HashingWriter::new(BufWriter::new(file));
        io::copy(&mut reader, &mut writer).map_err(|e| Error::io("read", Path::new(what), e))?;
        let (inner, digest, size) = writer.finish();
        drop(
            inner
                .into_inner()
                .map_err(|e| Error::io("write", &temp, e.into_error()))?,
        );
        if digest != expected {
            let _ = fs::remove_file(&temp);
            return Err(Error::DigestMismatch {
                what: what.to_owned(),
                expected: expected.to_owned(),
                actual: digest,
            });
        }
        let path = self.path(expected);
        fs::rename(&temp, &path).map_err(|e| Error::io("rename", &path, e))?;
        Ok(size)
    }

    /// Re-hashes a stored blob; a corrupted one is removed and reported.
    pub(crate) fn verify(&self, digest: &str, what: &str) -> Result<()> {
        let path = self.path(digest);
        let file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        let (actual, _) =
            sha256_reader(io::BufReader::new(file)).map_err(|e| Error::io("read", &path, e))?;
        if actual != digest {
            let _ = fs::remove_file(&path);
            return Err(Error::DigestMismatch {
                what: what.to_owned(),
                expected: digest.to_owned(),
                actual,
            });
        }
        Ok(())
    }

    /// Makes `digest` available in `other` (a hard link when possible). A
    /// blob `other` has with another size than this store's is replaced: a
    /// hard link to a blob a crash left short stays short after the store
    /// rebuilt its own.
    pub(crate) fn copy_to(&self, digest: &str, other: &BlobStore) -> Result<()> {
        let target = other.path(digest);
        let source = self.path(digest);
        let size = fs::metadata(&source)
            .map_err(|e| Error::io("stat", &source, e))?
            .len();
        if other.holds(digest, size) {
            return Ok(());
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        let temp = temp_path(&target);
        if fs::hard_link(&source, &temp).is_err() {
            fs::copy(&source, &temp).map_err(|e| Error::io("copy", &source, e))?;
        }
        fs::rename(&temp, &target).map_err(|e| Error::io("rename", &target, e))
    }

    pub(crate) fn read(&self, digest: &str) -> Result<Vec<u8>> {
        let path = self.path(digest);
        fs::read(&path).map_err(|e| Error::io("read", &path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_refuses_content_that_does_not_match_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path());
        let digest = store.put(b"one").unwrap();
        assert!(store.has(&digest));
        let err = store
            .import(
                &b"two"[..],
                &crate::digest::sha256(b"three"),
                "layer 1 of base x",
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("layer 1 of base x: digest mismatch: expected sha256:"),
            "{err}"
        );
        assert_eq!(
            fs::read_dir(dir.path().join("blobs/sha256"))
                .unwrap()
                .count(),
            1
        );
    }

    #[test]
    fn verify_removes_a_corrupted_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path());
        let digest = store.put(b"one").unwrap();
        fs::write(store.path(&digest), b"tampered").unwrap();
        assert!(store.verify(&digest, "cached layer").is_err());
        assert!(!store.has(&digest));
    }
}
