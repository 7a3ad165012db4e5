//! hoist-cluster: target detection, image delivery, rollouts and diagnostics.
//!
//! ```no_run
//! # async fn example() -> hoist_cluster::Result<()> {
//! use hoist_cluster::deliver::{DaemonEndpoint, DaemonLoader, ImageSource, Loader};
//! let endpoint = DaemonEndpoint { host: "unix:///var/run/docker.sock".into(), tls: None };
//! let loader = DaemonLoader::new(endpoint.connect().await?, endpoint.host.clone());
//! let image = ImageSource {
//!     layout: "build/api/oci".into(),
//!     archive: "build/api/image.tar".into(),
//!     name: "todo/api".into(),
//! }
//! .open()?;
//! let delivered = loader.deliver(&image, &hoist_imager::NoReporter).await?;
//! assert!(delivered.reference.starts_with("hoist.local/todo/api:"));
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod deliver;
pub mod target;

/// Everything that can go wrong talking to a cluster or a daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Delivering an image failed.
    #[error(transparent)]
    Deliver(#[from] deliver::DeliverError),
}

/// The cluster crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
