//! The stack on a plain Docker engine: the pre-Kubernetes run
//! (`hoist up --engine docker`, or `engine = "docker"` in `hoist.toml`).
//!
//! "Engine" is where the stack runs (`kubernetes`, the default, or
//! `docker`); `hoist load --target docker` is something else: it only
//! delivers an image into a daemon. The same images (by digest, loaded with
//! [`DaemonLoader`](crate::deliver::DaemonLoader)), the same `.env` mapping
//! (hoist-config's [`ServiceEnv`](hoist_config::ServiceEnv)), the same
//! dependency order ([`Stack::rollout_levels`](hoist_config::Stack::rollout_levels))
//! and the same gating and diagnosis as on the cluster.
//!
//! # What `up` makes
//!
//! | thing | name | notes |
//! |---|---|---|
//! | network | `<project>-net` | a private bridge network, labelled `hoist.dev/project` |
//! | container | `<project>-<service>-<n>` | one per replica, `n` from 1; hostname = the name |
//! | aliases | `<service>` and `<project>-<service>` | the second is the Kubernetes Service name the charts use (`fullnameOverride`), so `BACKEND_URL=http://todo-chatbot-backend:8000` and DATABASE_URL's host work unchanged ([`aliases`], the one place) |
//! | volume | `<project>-<service>-<name>` | from `volumes = { name = "/path" }`; kept by `down`, removed by `down --volumes` |
//! | published port | `127.0.0.1:<publish>` | the first of `ports`; `publish = true` uses the same number |
//!
//! Every container carries the labels `hoist.dev/project`,
//! `hoist.dev/service`, `hoist.dev/replica`, `hoist.dev/config-hash` and
//! `hoist.dev/fingerprint` (SHA-256 over the image digest and the daemon's
//! image ID, the configuration hash and the service's settings).
//!
//! # Order, gating and diagnosis
//!
//! Services start level by level (`depends_on`); a level starts only when
//! every service of the level before is ready. A service is ready when all
//! its replicas pass their check:
//!
//! 1. `ready = { http | tcp | exec }` from `hoist.toml`, when set;
//! 2. else the image's HEALTHCHECK, run by Docker (`healthy`);
//! 3. else a TCP check on the first of `ports`;
//! 4. else the container running.
//!
//! hoist runs `http` and `tcp` checks itself, through a port published on
//! 127.0.0.1 of the Docker host (an ephemeral one unless the check's port is
//! the published one); `exec` checks run in the container through the
//! Docker API. So http/tcp checks need the daemon's loopback to be this
//! machine's (a local daemon, Docker Desktop); against a remote daemon use
//! `exec` or a HEALTHCHECK. A TCP check counts a connection that Docker's
//! port proxy closes at once as refused.
//!
//! Containers start with restart policy `no`, so a failing start keeps its
//! exit code, OOMKilled flag and logs; once ready they switch to
//! `unless-stopped`. While waiting, hoist watches each container: exited
//! (exit code, OOMKilled, the last 30 log lines; the message is the last
//! line, usually the app's own error), restarted, health check failed
//! (Docker's `unhealthy`, with the check's output), deadline passed (the
//! check's last output), or the image missing from the daemon. Each is a
//! [`Finding`] naming the service and the container; `up` stops at the
//! first failing level, and later levels are never started
//! ([`EngineOutcome::not_started`]). The CLI exits 1 when
//! [`EngineOutcome::is_healthy`] is false.
//!
//! # Idempotence
//!
//! A second `up` with nothing changed leaves every container as it is (and
//! only checks readiness again). A changed image, configuration or setting
//! changes the service's fingerprint: only that service's containers are
//! replaced, its dependents keep running (as with compose). A container
//! that is not running is replaced. Extra replicas are removed.
//!
//! # Secrets
//!
//! Secret values go into the container's environment, as compose does, so
//! `docker inspect <container>` shows them to anyone who may use the
//! daemon. hoist's own output never does: plans and outcomes hold them as
//! [`hoist_config::Value::Secret`] (printed `<redacted>`), and every log
//! line, check output and finding message hoist returns passes through a
//! [`Masker`] that replaces each secret value of the stack by `<redacted>`.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::BTreeMap;
//! use hoist_cluster::deliver::{self, Destination, ImageSource};
//! use hoist_cluster::docker::DockerEndpoint;
//! use hoist_cluster::engine::{self, EnginePlan};
//! use hoist_cluster::env::Environment;
//! use hoist_config::{EnvInputs, Stack};
//!
//! let stack = Stack::load("hoist.toml".as_ref(), None)?;
//! let mapping = hoist_config::resolve(&stack, &EnvInputs::from_process(Vec::new()))?;
//! let endpoint = DockerEndpoint::from_env(&Environment::current());
//! let loader = deliver::open(Destination::Daemon(endpoint.clone())).await?;
//! let mut images = BTreeMap::new();
//! for service in stack.services.keys() {
//!     let image = ImageSource {
//!         layout: format!("build/{service}/oci").into(),
//!         archive: format!("build/{service}/image.tar").into(),
//!         name: format!("{}/{service}", stack.project),
//!     }
//!     .open()?;
//!     images.insert(service.clone(), loader.deliver(&image, &hoist_imager::NoReporter).await?);
//! }
//! let plan = EnginePlan::new(&stack, &mapping, &images, endpoint)?;
//! let outcome = engine::up(&plan, &hoist_imager::NoReporter).await?;
//! for url in &outcome.urls {
//!     println!("{}: {}", url.service, url.url);
//! }
//! assert!(outcome.is_healthy(), "{:?}", outcome.findings);
//! # Ok(()) }
//! ```

mod containers;
mod diagnose;
mod health;
mod logs;
mod mask;
mod network;
mod plan;
mod status;
mod up;

use std::time::Duration;

use bollard::Docker;

use crate::docker::DockerEndpoint;

pub use diagnose::{Cause, Finding};
pub use logs::{LogLine, LogOptions, logs};
pub use mask::Masker;
pub use network::{aliases, container_name, network_name, volume_name};
pub use plan::{EnginePlan, EngineProject, EnvVar, ServicePlan};
pub use status::{ContainerStatus, DownOutcome, EngineStatus, down, status};
pub use up::{Action, ContainerOutcome, EngineOutcome, PublishedUrl, ServiceOutcome, up};

/// The label naming the project a container, network or volume belongs to.
pub const PROJECT_LABEL: &str = "hoist.dev/project";
/// The label naming a container's service.
pub const SERVICE_LABEL: &str = "hoist.dev/service";
/// The label holding a container's replica number (from 1).
pub const REPLICA_LABEL: &str = "hoist.dev/replica";
/// The label holding what a container was made from; see the module docs.
pub const FINGERPRINT_LABEL: &str = "hoist.dev/fingerprint";

/// How long connecting to the daemon may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What can stop the engine from doing its work at all. A service that
/// fails to become ready is not an error but a [`Finding`] in the outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No daemon answers at the endpoint.
    #[error(
        "no Docker engine answers at {endpoint} (DOCKER_HOST): {reason}; start Docker, or set DOCKER_HOST to a running daemon (unix:///var/run/docker.sock, tcp://HOST:2376 with DOCKER_TLS_VERIFY=1)"
    )]
    NoEngine {
        /// The endpoint tried.
        endpoint: String,
        /// The transport's or the daemon's words.
        reason: String,
    },
    /// The daemon refused a request.
    #[error("the Docker daemon at {endpoint} could not {action}: {message}")]
    Daemon {
        /// The endpoint.
        endpoint: String,
        /// What hoist asked for, e.g. `create network todo-net`.
        action: String,
        /// The daemon's own words.
        message: String,
    },
    /// A network of the project's name exists and is not hoist's.
    #[error(
        "network {name} on the Docker daemon at {endpoint} exists but was not made by hoist for project {project}; remove it (`docker network rm {name}`) or rename the project"
    )]
    NetworkTaken {
        /// The network.
        name: String,
        /// The project.
        project: String,
        /// The endpoint.
        endpoint: String,
    },
    /// The plan cannot be made from the stack.
    #[error("service `{service}`: {message}")]
    Plan {
        /// The service.
        service: String,
        /// What is missing and how to fix it.
        message: String,
    },
}

/// Connects with version negotiation, as every entry point does first.
async fn connect(endpoint: &DockerEndpoint) -> Result<Docker, EngineError> {
    match endpoint.connect(CONNECT_TIMEOUT).await {
        Ok((docker, _)) => Ok(docker),
        Err(error) => Err(EngineError::NoEngine {
            endpoint: endpoint.host.clone(),
            reason: match error {
                // The error's own fix is said once, in ours.
                crate::docker::DockerError::Unreachable { reason, .. } => reason
                    .trim_end_matches("; start Docker or point DOCKER_HOST at a running daemon")
                    .to_owned(),
                other => other.to_string(),
            },
        }),
    }
}

/// The daemon's text out of a bollard error; its Display hides or wraps it.
fn daemon_message(error: bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message,
        bollard::errors::Error::DockerStreamError { error } => error,
        other => other.to_string(),
    }
}

/// Whether the daemon answered 404.
fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The short form of a container or image ID.
fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}
