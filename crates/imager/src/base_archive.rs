//! Base images from a `docker save` archive: `manifest.json` names the
//! config and the layer tars (plain or gzipped) inside the archive.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use oci_spec::image::ImageConfiguration;
use serde::Deserialize;

use crate::base::{BaseImage, Ctx, checked, records_dir, save};
use crate::{BaseError, Error, Result};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveManifest {
    config: String,
    layers: Vec<String>,
}

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    BaseError::Invalid {
        what: what.to_owned(),
        reason: reason.into(),
    }
    .into()
}

fn open(path: &Path) -> Result<tar::Archive<BufReader<File>>> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    Ok(tar::Archive::new(BufReader::new(file)))
}

/// Two passes over the archive: the JSON first (to learn the layer order and
/// `diff_ids`), then the layer tars into the blob store.
pub(crate) fn docker_archive(path: &Path, ctx: &Ctx<'_>) -> Result<BaseImage> {
    let what = format!("docker-archive:{}", path.display());
    let read_err = |e: io::Error| {
        Error::from(BaseError::Unreadable {
            what: what.clone(),
            reason: e.to_string(),
        })
    };
    let mut json = BTreeMap::new();
    for entry in open(path)?.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let name = entry
            .path()
            .map_err(read_err)?
            .to_string_lossy()
            .into_owned();
        // The config may be named `<id>.json` or `blobs/sha256/<hex>`: keep
        // every small entry until manifest.json says which it is.
        if entry.header().size().unwrap_or(u64::MAX) < 4 << 20 {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(read_err)?;
            json.insert(name, bytes);
        }
    }
    let manifest_bytes = json.get("manifest.json").ok_or_else(|| {
        invalid(
            &what,
            "has no manifest.json; is it a `docker save` archive?",
        )
    })?;
    let mut manifests: Vec<ArchiveManifest> = serde_json::from_slice(manifest_bytes)
        .map_err(|e| invalid(&what, format!("manifest.json: {e}")))?;
    if manifests.len() != 1 {
        return Err(invalid(
            &what,
            format!("holds {} images; save exactly one", manifests.len()),
        ));
    }
    let manifest = manifests.remove(0);
    let config_bytes = json
        .get(&manifest.config)
        .ok_or_else(|| invalid(&what, format!("lacks its config {}", manifest.config)))?;
    let config = ImageConfiguration::from_reader(&config_bytes[..])
        .map_err(|e| invalid(&what, e.to_string()))?;
    let diff_ids = config.rootfs().diff_ids().clone();
    if diff_ids.len() != manifest.layers.len() {
        return Err(invalid(
            &what,
            "config and manifest disagree on the number of layers",
        ));
    }

    let mut found = import_layers(path, ctx, &what, &manifest.layers, &diff_ids)?;
    let layers = (0..manifest.layers.len())
        .map(|i| {
            found
                .remove(&i)
                .ok_or_else(|| invalid(&what, format!("lacks layer {}", manifest.layers[i])))
        })
        .collect::<Result<Vec<_>>>()?;
    BaseImage::stacked(&what, layers, config)
}

/// The second pass: each layer tar the manifest names goes into the blob
/// store, checked entry by entry, its `diff_id` compared with the config's.
fn import_layers(
    path: &Path,
    ctx: &Ctx<'_>,
    what: &str,
    names: &[String],
    diff_ids: &[String],
) -> Result<BTreeMap<usize, crate::base::BaseLayer>> {
    let read_err = |e: io::Error| {
        Error::from(BaseError::Unreadable {
            what: what.to_owned(),
            reason: e.to_string(),
        })
    };
    let mut found = BTreeMap::new();
    for entry in open(path)?.entries().map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let name = entry
            .path()
            .map_err(read_err)?
            .to_string_lossy()
            .into_owned();
        let Some(index) = names.iter().position(|l| *l == name) else {
            continue;
        };
        let layer_what = format!("{what} layer {}", index + 1);
        let ((), digest, size) = ctx.store.write_with(|w| {
            let mut entry = entry;
            io::copy(&mut entry, w).map(|_| ()).map_err(read_err)
        })?;
        let mut magic = [0u8; 2];
        let blob = ctx.store.path(&digest);
        let _ = File::open(&blob).and_then(|mut f| f.read_exact(&mut magic));
        let media_type = if magic == [0x1f, 0x8b] {
            crate::layer::GZIP_LAYER
        } else {
            crate::layer::PLAIN_LAYER
        };
        let layer = checked(ctx, &layer_what, &digest, size, media_type)?;
        if layer.packed.diff_id != diff_ids[index] {
            return Err(Error::DigestMismatch {
                what: format!("{layer_what} (diff_id)"),
                expected: diff_ids[index].clone(),
                actual: layer.packed.diff_id,
            });
        }
        let record = records_dir(ctx, "base-layers")
            .join(format!("{}.json", crate::digest::hex_part(&digest)));
        save(&record, &layer)?;
        found.insert(index, layer);
    }
    Ok(found)
}
