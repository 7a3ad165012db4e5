//! The image to deliver: an OCI image layout and a docker-archive of the same
//! image, read once into the few facts every loader needs.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use sha2::{Digest as _, Sha256};

use super::DeliverError;

/// The repository host of the immutable tags hoist gives images in daemons and
/// containerd. A registry never has this name, so a kubelet never tries to
/// pull such a reference: it only runs what was loaded.
pub const LOCAL_REGISTRY: &str = "hoist.local";

/// How many hex digits of the manifest digest make a daemon tag. Twelve, as
/// Docker abbreviates image IDs: collisions among one user's images are
/// negligible, and the tag stays readable in `kubectl describe`.
const TAG_HEX: usize = 12;

/// Where an image to deliver lives on disk, as the imager writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSource {
    /// An OCI image layout directory holding exactly one image manifest.
    pub layout: PathBuf,
    /// A docker-archive tar (`docker save` format) of the same image.
    pub archive: PathBuf,
    /// The repository name, e.g. `todo/backend` (lower case, no host, no tag).
    pub name: String,
}

/// An [`ImageSource`] that has been read and checked.
#[derive(Debug, Clone)]
pub struct Image {
    /// Where it came from.
    pub source: ImageSource,
    /// The manifest's digest, `sha256:<hex>`: the image's identity.
    pub digest: String,
    /// The manifest exactly as stored, so a registry computes the same digest.
    pub manifest_bytes: Vec<u8>,
    /// The manifest's media type.
    pub media_type: String,
    /// The config blob's descriptor.
    pub config: Descriptor,
    /// The layer blobs' descriptors, bottom first.
    pub layers: Vec<Descriptor>,
    /// The docker-archive's size in bytes.
    pub archive_size: u64,
}

impl ImageSource {
    /// Reads the layout's index and manifest and checks the archive exists.
    ///
    /// # Errors
    ///
    /// [`DeliverError::Source`] naming the file when the name is not a valid
    /// repository name, the layout does not hold exactly one image manifest,
    /// the manifest does not match its digest, or the archive is missing.
    pub fn open(self) -> Result<Image, DeliverError> {
        check_name(&self.name)?;
        let index_path = self.layout.join("index.json");
        if !index_path.is_file() {
            return Err(source_error(
                &self.layout,
                "is not an OCI image layout (it has no index.json); pass the layout directory the image was built into",
            ));
        }
        let index = ImageIndex::from_reader(read_file(&index_path)?.as_slice())
            .map_err(|error| source_error(&index_path, &error.to_string()))?;
        let descriptor = match index.manifests().as_slice() {
            [one] => one.clone(),
            many => {
                return Err(source_error(
                    &index_path,
                    &format!(
                        "holds {} manifests; hoist delivers a layout with exactly one image",
                        many.len()
                    ),
                ));
            }
        };
        let digest = descriptor.digest().to_string();
        let manifest_path = blob_path(&self.layout, &digest);
        let manifest_bytes = read_file(&manifest_path)?;
        let actual = sha256(&manifest_bytes);
        if actual != digest {
            return Err(source_error(
                &manifest_path,
                &format!("has digest {actual}, but index.json says {digest}; rebuild the image"),
            ));
        }
        let manifest = ImageManifest::from_reader(manifest_bytes.as_slice())
            .map_err(|error| source_error(&manifest_path, &error.to_string()))?;
        let media_type = manifest
            .media_type()
            .clone()
            .unwrap_or_else(|| descriptor.media_type().clone());
        let archive_size = std::fs::metadata(&self.archive)
            .map_err(|error| DeliverError::Io {
                action: "read",
                path: self.archive.clone(),
                source: error,
            })?
            .len();
        Ok(Image {
            digest,
            media_type: media_type_string(&media_type),
            config: manifest.config().clone(),
            layers: manifest.layers().clone(),
            manifest_bytes,
            archive_size,
            source: self,
        })
    }
}

impl Image {
    /// The blob file for `digest` (`sha256:<hex>`) in the layout.
    #[must_use]
    pub fn blob(&self, digest: &str) -> PathBuf {
        blob_path(&self.source.layout, digest)
    }

    /// The manifest digest's hex, without the algorithm.
    #[must_use]
    pub fn digest_hex(&self) -> &str {
        self.digest.strip_prefix("sha256:").unwrap_or(&self.digest)
    }

    /// The immutable reference hoist gives the image in a daemon or in
    /// containerd: `hoist.local/<name>:<first 12 hex of the manifest digest>`.
    #[must_use]
    pub fn local_reference(&self) -> String {
        let hex = self.digest_hex();
        format!(
            "{LOCAL_REGISTRY}/{}:{}",
            self.source.name,
            &hex[..TAG_HEX.min(hex.len())]
        )
    }

    /// The config digest, which is also the image ID in Docker's own store.
    #[must_use]
    pub fn config_digest(&self) -> String {
        self.config.digest().to_string()
    }

    /// The sum of the blob sizes (config and layers) named by the manifest.
    #[must_use]
    pub fn blobs_size(&self) -> u64 {
        std::iter::once(&self.config)
            .chain(&self.layers)
            .map(Descriptor::size)
            .sum()
    }

    /// The first `RepoTags` entry of the docker-archive's `manifest.json`:
    /// the name a daemon or containerd gives the image when it loads it.
    ///
    /// # Errors
    ///
    /// [`DeliverError::Source`] when the archive cannot be read or names no tag.
    pub fn archive_tag(&self) -> Result<String, DeliverError> {
        let path = &self.source.archive;
        let file = File::open(path).map_err(|error| DeliverError::Io {
            action: "read",
            path: path.clone(),
            source: error,
        })?;
        let mut archive = tar::Archive::new(file);
        let entries = archive
            .entries_with_seek()
            .map_err(|error| source_error(path, &error.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|error| source_error(path, &error.to_string()))?;
            let is_manifest = entry
                .path()
                .is_ok_and(|name| name.as_os_str() == "manifest.json");
            if !is_manifest {
                continue;
            }
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|error| source_error(path, &error.to_string()))?;
            let parsed: Vec<ArchiveEntry> = serde_json::from_str(&text)
                .map_err(|error| source_error(path, &format!("manifest.json: {error}")))?;
            return parsed
                .into_iter()
                .flat_map(|entry| entry.repo_tags)
                .next()
                .ok_or_else(|| {
                    source_error(
                        path,
                        "manifest.json names no RepoTags; write the archive with a name:tag",
                    )
                });
        }
        Err(source_error(
            path,
            "has no manifest.json; it is not a docker-archive",
        ))
    }
}

#[derive(serde::Deserialize)]
struct ArchiveEntry {
    #[serde(rename = "RepoTags", default)]
    repo_tags: Vec<String>,
}

fn media_type_string(media_type: &MediaType) -> String {
    media_type.to_string()
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    layout.join("blobs").join(algorithm).join(hex)
}

fn read_file(path: &Path) -> Result<Vec<u8>, DeliverError> {
    std::fs::read(path).map_err(|error| DeliverError::Io {
        action: "read",
        path: path.to_owned(),
        source: error,
    })
}

fn source_error(path: &Path, reason: &str) -> DeliverError {
    DeliverError::Source {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Repository names as the distribution spec allows them: lower-case
/// alphanumeric components separated by `.`, `_`, `__`, `-` or `/`.
fn check_name(name: &str) -> Result<(), DeliverError> {
    let valid_component = |component: &str| {
        !component.is_empty()
            && component.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && component.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && component
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    };
    if name.split('/').all(valid_component) {
        Ok(())
    } else {
        Err(DeliverError::Name {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_distribution_grammar() {
        for good in ["backend", "todo/backend", "a.b-c_d/e2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Backend", "todo//x", "-x", "x:latest", "x/"] {
            let error = check_name(bad).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "{bad:?} is not a valid image name: use lower-case letters, digits and . _ - separated by /"
                )
            );
        }
    }

    fn open_in(dir: &Path) -> DeliverError {
        ImageSource {
            layout: dir.to_owned(),
            archive: dir.join("image.tar"),
            name: "app".into(),
        }
        .open()
        .unwrap_err()
    }

    #[test]
    fn a_directory_without_index_json_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let error = open_in(dir.path());
        assert_eq!(
            error.to_string(),
            format!(
                "cannot deliver {}: is not an OCI image layout (it has no index.json); pass the layout directory the image was built into",
                dir.path().display()
            )
        );
    }

    #[test]
    fn a_layout_with_two_manifests_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let descriptor = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", "a".repeat(64)),
            "size": 2
        });
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [descriptor, descriptor]
        });
        std::fs::write(dir.path().join("index.json"), index.to_string()).unwrap();
        let error = open_in(dir.path());
        assert_eq!(
            error.to_string(),
            format!(
                "cannot deliver {}: holds 2 manifests; hoist delivers a layout with exactly one image",
                dir.path().join("index.json").display()
            )
        );
    }

    #[test]
    fn a_tampered_manifest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let claimed = format!("sha256:{}", "b".repeat(64));
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": claimed,
                "size": 2
            }]
        });
        std::fs::write(dir.path().join("index.json"), index.to_string()).unwrap();
        let blobs = dir.path().join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::write(blobs.join("b".repeat(64)), "{}").unwrap();
        let error = open_in(dir.path());
        assert_eq!(
            error.to_string(),
            format!(
                "cannot deliver {}: has digest {}, but index.json says {claimed}; rebuild the image",
                blobs.join("b".repeat(64)).display(),
                sha256(b"{}")
            )
        );
    }
}
