//! Choosing and connecting the loader for a destination.

use std::time::Duration;

use super::{
    ContainerdLoader, DaemonLoader, Loader, MinikubeCliLoader, RegistryLoader, RegistryTarget,
};
use crate::docker::DockerEndpoint;

/// How long connecting to a Docker daemon may take before it counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where images go, before any connection is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A Docker daemon.
    Daemon(DockerEndpoint),
    /// containerd in `node`, a container of the daemon at `docker`.
    Containerd {
        /// The daemon that runs the node container.
        docker: DockerEndpoint,
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
/// What [`DockerEndpoint::connect`] returns for the daemon destinations.
pub async fn open(destination: Destination) -> crate::Result<Box<dyn Loader>> {
    Ok(match destination {
        Destination::Daemon(endpoint) => {
            let (docker, _) = endpoint.connect(CONNECT_TIMEOUT).await?;
            Box::new(DaemonLoader::new(docker, endpoint.host))
        }
        Destination::Containerd { docker, node } => {
            let (docker, _) = docker.connect(CONNECT_TIMEOUT).await?;
            Box::new(ContainerdLoader::new(docker, node))
        }
        Destination::Registry(target) => Box::new(RegistryLoader::new(target)),
        Destination::MinikubeCli { profile } => Box::new(MinikubeCliLoader::new(profile)),
    })
}
