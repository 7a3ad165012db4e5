//! Choosing and connecting the loader for a destination.

use super::{
    ContainerdLoader, DaemonEndpoint, DaemonLoader, DeliverError, Loader, MinikubeCliLoader,
    RegistryLoader, RegistryTarget,
};

/// Where images go, before any connection is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A Docker daemon.
    Daemon(DaemonEndpoint),
    /// containerd in `node`, a container of the daemon at `docker`.
    Containerd {
        /// The daemon that runs the node container.
        docker: DaemonEndpoint,
        /// The node container's name.
        node: String,
    },
    /// An OCI registry.
    Registry(RegistryTarget),
    /// `minikube image load` for a profile.
    MinikubeCli {
        /// The Minikube profile.
        profile: String,
    },
}

/// Connects to `destination` and returns its loader.
///
/// # Errors
///
/// What [`DaemonEndpoint::connect`] returns for the daemon destinations.
pub async fn open(destination: Destination) -> Result<Box<dyn Loader>, DeliverError> {
    Ok(match destination {
        Destination::Daemon(endpoint) => {
            let docker = endpoint.connect().await?;
            Box::new(DaemonLoader::new(docker, endpoint.host))
        }
        Destination::Containerd { docker, node } => {
            Box::new(ContainerdLoader::new(docker.connect().await?, node))
        }
        Destination::Registry(target) => Box::new(RegistryLoader::new(target)),
        Destination::MinikubeCli { profile } => Box::new(MinikubeCliLoader::new(profile)),
    })
}
