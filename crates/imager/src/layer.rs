//! Layers from host paths: a deterministic tar (sorted entries, fixed mtime,
//! normalised owners, modes kept, no xattrs or atime), stored uncompressed so
//! its digest is its `diff_id` (gzip is made only for a registry push, see
//! [`crate::gzip`]). Packing reads each file once: the bytes are hashed for
//! the cache key, scanned for secrets and tarred in the same pass.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::KeyHasher;
use crate::ignore::Excludes;
use crate::index::FileStat;
use crate::recipe::{Layer, parse_mode, parse_owner};
use crate::{Error, Result};

mod pack;

pub(crate) use pack::{Packed, append_all, pack};

/// One file a layer holds, for size listings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileSize {
    /// The path in the image, without the leading slash.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A packed layer, as stored in the cache and reported in [`crate::Built`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackedLayer {
    /// The blob's digest (the `diff_id`: blobs are uncompressed tars).
    pub digest: String,
    /// The uncompressed tar's digest.
    pub diff_id: String,
    /// The blob's size in bytes.
    pub size: u64,
    /// The uncompressed tar's size in bytes.
    pub uncompressed_size: u64,
    /// The blob's media type.
    pub media_type: String,
    /// Regular files and their sizes (whiteouts as paths with size 0).
    pub files: Vec<FileSize>,
}

/// The media type of the layers a build writes: an uncompressed tar.
pub(crate) const PLAIN_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// The media type of gzipped layers (a registry push; bases that came so).
pub(crate) const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

#[derive(Debug, Clone)]
enum Kind {
    Dir,
    File { host: PathBuf, stat: FileStat },
    Symlink { target: PathBuf },
}

#[derive(Debug, Clone)]
struct Entry {
    kind: Kind,
    mode: u32,
}

/// A layer's entries, walked from the host and ready to key or pack.
#[derive(Debug)]
pub(crate) struct Walked {
    entries: BTreeMap<String, Entry>,
    uid: u64,
    gid: u64,
}

impl Walked {
    /// Total bytes of regular files, for progress.
    pub(crate) fn content_bytes(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match e.kind {
                Kind::File { stat, .. } => stat.size,
                _ => 0,
            })
            .sum()
    }

    /// The regular files: image path, host path and what `stat` said.
    pub(crate) fn files(&self) -> impl Iterator<Item = (&str, &Path, &FileStat)> {
        self.entries.iter().filter_map(|(path, e)| match &e.kind {
            Kind::File { host, stat } => Some((path.as_str(), host.as_path(), stat)),
            _ => None,
        })
    }
}

/// Walks a layer's copies; later copies win where paths collide.
///
/// # Errors
///
/// A missing host path, an unreadable directory, a special file (socket,
/// FIFO, device), or a bad `owner`/mode or exclude pattern.
pub(crate) fn walk(layer: &Layer) -> Result<Walked> {
    let bad = |reason: String| Error::Layer {
        layer: layer.name.clone(),
        reason,
    };
    let (uid, gid) = match &layer.owner {
        Some(owner) => parse_owner(owner).ok_or_else(|| {
            bad(format!(
                "owner `{owner}` is not `uid:gid`; write e.g. \"10001:10001\""
            ))
        })?,
        None => (0, 0),
    };
    let file_mode = mode_option(layer.file_mode.as_deref()).map_err(&bad)?;
    let dir_mode = mode_option(layer.dir_mode.as_deref()).map_err(&bad)?;
    let excludes = Excludes::new(&layer.exclude).map_err(&bad)?;
    let mut entries = BTreeMap::new();
    for copy in &layer.copy {
        let to = copy.to.trim_matches('/').to_owned();
        // Parents of the destination exist in the image, like Docker's COPY.
        let mut parent = String::new();
        for part in to.split('/').filter(|p| !p.is_empty()) {
            if !parent.is_empty() {
                entries.entry(parent.clone()).or_insert(Entry {
                    kind: Kind::Dir,
                    mode: 0o755,
                });
                parent.push('/');
            }
            parent.push_str(part);
        }
        let meta = fs::symlink_metadata(&copy.from).map_err(|e| {
            bad(format!(
                "host path {} cannot be read: {e}",
                copy.from.display()
            ))
        })?;
        let mut walker = Walker {
            entries: &mut entries,
            excludes: &excludes,
            file_mode,
            dir_mode,
            layer: &layer.name,
        };
        if meta.is_dir() {
            walker.dir(&copy.from, "", &to)?;
        } else {
            walker.add(&copy.from, &meta, &to)?;
        }
    }
    Ok(Walked { entries, uid, gid })
}

fn mode_option(text: Option<&str>) -> Result<Option<u32>, String> {
    text.map(|t| {
        parse_mode(t).ok_or_else(|| format!("mode `{t}` is not octal; write e.g. \"0644\""))
    })
    .transpose()
}

struct Walker<'a> {
    entries: &'a mut BTreeMap<String, Entry>,
    excludes: &'a Excludes,
    file_mode: Option<u32>,
    dir_mode: Option<u32>,
    layer: &'a str,
}

impl Walker<'_> {
    fn dir(&mut self, host: &Path, relative: &str, image: &str) -> Result<()> {
        if !image.is_empty() {
            let meta = fs::symlink_metadata(host).map_err(|e| Error::io("stat", host, e))?;
            self.add(host, &meta, image)?;
        }
        let read = fs::read_dir(host).map_err(|e| Error::io("read directory", host, e))?;
        for child in read {
            let child = child.map_err(|e| Error::io("read directory", host, e))?;
            let name = child.file_name().to_string_lossy().into_owned();
            let rel = if relative.is_empty() {
                name.clone()
            } else {
                format!("{relative}/{name}")
            };
            let path = child.path();
            let meta = fs::symlink_metadata(&path).map_err(|e| Error::io("stat", &path, e))?;
            let img = if image.is_empty() {
                name
            } else {
                format!("{image}/{name}")
            };
            if meta.is_dir() {
                if self.excludes.prune(&rel) {
                    continue;
                }
                if self.excludes.excluded(&rel) {
                    // Walk for re-included children without adding the directory itself.
                    self.dir_children_only(&path, &rel, &img)?;
                    continue;
                }
                self.dir(&path, &rel, &img)?;
            } else if !self.excludes.excluded(&rel) {
                self.add(&path, &meta, &img)?;
            }
        }
        Ok(())
    }

    fn dir_children_only(&mut self, host: &Path, relative: &str, image: &str) -> Result<()> {
        let before = self.entries.len();
        self.dir(host, relative, image)?;
        if self.entries.len() == before + 1 {
            self.entries.remove(image);
        }
        Ok(())
    }

    fn add(&mut self, host: &Path, meta: &fs::Metadata, image: &str) -> Result<()> {
        let perm = meta.permissions().mode() & 0o7777;
        let file_type = meta.file_type();
        let entry = if file_type.is_dir() {
            Entry {
                kind: Kind::Dir,
                mode: self.dir_mode.unwrap_or(perm),
            }
        } else if file_type.is_file() {
            Entry {
                kind: Kind::File {
                    host: host.to_path_buf(),
                    stat: FileStat::of(meta),
                },
                mode: self.file_mode.unwrap_or(perm),
            }
        } else if file_type.is_symlink() {
            let target = fs::read_link(host).map_err(|e| Error::io("read link", host, e))?;
            Entry {
                kind: Kind::Symlink { target },
                mode: 0o777,
            }
        } else {
            return Err(Error::Layer {
                layer: self.layer.to_owned(),
                reason: format!(
                    "{} is a socket, FIFO or device; exclude it or copy regular files only",
                    host.display()
                ),
            });
        };
        self.entries.insert(image.to_owned(), entry);
        Ok(())
    }
}

/// The cache key of a layer: every entry's path, kind and mode, each file's
/// content digest (`digests`, by image path), and the owner. Modification
/// times are deliberately left out: they never reach the tar either, so two
/// checkouts of the same tree share their layers.
pub(crate) fn content_key(walked: &Walked, digests: &BTreeMap<String, String>) -> Option<String> {
    let mut key = KeyHasher::new("hoist-layer-v2");
    key.field(&walked.uid.to_le_bytes())
        .field(&walked.gid.to_le_bytes());
    for (path, entry) in &walked.entries {
        key.field(path.as_bytes()).field(&entry.mode.to_le_bytes());
        match &entry.kind {
            Kind::Dir => {
                key.field(b"d");
            }
            Kind::Symlink { target } => {
                key.field(b"l").field(target.as_os_str().as_encoded_bytes());
            }
            Kind::File { stat, .. } => {
                key.field(b"f")
                    .field(digests.get(path)?.as_bytes())
                    .field(&stat.size.to_le_bytes());
            }
        }
    }
    Some(key.finish())
}

/// Bytes as "12.3 MB".
#[must_use]
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;
    use crate::NoReporter;
    use crate::blobs::BlobStore;
    use crate::recipe::Copy;

    fn layer(from: &Path, exclude: &[&str]) -> Layer {
        Layer {
            name: "app".into(),
            copy: vec![Copy {
                from: from.to_path_buf(),
                to: "/srv/app".into(),
            }],
            exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
            owner: None,
            file_mode: None,
            dir_mode: None,
        }
    }

    #[test]
    fn packs_sorted_normalised_entries_with_matching_digests() {
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("b/__pycache__")).unwrap();
        fs::write(src.path().join("b/z.py"), "z").unwrap();
        fs::write(src.path().join("b/__pycache__/z.pyc"), "junk").unwrap();
        fs::write(src.path().join("a.py"), "print(1)").unwrap();
        fs::set_permissions(src.path().join("a.py"), fs::Permissions::from_mode(0o750)).unwrap();
        let long = "d".repeat(120);
        fs::create_dir_all(src.path().join(&long)).unwrap();
        fs::write(src.path().join(&long).join("f.txt"), "long").unwrap();
        std::os::unix::fs::symlink("a.py", src.path().join("link")).unwrap();
        let store_dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(store_dir.path());
        let walked = walk(&layer(src.path(), &["**/__pycache__"])).unwrap();
        let packed = pack(&walked, "app", 42, &store, None, &NoReporter).unwrap();
        assert_eq!(packed.reads, 3, "one read per file");
        let packed_digests = packed.digests;
        let packed = packed.layer;

        let raw = fs::read(store.path(&packed.digest)).unwrap();
        assert_eq!(crate::digest::sha256(&raw), packed.digest);
        assert_eq!(packed.digest, packed.diff_id);
        assert_eq!(raw.len() as u64, packed.size);
        assert_eq!(packed.media_type, PLAIN_LAYER);
        assert_eq!(
            packed_digests["srv/app/a.py"],
            crate::digest::sha256(b"print(1)")
        );
        let mut archive = tar::Archive::new(&raw[..]);
        let listed: Vec<(String, u32, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.uid().unwrap(),
                )
            })
            .collect();
        let names: Vec<&str> = listed.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "srv/",
                "srv/app/",
                "srv/app/a.py",
                "srv/app/b/",
                "srv/app/b/z.py",
                &format!("srv/app/{long}/"),
                &format!("srv/app/{long}/f.txt"),
                "srv/app/link"
            ]
        );
        assert!(listed.iter().all(|l| l.2 == 42 && l.3 == 0));
        assert_eq!(listed[2].1, 0o750);
    }

    #[test]
    fn the_key_ignores_mtimes_and_follows_content() {
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("a"), "one").unwrap();
        let l = layer(src.path(), &[]);
        let store_dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(store_dir.path());
        let key = || {
            let walked = walk(&l).unwrap();
            let packed = pack(&walked, "app", 0, &store, None, &NoReporter).unwrap();
            content_key(&walked, &packed.digests).unwrap()
        };
        let first = key();
        let f = File::options()
            .write(true)
            .open(src.path().join("a"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(key(), first);
        fs::write(src.path().join("a"), "two").unwrap();
        assert_ne!(key(), first);
        assert_eq!(content_key(&walk(&l).unwrap(), &BTreeMap::new()), None);
    }

    #[test]
    fn a_missing_host_path_names_the_layer_and_path() {
        let err = walk(&layer(Path::new("/nonexistent/hoist"), &[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer `app`: host path /nonexistent/hoist cannot be read: No such file or directory (os error 2)"
        );
    }
}
