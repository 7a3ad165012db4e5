//! What can go wrong delivering an image, each error naming the target and
//! the way out.

use std::path::PathBuf;

/// Everything that can go wrong delivering an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliverError {
    /// The image on disk cannot be delivered as it is.
    #[error("cannot deliver {}: {reason}", path.display())]
    Source {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The gzip form of an image for a registry push could not be made.
    #[error(
        "cannot compress {} for the registry (gzip cache {}): {message}; rebuild the image, or free space in the cache",
        layout.display(),
        cache.display()
    )]
    Compress {
        /// The image's OCI layout.
        layout: PathBuf,
        /// The cache the gzip forms are kept in.
        cache: PathBuf,
        /// What failed.
        message: String,
    },
    /// The repository name is not one a registry or daemon accepts.
    #[error(
        "{name:?} is not a valid image name: use lower-case letters, digits and . _ - separated by /"
    )]
    Name {
        /// The name given.
        name: String,
    },
    /// Reading or writing a local file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "write").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Docker daemon could not be reached.
    #[error(
        "cannot reach the Docker daemon at {endpoint}: {message}; start it, or point DOCKER_HOST at a running daemon"
    )]
    DaemonUnreachable {
        /// The daemon's address.
        endpoint: String,
        /// What the connection attempt said.
        message: String,
    },
    /// The Docker daemon answered with an error.
    #[error("the Docker daemon at {endpoint} failed to {action} {image}: {message}")]
    Daemon {
        /// The daemon's address.
        endpoint: String,
        /// What was being done ("load", "tag", "exec in").
        action: &'static str,
        /// The image or container concerned.
        image: String,
        /// The daemon's own text.
        message: String,
    },
    /// The target ran out of disk space.
    #[error(
        "no space left on {target} while loading {image}: {message}; free space there ({fix}) and retry"
    )]
    NoSpace {
        /// The target.
        target: String,
        /// The image being loaded.
        image: String,
        /// The target's own text.
        message: String,
        /// How to free space there.
        fix: &'static str,
    },
    /// The node container holding containerd does not exist or is not running.
    #[error(
        "the node container {container} is not running; start the cluster (e.g. `kind create cluster`) and retry"
    )]
    NodeNotRunning {
        /// The container's name.
        container: String,
    },
    /// `ctr` in the node container failed.
    #[error("`{command}` in the node container {container} failed ({status}): {message}")]
    Containerd {
        /// The node container.
        container: String,
        /// The command line run.
        command: String,
        /// Its exit status.
        status: i64,
        /// Its standard error.
        message: String,
    },
    /// The registry refused the credentials.
    #[error(
        "the registry {registry} refused the credentials for user {user:?}; check the user name and password (HOIST_REGISTRY_PASSWORD)"
    )]
    RegistryAuth {
        /// The registry host.
        registry: String,
        /// The user name (never the password).
        user: String,
    },
    /// The registry refused an anonymous push.
    #[error(
        "the registry {registry} requires authentication; give --registry-user and HOIST_REGISTRY_PASSWORD"
    )]
    RegistryAuthRequired {
        /// The registry host.
        registry: String,
    },
    /// Talking to the registry failed.
    #[error("pushing {reference} to the registry {registry} failed: {message}")]
    Registry {
        /// The registry host.
        registry: String,
        /// The reference being pushed.
        reference: String,
        /// What went wrong.
        message: String,
    },
    /// The cluster can only get images through a registry, and none was given.
    #[error("context {context:?} needs a registry: {reason}; give --registry HOST[/PREFIX]")]
    RegistryNeeded {
        /// The kube context.
        context: String,
        /// Why no local path exists.
        reason: String,
    },
    /// The `minikube` command failed or is missing.
    #[error("`{command}` failed: {message}")]
    MinikubeCli {
        /// The command line run.
        command: String,
        /// What went wrong (its standard error, or why it did not start).
        message: String,
    },
}
