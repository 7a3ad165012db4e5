//! Base images: scratch, a root filesystem (tar or directory), an OCI image
//! layout or a docker-archive. Their layers land in the blob store as
//! uncompressed tars (a gzipped layer is kept too, as its gzip form for a
//! registry push), each checked by [`crate::untrusted::inspect`], its
//! digests verified and its files scanned for secrets once per machine: the
//! import records are shared by every recipe and service using the base.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use serde::{Deserialize, Serialize};

use crate::blobs::{BlobStore, write_atomic};
use crate::digest::{HashingReader, KeyHasher, sha256};
use crate::layer::{PLAIN_LAYER, PackedLayer};
use crate::recipe::{Base, Copy, Layer};
use crate::scan::BaseFinding;
use crate::untrusted::{DevNodes, Listing, OnEntry, check_stack, inspect};
use crate::{Error, Reporter, Result};

/// Errors reading a base image; each names the image and the entry or file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaseError {
    /// A layer entry is unsafe to accept.
    #[error("{what}: refusing entry `{entry}` {reason}")]
    HostileEntry {
        /// The base and layer.
        what: String,
        /// The entry's path as written in the tar.
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// A layer or archive could not be read.
    #[error("{what}: cannot read: {reason}")]
    Unreadable {
        /// The base and layer.
        what: String,
        /// The underlying error.
        reason: String,
    },
    /// The image's metadata is missing or wrong.
    #[error("base image {what}: {reason}")]
    Invalid {
        /// The base.
        what: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// A base layer in the blob store, with what it holds and what the secret
/// scan found in it (before any recipe's allowlist).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BaseLayer {
    pub(crate) packed: PackedLayer,
    pub(crate) listing: Listing,
    pub(crate) findings: Vec<BaseFinding>,
    /// Imported by this build rather than found in the cache.
    #[serde(skip)]
    pub(crate) fresh: bool,
}

/// The directories of import records. The hoist version is part of the
/// name: a newer scanner's rules must see every base again.
pub(crate) fn records_dir(ctx: &Ctx<'_>, kind: &str) -> PathBuf {
    ctx.cache_dir
        .join(format!("{kind}-v2-{}", env!("CARGO_PKG_VERSION")))
}

/// A loaded base image.
#[derive(Debug, Clone, Default)]
pub(crate) struct BaseImage {
    pub(crate) layers: Vec<BaseLayer>,
    pub(crate) config: Option<ImageConfiguration>,
}

impl BaseImage {
    /// A base of several layers, once they are checked against each other
    /// ([`check_stack`]); `what` names the base in the error.
    pub(crate) fn stacked(
        what: &str,
        layers: Vec<BaseLayer>,
        config: ImageConfiguration,
    ) -> Result<Self> {
        check_stack(what, layers.iter().map(|l| &l.listing))?;
        Ok(Self {
            layers,
            config: Some(config),
        })
    }
}

/// What loading a base needs from the build.
pub(crate) struct Ctx<'a> {
    pub(crate) store: &'a BlobStore,
    pub(crate) cache_dir: &'a Path,
    pub(crate) mtime: u64,
    pub(crate) reporter: &'a dyn Reporter,
    /// False under `--no-cache`: import again.
    pub(crate) reuse: bool,
    pub(crate) registry_auth: &'a crate::RegistryAuth,
    pub(crate) registries: &'a crate::Registries,
}

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    BaseError::Invalid {
        what: what.to_owned(),
        reason: reason.into(),
    }
    .into()
}

/// Loads `base`. Layers met before come from the cache without being read
/// again, with what their import scan found.
///
/// # Errors
///
/// [`BaseError`] for unreadable or hostile input, [`Error::DigestMismatch`]
/// when a blob does not match its digest.
pub(crate) fn load(base: &Base, ctx: &Ctx<'_>) -> Result<BaseImage> {
    match base {
        Base::Scratch => Ok(BaseImage::default()),
        Base::Rootfs(path) if path.is_dir() => rootfs_dir(path, ctx),
        Base::Rootfs(path) => rootfs_tar(path, ctx),
        Base::OciLayout(spec) => oci_layout(spec, ctx),
        Base::DockerArchive(path) => crate::base_archive::docker_archive(path, ctx),
        Base::Registry(reference) => crate::base_registry::registry(reference, ctx),
    }
}

fn cached<T: for<'de> Deserialize<'de>>(ctx: &Ctx<'_>, path: &Path) -> Option<T> {
    if !ctx.reuse {
        return None;
    }
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

pub(crate) fn save<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::io("encode", path, e.into()))?;
    write_atomic(path, &bytes)
}

/// A root filesystem tar becomes one uncompressed layer: its entries are
/// checked and copied with their headers (owners kept, extended headers
/// dropped), device nodes under `dev/` left out. Its cache key is the file's
/// identity (path, size, mtime, inode): hashing a large base on every warm
/// build would cost more than the rest of the build.
fn rootfs_tar(path: &Path, ctx: &Ctx<'_>) -> Result<BaseImage> {
    let what = format!("base {}", path.display());
    let meta = fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
    let mut key = KeyHasher::new("hoist-rootfs-v2");
    key.field(path.as_os_str().as_encoded_bytes())
        .field(&meta.len().to_le_bytes())
        .field(&meta.mtime().to_le_bytes())
        .field(&meta.mtime_nsec().to_le_bytes())
        .field(&meta.ino().to_le_bytes());
    let record = records_dir(ctx, "bases").join(format!("{}.json", key.finish()));
    if let Some(layer) = cached::<BaseLayer>(ctx, &record)
        .filter(|l| ctx.store.holds(&l.packed.digest, l.packed.size))
    {
        return Ok(BaseImage {
            layers: vec![layer],
            config: None,
        });
    }
    let task = ctx
        .reporter
        .on_start(&format!("import {}", path.display()), Some(meta.len()));
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let ((), digest, size) = ctx.store.write_with(|blob| {
        let mut tar = tar::Builder::new(blob);
        inspect(
            BufReader::new(file),
            &what,
            DevNodes::DropUnderDev,
            &mut |entry, data| {
                if entry.path.is_empty() {
                    return Ok(()); // The root directory itself.
                }
                let mut header = entry.header.clone();
                let io_err = |e: io::Error| Error::io("repack", Path::new(entry.path), e);
                match entry.link {
                    Some(link) => tar.append_link(&mut header, entry.path, link),
                    None if header.entry_type().is_dir() => {
                        tar.append_data(&mut header, format!("{}/", entry.path), data)
                    }
                    None => tar.append_data(&mut header, entry.path, data),
                }
                .map_err(io_err)
            },
        )?;
        tar.into_inner()
            .and_then(Write::flush)
            .map_err(|e| Error::io("repack", path, e))
    })?;
    // The second pass reads the new tar from the page cache: listing, diff_id, scan.
    let layer = checked(ctx, &what, &digest, size, PLAIN_LAYER)?;
    ctx.reporter.on_finish(task, "imported");
    save(&record, &layer)?;
    Ok(BaseImage {
        layers: vec![layer],
        config: None,
    })
}

/// A root filesystem directory is packed like a recipe layer (owners
/// normalised to 0:0, which suits a directory made by an unprivileged user),
/// keyed through the same stat index.
fn rootfs_dir(path: &Path, ctx: &Ctx<'_>) -> Result<BaseImage> {
    let layer = Layer {
        name: "base".to_owned(),
        copy: vec![Copy {
            from: path.to_path_buf(),
            to: "/".to_owned(),
        }],
        exclude: Vec::new(),
        owner: None,
        file_mode: None,
        dir_mode: None,
    };
    let started = crate::index::walk_started();
    let walked = crate::layer::walk(&layer)?;
    let index = crate::index::Index::load(ctx.cache_dir, ctx.reuse, &layer);
    let mut reads = 0;
    if let Some(keyed) = index.key(&walked, &mut reads)? {
        let record = records_dir(ctx, "bases").join(format!("{}.json", keyed.key));
        if let Some(layer) = cached::<BaseLayer>(ctx, &record)
            .filter(|l| ctx.store.holds(&l.packed.digest, l.packed.size))
        {
            return Ok(BaseImage {
                layers: vec![layer],
                config: None,
            });
        }
    }
    let scanner = crate::scan::base_scanner();
    let packed = crate::layer::pack(
        &walked,
        "base",
        ctx.mtime,
        ctx.store,
        Some(&scanner),
        ctx.reporter,
    )?;
    let key = crate::layer::content_key(&walked, &packed.digests)
        .expect("packing learns every file's digest");
    index.update(ctx.cache_dir, &layer, &walked, &packed.digests, started)?;
    let passwd = fs::read_to_string(path.join("etc/passwd")).ok();
    let base_layer = BaseLayer {
        listing: Listing {
            files: packed.layer.files.clone(),
            passwd,
            ..Listing::default()
        },
        packed: packed.layer,
        findings: crate::scan::keep(packed.findings),
        fresh: true,
    };
    save(
        &records_dir(ctx, "bases").join(format!("{key}.json")),
        &base_layer,
    )?;
    Ok(BaseImage {
        layers: vec![base_layer],
        config: None,
    })
}

/// `DIR` or `DIR:TAG` (skopeo's `oci:` syntax).
fn split_layout(spec: &str) -> (PathBuf, Option<&str>) {
    match spec.rsplit_once(':') {
        Some((dir, tag)) if !tag.contains('/') && !dir.is_empty() => {
            (PathBuf::from(dir), Some(tag))
        }
        _ => (PathBuf::from(spec), None),
    }
}

fn oci_layout(spec: &str, ctx: &Ctx<'_>) -> Result<BaseImage> {
    let (dir, tag) = split_layout(spec);
    let what = format!("oci:{spec}");
    let layout = BlobStore::new(&dir);
    let index_path = dir.join("index.json");
    let index = ImageIndex::from_file(&index_path).map_err(|e| {
        invalid(
            &what,
            format!("{}: {e}; is it an OCI image layout?", index_path.display()),
        )
    })?;
    let mut candidates: Vec<_> = index
        .manifests()
        .iter()
        .filter(|m| match tag {
            Some(tag) => m
                .annotations()
                .as_ref()
                .and_then(|a| a.get("org.opencontainers.image.ref.name"))
                .is_some_and(|n| n == tag),
            None => true,
        })
        .cloned()
        .collect();
    if candidates.len() != 1 {
        return Err(invalid(
            &what,
            format!(
                "has {} manifests matching; name one with DIR:TAG",
                candidates.len()
            ),
        ));
    }
    let mut descriptor = candidates.remove(0);
    let mut manifest_bytes = read_verified(&layout, descriptor.digest().as_ref(), &what)?;
    if *descriptor.media_type() == MediaType::ImageIndex {
        let nested = ImageIndex::from_reader(&manifest_bytes[..])
            .map_err(|e| invalid(&what, e.to_string()))?;
        descriptor =
            pick_amd64(&nested).ok_or_else(|| invalid(&what, "has no linux/amd64 image"))?;
        manifest_bytes = read_verified(&layout, descriptor.digest().as_ref(), &what)?;
    }
    let manifest = ImageManifest::from_reader(&manifest_bytes[..])
        .map_err(|e| invalid(&what, e.to_string()))?;
    let config_bytes = read_verified(&layout, manifest.config().digest().as_ref(), &what)?;
    let config = ImageConfiguration::from_reader(&config_bytes[..])
        .map_err(|e| invalid(&what, e.to_string()))?;
    let layers = manifest
        .layers()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let digest = d.digest().to_string();
            let path = layout.path(&digest);
            let source = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
            import_layer(
                ctx,
                &format!("{what} layer {}", i + 1),
                source,
                &digest,
                d.media_type().as_ref(),
                config.rootfs().diff_ids().get(i),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    BaseImage::stacked(&what, layers, config)
}

pub(crate) fn pick_amd64(index: &ImageIndex) -> Option<oci_spec::image::Descriptor> {
    index
        .manifests()
        .iter()
        .find(|m| {
            m.platform().as_ref().is_some_and(|p| {
                p.os().to_string() == "linux" && p.architecture().to_string() == "amd64"
            })
        })
        .cloned()
}

fn read_verified(layout: &BlobStore, digest: &str, what: &str) -> Result<Vec<u8>> {
    let bytes = layout.read(digest)?;
    let actual = sha256(&bytes);
    if actual != digest {
        return Err(Error::DigestMismatch {
            what: what.to_owned(),
            expected: digest.to_owned(),
            actual,
        });
    }
    Ok(bytes)
}

/// Copies one layer blob into the store (verifying its digest), then reads
/// it back, checking every entry, scanning its files and computing its
/// `diff_id` ([`checked`]). The result is cached by digest, so a layer is
/// checked and scanned once per machine.
pub(crate) fn import_layer(
    ctx: &Ctx<'_>,
    what: &str,
    source: impl Read,
    digest: &str,
    media_type: &str,
    expected_diff_id: Option<&String>,
) -> Result<BaseLayer> {
    let record =
        records_dir(ctx, "base-layers").join(format!("{}.json", crate::digest::hex_part(digest)));
    if let Some(layer) = cached::<BaseLayer>(ctx, &record)
        .filter(|l| ctx.store.holds(&l.packed.digest, l.packed.size))
    {
        return Ok(layer);
    }
    let size = ctx.store.import(source, digest, what)?;
    let layer = checked(ctx, what, digest, size, media_type)?;
    if let Some(expected) = expected_diff_id
        && *expected != layer.packed.diff_id
    {
        return Err(Error::DigestMismatch {
            what: format!("{what} (diff_id)"),
            expected: expected.clone(),
            actual: layer.packed.diff_id,
        });
    }
    save(&record, &layer)?;
    Ok(layer)
}

/// Copies what is read into `copy` as well.
struct Tee<R, W> {
    inner: R,
    copy: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Checks a stored base layer blob entry by entry and scans its files, in
/// one pass. A gzipped blob is decompressed into the store on the way (the
/// layer an image built on it holds, so local delivery sends it as is) and
/// remembered as that tar's gzip form.
pub(crate) fn checked(
    ctx: &Ctx<'_>,
    what: &str,
    digest: &str,
    size: u64,
    media_type: &str,
) -> Result<BaseLayer> {
    let scanner = crate::scan::base_scanner();
    let mut found = Vec::new();
    let mut scan = |entry: &crate::untrusted::Accepted<'_>, data: &mut dyn Read| {
        if entry.is_content {
            found.extend(
                scanner
                    .scan_reader(&format!("/{}", entry.path), data)
                    .map_err(|e| Error::io("scan", Path::new(entry.path), e))?,
            );
        }
        Ok(())
    };
    let mut layer = if media_type.ends_with("gzip") {
        let path = ctx.store.path(digest);
        let file = BufReader::new(File::open(&path).map_err(|e| Error::io("open", &path, e))?);
        let (listing, plain, plain_size) = ctx.store.write_with(|blob| {
            let mut hashed = HashingReader::new(Tee {
                inner: GzDecoder::new(file),
                copy: blob,
            });
            let listing = inspect(&mut hashed, what, DevNodes::Refuse, &mut scan)?;
            hashed.finish().map_err(|e| Error::io("read", &path, e))?;
            Ok(listing)
        })?;
        crate::gzip::remember(ctx.cache_dir, &plain, digest, size)?;
        BaseLayer {
            packed: PackedLayer {
                digest: plain.clone(),
                diff_id: plain,
                size: plain_size,
                uncompressed_size: plain_size,
                media_type: PLAIN_LAYER.to_owned(),
                files: listing.files.clone(),
            },
            listing,
            findings: Vec::new(),
            fresh: true,
        }
    } else {
        inspect_blob(ctx.store, what, digest, size, media_type, &mut scan)?
    };
    layer.findings = crate::scan::keep(found);
    Ok(layer)
}

/// Reads a stored layer blob (gzip or plain tar), checking every entry and
/// handing each to `on_entry`.
pub(crate) fn inspect_blob(
    store: &BlobStore,
    what: &str,
    digest: &str,
    size: u64,
    media_type: &str,
    on_entry: OnEntry<'_>,
) -> Result<BaseLayer> {
    let path = store.path(digest);
    let file = BufReader::new(File::open(&path).map_err(|e| Error::io("open", &path, e))?);
    let mut raw: Box<dyn Read> = if media_type.ends_with("gzip") {
        Box::new(GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut hashed = HashingReader::new(&mut raw);
    let listing = inspect(&mut hashed, what, DevNodes::Refuse, on_entry)?;
    let (diff_id, uncompressed_size) = hashed.finish().map_err(|e| Error::io("read", &path, e))?;
    Ok(BaseLayer {
        packed: PackedLayer {
            digest: digest.to_owned(),
            diff_id,
            size,
            uncompressed_size,
            media_type: media_type.to_owned(),
            files: listing.files.clone(),
        },
        listing,
        findings: Vec::new(),
        fresh: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_specs_split_at_the_tag() {
        assert_eq!(split_layout("/a/b:v1"), (PathBuf::from("/a/b"), Some("v1")));
        assert_eq!(split_layout("/a/b"), (PathBuf::from("/a/b"), None));
    }
}
