//! The crate's error type (each message carries its cause's text, so a
//! report that prints the chain does not say it twice): what stops `up`, `status`, `logs`, `down`,
//! `rollback` or `render` before or outside a rollout. A service that fails
//! to become Ready is not an error but an outcome with findings.

use std::path::PathBuf;

/// Everything that can stop a hoist-deploy entry point.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stack file or a `.env` file is malformed, or a required variable
    /// has no value (the message names the file and line).
    #[error(transparent)]
    Config(#[from] hoist_config::Error),
    /// A service's image table is not a valid recipe.
    #[error("services.{service}.image in {}: {cause}", file.display())]
    Recipe {
        /// The service.
        service: String,
        /// The stack file.
        file: PathBuf,
        /// What is wrong with the recipe.
        cause: hoist_imager::RecipeError,
    },
    /// A service named on the command line is not in the stack.
    #[error("no service `{name}` in {}; the services are: {known}", file.display())]
    UnknownService {
        /// The name given.
        name: String,
        /// The stack file.
        file: PathBuf,
        /// The stack's services, comma-separated.
        known: String,
    },
    /// No cluster answers: no kubeconfig, no context, or a dead API server.
    #[error(
        "no cluster to deploy to: {reason}. Fixes: start a local cluster (`minikube start`; kind, k3d and Docker Desktop work too), or point KUBECONFIG (or --context) at a cluster and give it a registry it pulls from with --registry HOST[/PREFIX]"
    )]
    NoCluster {
        /// What was looked for and what was found.
        reason: String,
    },
    /// The cluster cannot get images: no local loader and no registry.
    #[error(
        "context {context:?} has no way to get hoist's images: {reason}. Fixes: pass --registry HOST[/PREFIX] (or add a [registry] table to {}) naming a registry the cluster pulls from, or deploy to a local cluster hoist loads images into (`minikube start`, kind, k3d, Docker Desktop)", file.display()
    )]
    NoImagePath {
        /// The kube context.
        context: String,
        /// Why detection found no local path.
        reason: String,
        /// The stack file.
        file: PathBuf,
    },
    /// A cluster-side step outside the rollout (detection, helm lookup, a Docker daemon).
    #[error(transparent)]
    Cluster(#[from] hoist_cluster::Error),
    /// Building a service's image failed.
    #[error("failed to build the image of service `{service}`: {cause}")]
    Build {
        /// The service.
        service: String,
        /// Why.
        cause: Box<hoist_imager::Error>,
    },
    /// Delivering a service's image failed.
    #[error("failed to deliver the image of service `{service}` to {target}: {cause}")]
    Deliver {
        /// The service.
        service: String,
        /// Where it was going.
        target: String,
        /// Why.
        cause: Box<hoist_cluster::deliver::DeliverError>,
    },
    /// The rollout engine stopped (a held Lease, an API or helm failure).
    #[error(transparent)]
    Rollout(#[from] hoist_cluster::rollout::RolloutError),
    /// helm failed outside a rollout (`render`).
    #[error(transparent)]
    Helm(#[from] hoist_cluster::helm::HelmError),
    /// An API call outside the rollout failed (URLs, logs).
    #[error("{action} in namespace {namespace} failed: {cause}")]
    Kube {
        /// What hoist was doing.
        action: String,
        /// The namespace.
        namespace: String,
        /// The API error.
        cause: kube::Error,
    },
    /// A file hoist writes (generated values) could not be written.
    #[error("cannot write {}: {cause}; check that the directory is writable", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// `doctor` without a stack file and without a namespace.
    #[error(
        "no stack file and no namespace to look at: run it next to hoist.toml (or pass -f PATH), or name the namespace with --namespace NAME"
    )]
    NoNamespace,
    /// `dev`: a forwarded port cannot be listened on.
    #[error(
        "cannot listen on 127.0.0.1:{port} to forward service `{service}`: {cause}; stop what uses the port or pick another with --port {service}=PORT (or `forward = PORT` under [services.{service}])"
    )]
    Forward {
        /// The service.
        service: String,
        /// The local port.
        port: u16,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// `dev`: a service to forward declares no port.
    #[error(
        "service `{service}` is to be forwarded but declares no `ports` in {}; add `ports = [PORT]` (the port its pods listen on) to [services.{service}]", file.display()
    )]
    NoForwardPort {
        /// The service.
        service: String,
        /// The stack file.
        file: PathBuf,
    },
    /// `dev`: a path cannot be watched.
    #[error("cannot watch {} for changes: {cause}", path.display())]
    Watch {
        /// The path.
        path: PathBuf,
        /// Why.
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A chart's `helm template` output is not YAML.
    #[error("the rendered chart of service `{service}` is not YAML: {reason}")]
    Rendered {
        /// The service.
        service: String,
        /// The parser's reason.
        reason: String,
    },
}

impl Error {
    /// Whether the error is about the user's input (the command line, the
    /// stack file, a `.env` file) rather than a failure while working:
    /// the CLI exits 2 for these and 1 for the rest.
    #[must_use]
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Self::Config(_)
                | Self::Recipe { .. }
                | Self::UnknownService { .. }
                | Self::NoNamespace
                | Self::NoForwardPort { .. }
        )
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
