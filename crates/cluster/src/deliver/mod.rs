//! Image delivery: putting a built image where a cluster can run it, sending
//! only what the target lacks, and naming it by digest.
//!
//! Four [`Loader`]s share one contract: ask the target whether it already has
//! the image's digest (then send nothing), otherwise stream the image from
//! disk, and return the reference to run it by, which never is a reused
//! mutable tag. A daemon or containerd on the machine gets the layers
//! uncompressed as the build wrote them (it would only decompress gzip
//! again); only a registry push compresses:
//!
//! - [`DaemonLoader`]: a Docker daemon (the local one, Minikube's over TCP and
//!   TLS, Docker Desktop's); the image is tagged `hoist.local/<name>:<hex12>`
//!   (see [`Image::local_reference`]).
//! - [`ContainerdLoader`]: containerd inside a node container (kind, k3d,
//!   Minikube with containerd), through `ctr` in a Docker exec; same tag.
//! - [`RegistryLoader`]: an OCI registry; the image's gzip form (made once
//!   per layer, see [`hoist_imager::gzip`]) is pushed and referenced as
//!   `repo@sha256:...` (the gzip manifest's digest).
//! - [`MinikubeCliLoader`]: `minikube image load`, the last resort.
//!
//! ```no_run
//! # async fn example() -> hoist_cluster::Result<()> {
//! use hoist_cluster::deliver::{self, Destination, ImageSource};
//! use hoist_cluster::docker::DockerEndpoint;
//! use hoist_cluster::env::Environment;
//!
//! let image = ImageSource {
//!     layout: "build/api/oci".into(),
//!     archive: "build/api/image.tar".into(),
//!     name: "todo/api".into(),
//! }
//! .open()?;
//! let endpoint = DockerEndpoint::from_env(&Environment::current());
//! let loader = deliver::open(Destination::Daemon(endpoint)).await?;
//! let delivered = loader.deliver(&image, &hoist_imager::NoReporter).await?;
//! assert!(delivered.reference.starts_with("hoist.local/todo/api:"));
//! # Ok(()) }
//! ```

mod containerd;
mod daemon;
mod error;
mod minikube;
mod open;
mod progress;
mod registry;
mod retry;
mod source;

use futures::future::BoxFuture;
use hoist_imager::Reporter;
use serde::Serialize;

pub use containerd::ContainerdLoader;
pub use daemon::DaemonLoader;
pub use error::DeliverError;
pub use minikube::MinikubeCliLoader;
pub use open::{Destination, open};
pub use registry::{RegistryCredentials, RegistryLoader, RegistryTarget};
pub use source::{Image, ImageSource, LOCAL_REGISTRY};

/// How an image reached its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// Loaded into a Docker daemon through its API.
    DockerDaemon,
    /// Imported into containerd with `ctr` inside a node container.
    Containerd,
    /// Pushed to an OCI registry.
    Registry,
    /// Handed to `minikube image load` (slow; hoist's last resort).
    MinikubeCli,
}

/// The result of delivering one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivered {
    /// The image manifest's digest, `sha256:<hex>`.
    pub digest: String,
    /// The reference to run the image by on the target.
    pub reference: String,
    /// Bytes sent to the target (0 when it already had the image).
    pub bytes_sent: u64,
    /// Whether nothing was sent because the target already had the digest.
    pub skipped: bool,
    /// How the image was delivered.
    pub via: Via,
}

/// Delivers images to one target.
pub trait Loader: Send + Sync {
    /// A short description of the target for messages, e.g.
    /// `the Docker daemon at unix:///var/run/docker.sock`.
    fn target(&self) -> String;

    /// Delivers `image` unless the target already has its digest, reporting
    /// bytes sent through `reporter`.
    ///
    /// # Errors
    ///
    /// A [`DeliverError`] naming the target and what to do about it.
    fn deliver<'a>(
        &'a self,
        image: &'a Image,
        reporter: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<Delivered, DeliverError>>;
}
