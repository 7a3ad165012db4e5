//! hoist-imager: daemonless, reproducible OCI image builds.
//!
//! The imager turns an image [`Recipe`] (a base image, layers from host
//! paths, an image config) into an OCI image layout and a docker-archive,
//! without a Docker daemon:
//!
//! - layers are deterministic tars (sorted entries, mtime from
//!   `SOURCE_DATE_EPOCH` or 0, owners normalised), so the same inputs give the
//!   same digest on any checkout;
//! - layers are written once, uncompressed
//!   (`application/vnd.oci.image.layer.v1.tar`, digest = `diff_id`): a Docker
//!   daemon or containerd on the same machine reads them as they are, and
//!   gzip would only be undone there. The gzip form is made only for a
//!   registry push ([`gzip`]), on every core, once per layer (cached by
//!   `diff_id`); both forms are reproducible;
//! - a build cache keyed by each layer's content (paths, modes, each file's
//!   SHA-256; never mtimes) skips unchanged layers with no tar work ([`Work`]
//!   counts what was done). Learning that key does not read the files: a
//!   stat index per layer (size, mtime, ctime, inode, device, as git's index
//!   and cargo's fingerprints use) vouches for unchanged files, a file whose
//!   stat changed is hashed, and a new or resized file sends the layer
//!   straight to packing, which reads each file once for its digest, the
//!   secret scan and the tar. Stat is cheap and content is what an image
//!   holds: the index saves the reads, the content key keeps a fresh
//!   checkout or a touched file from rebuilding anything;
//! - base images come from a registry (anonymous, basic or token auth, with
//!   credentials from the environment or Docker's config and mirrors tried
//!   first; see [`Registries`]), a root filesystem (tar or directory), an OCI layout, a
//!   docker-archive or scratch; their layers are untrusted input and are
//!   checked entry by entry (device nodes under `dev/` of a root filesystem
//!   tar are dropped, anywhere else refused);
//! - a recipe with `[dockerfile]` builds on a Docker daemon instead, and the
//!   result goes through the same scan, budget and outputs;
//! - every file added (base layers included: a file a later layer deletes
//!   still ships in the blob), the config's Env and Labels and the history are
//!   scanned for secrets before anything is written; a base is checked and
//!   scanned once per machine, when it is imported, and shared by every
//!   recipe and service built on it;
//! - layers that need packing are packed in parallel;
//! - size budgets fail the build with the largest layers and files.
//!
//! Long work reports progress through [`Reporter`], which the caller
//! implements (the hoist CLI draws progress bars with it).
//!
//! ```no_run
//! use hoist_imager::{BuildOptions, NoReporter, Recipe, build};
//! let recipe = Recipe::from_toml_str(
//!     r#"
//!     base = { rootfs = "/var/cache/hoist/bases/python.tar" }
//!     [[layers]]
//!     name = "app"
//!     copy = [{ from = "src", to = "/app" }]
//!     [config]
//!     user = "10001"
//!     ports = [8000]
//!     cmd = ["python3", "/app/main.py"]
//!     "#,
//!     std::path::Path::new("."),
//! )?;
//! let options = BuildOptions::new("backend", "out/backend");
//! let built = build(&recipe, &options, &NoReporter)?;
//! println!("{} {}", built.manifest_digest, built.archive.display());
//! # Ok::<(), hoist_imager::Error>(())
//! ```
#![deny(missing_docs)]

mod base;
mod base_archive;
mod base_registry;
mod blobs;
mod budget;
mod build;
pub mod cache;
mod digest;
mod dockerfile;
pub mod gzip;
mod ignore;
mod image_config;
mod index;
mod layer;
mod output;
mod prepare;
pub mod recipe;
mod reference;
pub mod registries;
pub mod report;
mod runtime;
mod scan;
mod sources;
mod untrusted;

use std::path::{Path, PathBuf};

pub use base::BaseError;
pub use budget::BudgetError;
pub use build::{BuildOptions, Built, LayerReport, Work, build};
pub use dockerfile::{DockerBuildError, DockerfileRecipe};
pub use hoist_secrets::{Finding, Rule};
pub use layer::{FileSize, PackedLayer, human};
pub use recipe::{Recipe, RecipeError};
pub use reference::normalized_name;
pub use registries::{Registries, RegistryAuth};
pub use report::{NoReporter, Reporter, TaskId};
pub use scan::SecretsFound;
pub use sources::Sources;

/// Everything that can go wrong in the imager.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The recipe is invalid.
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    /// The base image could not be used.
    #[error(transparent)]
    Base(#[from] BaseError),
    /// Secrets were found in what the image would hold.
    #[error(transparent)]
    Secrets(#[from] SecretsFound),
    /// The Docker daemon failed a Dockerfile build.
    #[error(transparent)]
    Docker(#[from] DockerBuildError),
    /// The image is over its size budget.
    #[error(transparent)]
    Budget(#[from] BudgetError),
    /// A layer could not be packed.
    #[error("layer `{layer}`: {reason}")]
    Layer {
        /// The layer's name.
        layer: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A prepare step failed.
    #[error("prepare step `{run}` failed: {reason}")]
    Prepare {
        /// The command.
        run: String,
        /// Its exit status and the end of its output, or the missing output.
        reason: String,
    },
    /// Content did not hash to the digest it claims.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Which blob.
        what: String,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("read", "write", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The imager's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
