//! hoist-cluster: target detection, image delivery, rollouts and diagnostics.
//!
//! Everything here reads its surroundings (DOCKER_HOST, KUBECONFIG,
//! MINIKUBE_HOME, PATH) from an [`env::Environment`] value rather than from
//! the process, so the same code serves the CLI and tests that run side by
//! side with different environments.
//!
//! ```no_run
//! # async fn example() {
//! use hoist_cluster::doctor;
//! let report = doctor::diagnose(&doctor::Options::default()).await;
//! for check in &report.checks {
//!     println!("{:?} {}: {}", check.status, check.name, check.summary);
//! }
//! # }
//! ```
#![deny(missing_docs)]

pub mod deliver;
pub mod docker;
pub mod doctor;
pub mod engine;
pub mod env;
pub mod helm;
pub mod kubeconfig;
pub mod minikube;
pub mod rollout;
pub mod target;
pub mod tools;

/// Everything that can go wrong talking to a cluster, a daemon or a tool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reaching a Docker daemon.
    #[error(transparent)]
    Docker(#[from] docker::DockerError),
    /// Reading a kubeconfig or reaching its API server.
    #[error(transparent)]
    Kube(#[from] kubeconfig::KubeError),
    /// Reading a Minikube profile.
    #[error(transparent)]
    Minikube(#[from] minikube::MinikubeError),
    /// Finding or running helm or kubectl.
    #[error(transparent)]
    Tool(#[from] tools::ToolError),
    /// Delivering an image.
    #[error(transparent)]
    Deliver(#[from] deliver::DeliverError),
    /// Running the stack on a plain Docker engine.
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    /// Running helm.
    #[error(transparent)]
    Helm(#[from] helm::HelmError),
    /// Rolling a stack out, back, or removing it.
    #[error(transparent)]
    Rollout(#[from] rollout::RolloutError),
}

/// The cluster crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
