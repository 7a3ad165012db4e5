//! The Dockerfile strategy: the context (with `.dockerignore` applied) goes
//! to a Docker daemon through bollard, and the result comes back with
//! `docker save` as a docker-archive, which then goes through the same
//! pipeline as a native build (scan, budget, OCI layout, docker-archive), so
//! later steps never know which strategy built the image.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::recipe::{Copy, Layer};
use crate::{Error, Reporter, Result};

/// `[dockerfile]` in a recipe: build on a Docker daemon instead of natively.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DockerfileRecipe {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile, relative to the context (default `Dockerfile`).
    #[serde(default)]
    pub file: Option<String>,
    /// Build arguments (`--build-arg`).
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// The stage to build (`--target`).
    #[serde(default)]
    pub target: Option<String>,
}

/// The daemon refused or failed the build.
#[derive(Debug, thiserror::Error)]
#[error("docker build of {context} failed: {message}")]
pub struct DockerBuildError {
    /// The context directory.
    pub context: String,
    /// The daemon's own text, whole.
    pub message: String,
}

fn failed(context: &Path, message: impl Into<String>) -> Error {
    DockerBuildError {
        context: context.display().to_string(),
        message: message.into(),
    }
    .into()
}

/// The context as an uncompressed tar, `.dockerignore` applied.
fn context_tar(context: &Path) -> Result<Vec<u8>> {
    let exclude = crate::ignore::dockerignore(context);
    let layer = Layer {
        name: "context".to_owned(),
        copy: vec![Copy {
            from: context.to_path_buf(),
            to: "/".to_owned(),
        }],
        exclude,
        owner: None,
        file_mode: None,
        dir_mode: None,
    };
    let walked = crate::layer::walk(&layer)?;
    let mut tar = tar::Builder::new(Vec::new());
    crate::layer::append_all(&mut tar, &walked, "context", 0)?;
    tar.into_inner().map_err(|e| Error::io("pack", context, e))
}

/// Builds on the daemon and saves the image as a docker-archive at `archive`.
///
/// # Errors
///
/// [`DockerBuildError`] with the daemon's text when the daemon cannot be
/// reached or the build fails; I/O errors writing the archive.
pub(crate) fn build_and_save(
    recipe: &DockerfileRecipe,
    tag: &str,
    archive: &Path,
    reporter: &dyn Reporter,
) -> Result<()> {
    let context = &recipe.context;
    let body = context_tar(context)?;
    let task = reporter.on_start(&format!("docker build {}", context.display()), None);
    crate::runtime::block_on("docker client", || async {
        let docker = Docker::connect_with_local_defaults()
            .map_err(|e| failed(context, format!("{e}; start dockerd or set DOCKER_HOST")))?
            .negotiate_version()
            .await
            .map_err(|e| failed(context, format!("{e}; start dockerd or set DOCKER_HOST")))?;
        let args: HashMap<String, String> = recipe.args.clone().into_iter().collect();
        let mut options = BuildImageOptionsBuilder::new()
            .dockerfile(recipe.file.as_deref().unwrap_or("Dockerfile"))
            .t(tag)
            .rm(true)
            .forcerm(true)
            .buildargs(&args);
        if let Some(target) = &recipe.target {
            options = options.target(target);
        }
        let mut stream =
            docker.build_image(options.build(), None, Some(bollard::body_full(body.into())));
        let mut steps = 0;
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                        return Err(failed(context, detail));
                    }
                    if info
                        .stream
                        .as_deref()
                        .is_some_and(|s| s.starts_with("Step "))
                    {
                        steps += 1;
                        reporter.on_progress(task, steps);
                    }
                }
                // bollard's Display hides the daemon's text; carry it whole.
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(failed(context, error));
                }
                Err(e) => return Err(failed(context, e.to_string())),
            }
        }
        let temp = crate::blobs::temp_path(archive);
        if let Some(parent) = archive.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(&temp).map_err(|e| Error::io("create", &temp, e))?,
        );
        let mut saved = docker.export_image(tag);
        while let Some(chunk) = saved.next().await {
            let chunk = chunk.map_err(|e| failed(context, format!("docker save {tag}: {e}")))?;
            file.write_all(&chunk)
                .map_err(|e| Error::io("write", &temp, e))?;
        }
        file.into_inner()
            .map_err(|e| Error::io("write", &temp, e.into_error()))?;
        std::fs::rename(&temp, archive).map_err(|e| Error::io("rename", archive, e))?;
        reporter.on_finish(task, "built and saved");
        Ok(())
    })
}
