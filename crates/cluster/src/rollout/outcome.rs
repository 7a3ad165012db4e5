//! What a rollout returns: per service what was done, and the findings
//! that explain a failure.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::plan::seconds;

/// The result of [`super::deploy`] or [`super::rollback`].
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The run's id.
    pub run_id: String,
    /// Every service is Ready on what the plan asked for.
    pub succeeded: bool,
    /// The run was interrupted ([`super::Options::interrupt`]): the services
    /// of the levels after the one in progress are `NotStarted`.
    pub interrupted: bool,
    /// `<state_dir>/runs/<id>/report.json`: always written on failure.
    pub report: Option<PathBuf>,
    /// Per service, in plan order.
    pub services: Vec<ServiceOutcome>,
    /// Every finding, in the order they were made.
    pub findings: Vec<Finding>,
}

/// What happened to one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceOutcome {
    /// The service.
    pub service: String,
    /// What was done.
    pub action: Action,
    /// The release's revision afterwards (none when it is gone or never was).
    pub revision: Option<u32>,
    /// Ready replicas of its workloads afterwards.
    pub ready: u32,
    /// Wanted replicas.
    pub desired: u32,
    /// Container restarts seen in its pods.
    pub restarts: u32,
    /// From its start to its end.
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
}

/// What was done to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// First install, Ready.
    Installed,
    /// Upgraded, Ready.
    Upgraded,
    /// Fingerprint unchanged and Ready: nothing done.
    Unchanged,
    /// Failed and left as it is (`rollback: false`, or the rollback failed too).
    Failed,
    /// Failed and rolled back to the last deployed revision, which is Ready.
    RolledBack,
    /// Failed first install, uninstalled (claims kept).
    Removed,
    /// Not started because a service it depends on failed.
    NotStarted,
}

/// A service as the cluster has it now ([`super::status`]).
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// The service.
    pub service: String,
    /// Its Helm release.
    pub release: String,
    /// The release's current revision.
    pub revision: Option<u32>,
    /// helm's status of it (`deployed`, `failed`, ...), `None` when not installed.
    pub status: Option<String>,
    /// The images its pods run (image IDs, by digest where the runtime knows it).
    pub image: Vec<String>,
    /// Ready replicas.
    pub ready: u32,
    /// Wanted replicas.
    pub desired: u32,
    /// Container restarts.
    pub restarts: u32,
    /// Time since its oldest workload was created.
    #[serde(serialize_with = "optional_seconds")]
    pub age: Option<Duration>,
    /// The `hoist.dev/config-hash` of its pod template.
    pub config_hash: Option<String>,
    /// The fingerprint hoist recorded for it.
    pub fingerprint: Option<String>,
}

/// A diagnosed failure: which pod of which service, why, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The service (its tier).
    pub service: String,
    /// The object, `Kind/name`, e.g. `Pod/todo-backend-7c9d-x2`.
    pub object: String,
    /// The pod, when the finding is about one.
    pub pod: Option<String>,
    /// The container, when the finding is about one.
    pub container: Option<String>,
    /// The cause.
    pub cause: Cause,
    /// What Kubernetes said, secrets masked.
    pub message: String,
    /// The fix, where one is known.
    pub fix: Option<String>,
    /// Log lines (the previous container's, for a crash), secrets masked.
    pub logs: Vec<String>,
}

/// Why a service failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// ErrImageNeverPull, ErrImagePull, ImagePullBackOff, InvalidImageName.
    ImageNotFound,
    /// CreateContainerConfigError: a Secret, ConfigMap or key is missing.
    MissingConfig,
    /// CrashLoopBackOff past the configured restarts.
    CrashLoop,
    /// A container was killed for passing its memory limit.
    OomKilled,
    /// A readiness, liveness or startup probe kept failing.
    ProbeFailing,
    /// No node can take the pod.
    Unschedulable,
    /// A PersistentVolumeClaim stays Pending.
    ClaimPending,
    /// An init container waits or fails.
    InitContainer,
    /// A Deployment's progress deadline passed.
    ProgressDeadline,
    /// The service's deadline passed without a terminal state.
    DeadlineExceeded,
    /// Anything else (helm failed, a Job failed, ...).
    Other,
    /// A Service with a selector has no ready endpoint (`hoist doctor`).
    NoEndpoints,
    /// A node is not Ready, cordoned, or under memory, disk or PID pressure.
    NodeCondition,
    /// The stack's requests do not fit the nodes' allocatable CPU or memory.
    Capacity,
    /// What runs differs from what hoist last deployed (a `kubectl edit`,
    /// `kubectl set image` or `helm upgrade` by hand, or a failed rollout
    /// left in place).
    Drift,
    /// A service is not Ready while services that depend on it are.
    DependencyNotReady,
}

/// How much a finding matters: `hoist doctor` exits 1 on any error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Something does not work.
    Error,
    /// Works now, but is not what hoist deployed or may stop working.
    Warning,
}

impl Cause {
    /// Every cause is an error except [`Cause::Drift`]: the stack may well
    /// run, just not on what hoist deployed.
    #[must_use]
    pub fn severity(self) -> Severity {
        match self {
            Self::Drift => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// The result of [`super::remove`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Removed {
    /// Releases uninstalled.
    pub releases: Vec<String>,
    /// Configuration objects deleted, `Kind/name`.
    pub config: Vec<String>,
    /// Claims deleted (only with `volumes`).
    pub volumes: Vec<String>,
    /// Without `volumes`: the claims kept, and the configuration objects
    /// kept with them (every revision of the service's ConfigMap and
    /// Secret, since the volume's data was initialised with that Secret's
    /// password), `Kind/name`.
    pub kept: Vec<String>,
}

#[allow(clippy::ref_option)] // serde's serialize_with signature
fn optional_seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => seconds(d, s),
        None => s.serialize_none(),
    }
}
