//! Images: each service's recipe read through hoist-config (the one reader
//! of hoist.toml), built by hoist-imager (cached), then delivered by digest.

use std::path::{Path, PathBuf};

use hoist_cluster::deliver::{Delivered, ImageSource, Loader, Via};
use hoist_config::Stack;
use hoist_imager::{BuildOptions, Built, Recipe};
use serde::Serialize;

use crate::{Error, Result};

/// How images are built.
#[derive(Debug, Clone, Default)]
pub struct BuildSettings {
    /// The build cache (hoist-imager's default when `None`).
    pub cache_dir: Option<PathBuf>,
    /// Pack every layer and run every prepare step again.
    pub no_cache: bool,
}

/// The recipe of `service`, or `None` when it has no (or an empty) image table.
///
/// # Errors
///
/// [`Error::Config`] when the table does not fit, [`Error::Recipe`] when it
/// is not a valid recipe.
pub fn recipe(stack: &Stack, service: &str) -> Result<Option<Recipe>> {
    let table = stack
        .deserialize_image::<toml::Table>(service)
        .map_err(hoist_config::Error::from)?;
    let Some(table) = table.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    Recipe::from_table_with_profile(table, &base_dir(stack), stack.profile.as_deref())
        .map(Some)
        .map_err(|cause| Error::Recipe {
            service: service.to_owned(),
            file: stack.path.clone(),
            cause,
        })
}

/// The stack file's directory, absolute, so the paths in [`Built`] mean the
/// same from anywhere.
pub(crate) fn base_dir(stack: &Stack) -> PathBuf {
    std::path::absolute(stack.dir()).unwrap_or_else(|_| stack.dir().to_path_buf())
}

/// Where `service`'s image is written: `.hoist/images/<service>` next to the stack file.
#[must_use]
pub fn out_dir(stack: &Stack, service: &str) -> PathBuf {
    base_dir(stack).join(".hoist/images").join(service)
}

/// The repository name hoist delivers `service`'s image under: `<project>/<service>`.
#[must_use]
pub fn image_name(stack: &Stack, service: &str) -> String {
    format!("{}/{service}", stack.project)
}

/// Builds `service`'s image from `recipe` into [`out_dir`].
///
/// # Errors
///
/// [`Error::Build`] with the imager's reason.
pub fn build(
    stack: &Stack,
    service: &str,
    recipe: &Recipe,
    settings: &BuildSettings,
    reporter: &dyn hoist_imager::Reporter,
) -> Result<Built> {
    let mut options = BuildOptions::new(service, out_dir(stack, service));
    if let Some(cache) = &settings.cache_dir {
        options.cache_dir.clone_from(cache);
    }
    options.no_cache = settings.no_cache;
    options.revision = git_revision(&base_dir(stack));
    // HOIST_REGISTRY_MIRRORS wins, registry by registry, over [registries].
    options
        .registries
        .add_mirrors_under(&stack.registries.mirror_hosts());
    hoist_imager::build(recipe, &options, reporter).map_err(|cause| Error::Build {
        service: service.to_owned(),
        cause: Box::new(cause),
    })
}

/// What the build step did for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildSummary {
    /// The manifest digest: the image's identity.
    pub digest: String,
    /// Recipe layers packed in this run.
    pub layers_packed: usize,
    /// Recipe layers reused from the cache.
    pub layers_reused: usize,
    /// Prepare steps run.
    pub prepare_run: usize,
    /// Nothing was packed or prepared: every layer came from the cache.
    pub cached: bool,
    /// Uncompressed bytes of the image.
    pub uncompressed_size: u64,
}

impl From<&Built> for BuildSummary {
    fn from(built: &Built) -> Self {
        Self {
            digest: built.manifest_digest.clone(),
            layers_packed: built.work.layers_packed,
            layers_reused: built.work.layers_reused,
            prepare_run: built.work.prepare_run,
            cached: built.work.layers_packed == 0 && built.work.prepare_run == 0,
            uncompressed_size: built.uncompressed_size,
        }
    }
}

/// What the delivery step did for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliverSummary {
    /// The reference the pods run, by digest.
    pub reference: String,
    /// The manifest digest.
    pub digest: String,
    /// Bytes sent (0 when the target had the image).
    pub bytes_sent: u64,
    /// Nothing was sent: the target already had the digest.
    pub skipped: bool,
    /// How it was delivered.
    pub via: Via,
    /// Where, in words.
    pub target: String,
}

/// Delivers the image `built` for `service` through `loader`.
///
/// # Errors
///
/// [`Error::Deliver`] naming the target and the fix.
pub async fn deliver(
    stack: &Stack,
    service: &str,
    built: &Built,
    loader: &dyn Loader,
    reporter: &dyn hoist_imager::Reporter,
) -> Result<DeliverSummary> {
    let failed = |cause| Error::Deliver {
        service: service.to_owned(),
        target: loader.target(),
        cause: Box::new(cause),
    };
    let image = ImageSource {
        layout: built.layout.clone(),
        archive: built.archive.clone(),
        name: image_name(stack, service),
    }
    .open()
    .map_err(failed)?;
    let Delivered {
        digest,
        reference,
        bytes_sent,
        skipped,
        via,
    } = loader.deliver(&image, reporter).await.map_err(failed)?;
    Ok(DeliverSummary {
        reference,
        digest,
        bytes_sent,
        skipped,
        via,
        target: loader.target(),
    })
}

/// The chart values that make the pods run `delivered`: a registry's image
/// by `image.digest`, a loaded one by `image.tag` (derived from the digest)
/// with `pullPolicy: Never`, since no registry has it.
#[must_use]
pub fn image_values(delivered: &DeliverSummary) -> Vec<(String, String)> {
    let (repository, version, key, policy) =
        if let Some((repository, digest)) = delivered.reference.split_once('@') {
            (repository, digest, "image.digest", "IfNotPresent")
        } else {
            let (repository, tag) = delivered
                .reference
                .rsplit_once(':')
                .unwrap_or((delivered.reference.as_str(), ""));
            (repository, tag, "image.tag", "Never")
        };
    vec![
        ("image.repository".to_owned(), repository.to_owned()),
        (key.to_owned(), version.to_owned()),
        ("image.pullPolicy".to_owned(), policy.to_owned()),
    ]
}

/// The short form of a digest for tables: `sha256:` and 12 hex digits.
#[must_use]
pub fn short_digest(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

fn git_revision(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(reference: &str) -> DeliverSummary {
        DeliverSummary {
            reference: reference.to_owned(),
            digest: "sha256:0123456789abcdef".to_owned(),
            bytes_sent: 0,
            skipped: true,
            via: Via::Registry,
            target: "t".to_owned(),
        }
    }

    #[test]
    fn registries_deploy_by_digest_and_loaded_images_by_their_digest_tag() {
        assert_eq!(
            image_values(&delivered("127.0.0.1:5000/p/shop/api@sha256:0123")),
            [
                (
                    "image.repository".to_owned(),
                    "127.0.0.1:5000/p/shop/api".to_owned()
                ),
                ("image.digest".to_owned(), "sha256:0123".to_owned()),
                ("image.pullPolicy".to_owned(), "IfNotPresent".to_owned()),
            ]
        );
        assert_eq!(
            image_values(&delivered("hoist.local/shop/api:0123456789ab")),
            [
                (
                    "image.repository".to_owned(),
                    "hoist.local/shop/api".to_owned()
                ),
                ("image.tag".to_owned(), "0123456789ab".to_owned()),
                ("image.pullPolicy".to_owned(), "Never".to_owned()),
            ]
        );
        assert_eq!(
            short_digest("sha256:0123456789abcdef"),
            "sha256:0123456789ab"
        );
    }
}
