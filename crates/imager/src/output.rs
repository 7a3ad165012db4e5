//! Writes a built image as an OCI image layout directory and as a
//! docker-archive tar (streamed; `docker load`-able, and itself an OCI layout
//! too, as Docker 25 writes them).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use oci_spec::image::{
    Descriptor, DescriptorBuilder, ImageIndexBuilder, MediaType, OciLayoutBuilder,
};
use serde::Serialize;

use crate::blobs::{BlobStore, temp_path};
use crate::digest::hex_part;
use crate::{Error, Result};

/// JSON with sorted keys: oci-spec keeps maps in `HashMap`s, whose order
/// would change the digest from one run to the next.
pub(crate) fn canonical(value: &impl Serialize) -> Vec<u8> {
    let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    serde_json::to_vec(&value).unwrap_or_default()
}

fn descriptor(media_type: MediaType, digest: &str, size: u64) -> Result<DescriptorBuilder> {
    let digest: oci_spec::image::Digest = digest
        .parse()
        .map_err(|e| Error::io("parse digest", Path::new(digest), io::Error::other(e)))?;
    Ok(DescriptorBuilder::default()
        .media_type(media_type)
        .digest(digest)
        .size(size))
}

fn oci_err(path: &Path) -> impl Fn(oci_spec::OciSpecError) -> Error + '_ {
    move |e| Error::io("write", path, io::Error::other(e))
}

/// The manifest's descriptor as `index.json` lists it, with its tag.
pub(crate) fn manifest_descriptor(
    digest: &str,
    size: u64,
    tag: &str,
    out: &Path,
) -> Result<Descriptor> {
    descriptor(MediaType::ImageManifest, digest, size)?
        .annotations([(
            "org.opencontainers.image.ref.name".to_owned(),
            tag.to_owned(),
        )])
        .build()
        .map_err(oci_err(out))
}

/// The `index.json` and `oci-layout` files of a layout holding one image.
pub(crate) fn layout_files(manifest: Descriptor, out: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest])
        .build()
        .map_err(oci_err(out))?;
    let layout = OciLayoutBuilder::default()
        .image_layout_version("1.0.0")
        .build()
        .map_err(oci_err(out))?;
    Ok((canonical(&index), canonical(&layout)))
}

/// What both outputs hold.
pub(crate) struct Image<'a> {
    pub(crate) store: &'a BlobStore,
    pub(crate) manifest: (&'a str, &'a [u8]),
    pub(crate) config: (&'a str, &'a [u8]),
    pub(crate) layers: Vec<&'a str>,
    pub(crate) tag: &'a str,
    pub(crate) reference: &'a str,
}

/// Writes the OCI layout at `dir`; blobs are hard-linked from the cache
/// when the file system allows it. `index.json` is written last, so a reader
/// never sees an index naming a blob that is not there yet.
pub(crate) fn write_layout(dir: &Path, image: &Image<'_>) -> Result<()> {
    let out = BlobStore::new(dir);
    for digest in &image.layers {
        image.store.copy_to(digest, &out)?;
    }
    for (digest, bytes) in [image.config, image.manifest] {
        if !out.has(digest) {
            out.put(bytes)?;
        }
    }
    let descriptor = manifest_descriptor(
        image.manifest.0,
        image.manifest.1.len() as u64,
        image.tag,
        dir,
    )?;
    let (index, layout) = layout_files(descriptor, dir)?;
    crate::blobs::write_atomic(&dir.join("oci-layout"), &layout)?;
    crate::blobs::write_atomic(&dir.join("index.json"), &index)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveManifest<'a> {
    config: String,
    repo_tags: [&'a str; 1],
    layers: Vec<String>,
}

/// Streams the docker-archive to `path` (through a temp file and a rename).
pub(crate) fn write_archive(path: &Path, image: &Image<'_>) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    }
    let temp = temp_path(path);
    let file = File::create(&temp).map_err(|e| Error::io("create", &temp, e))?;
    let result = archive_into(BufWriter::new(file), image, path);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    fs::rename(&temp, path).map_err(|e| Error::io("rename", path, e))
}

fn archive_into(writer: BufWriter<File>, image: &Image<'_>, path: &Path) -> Result<()> {
    let blob_name = |digest: &str| format!("blobs/sha256/{}", hex_part(digest));
    let manifest = [ArchiveManifest {
        config: blob_name(image.config.0),
        repo_tags: [image.reference],
        layers: image.layers.iter().map(|d| blob_name(d)).collect(),
    }];
    // As `docker save` writes it: containerd's `ctr images import` prefers
    // index.json to manifest.json and takes the name from
    // io.containerd.image.name as is, so it is the normalised one, the name
    // containerd gives the same image from manifest.json's RepoTags.
    let descriptor = descriptor(
        MediaType::ImageManifest,
        image.manifest.0,
        image.manifest.1.len() as u64,
    )?
    .annotations([
        (
            "io.containerd.image.name".to_owned(),
            crate::normalized_name(image.reference),
        ),
        (
            "org.opencontainers.image.ref.name".to_owned(),
            image.tag.to_owned(),
        ),
    ])
    .build()
    .map_err(oci_err(path))?;
    let (index, layout) = layout_files(descriptor, path)?;
    let io_err = |e: io::Error| Error::io("write", path, e);
    let mut tar = tar::Builder::new(writer);
    let add = |tar: &mut tar::Builder<_>, name: &str, size: u64, data: &mut dyn io::Read| {
        tar.append_data(&mut entry_header(size), name, data)
            .map_err(io_err)
    };
    add(
        &mut tar,
        "oci-layout",
        layout.len() as u64,
        &mut &layout[..],
    )?;
    add(&mut tar, "index.json", index.len() as u64, &mut &index[..])?;
    let docker_manifest = serde_json::to_vec(&manifest).map_err(|e| io_err(e.into()))?;
    add(
        &mut tar,
        "manifest.json",
        docker_manifest.len() as u64,
        &mut &docker_manifest[..],
    )?;
    add(
        &mut tar,
        &blob_name(image.manifest.0),
        image.manifest.1.len() as u64,
        &mut &image.manifest.1[..],
    )?;
    add(
        &mut tar,
        &blob_name(image.config.0),
        image.config.1.len() as u64,
        &mut &image.config.1[..],
    )?;
    let mut seen = std::collections::BTreeSet::new();
    for digest in &image.layers {
        if !seen.insert(*digest) {
            continue;
        }
        let blob = image.store.path(digest);
        let mut file = File::open(&blob).map_err(|e| Error::io("open", &blob, e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io("stat", &blob, e))?
            .len();
        let mut header = entry_header(size);
        header.set_path(blob_name(digest)).map_err(io_err)?;
        header.set_cksum();
        append_file(tar.get_mut(), &header, &mut file, size).map_err(io_err)?;
    }
    tar.into_inner().map_err(io_err)?.flush().map_err(io_err)
}

/// The header of a regular file in the archive: mode 0644, mtime 0.
fn entry_header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_size(size);
    header
}

/// Appends a file entry as [`tar::Builder::append`] would, but copies the
/// file straight from the file into the archive file: `io::copy` between two
/// files lets the kernel copy the bytes (`copy_file_range`), where the tar
/// writer would pass every 8 KiB through this process. A layer blob is most
/// of an archive, so this is most of writing one.
fn append_file(
    out: &mut BufWriter<File>,
    header: &tar::Header,
    file: &mut File,
    size: u64,
) -> io::Result<()> {
    out.write_all(header.as_bytes())?;
    let copied = io::copy(&mut io::Read::take(file, size), out)?;
    if copied != size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the blob has {copied} bytes, not {size}"),
        ));
    }
    let padding = (512 - size % 512) % 512;
    out.write_all(&[0; 512][..usize::try_from(padding).unwrap_or(0)])
}
