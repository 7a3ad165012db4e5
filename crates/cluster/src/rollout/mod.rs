//! The rollout engine: a [`Plan`] in, [`Event`]s to a [`Reporter`] out, an
//! [`Outcome`] back. `hoist up` composes it with build and delivery.
//!
//! # What [`deploy`] does
//!
//! 1. Computes every service's fingerprint (a missing chart or values file
//!    stops the run before anything changed), creates the namespace when
//!    missing (as `helm --create-namespace`), and takes the namespace's
//!    Lease (below).
//! 2. Level by level (services of a level in parallel), per service:
//!    skips it when its fingerprint is unchanged and it is Ready (below);
//!    else applies its ConfigMap and Secret (server-side apply, field
//!    manager `hoist`), runs `helm upgrade --install` without `--wait`
//!    (values files, then `--set-string` of the plan's values and of
//!    `config.existingConfigMap`, `secret.existingSecret`, `configHash`;
//!    never a Secret's value), reads the objects the release owns from
//!    `helm get manifest` and waits until they are Ready.
//! 3. A service whose `depends_on` names a failed (or not started) service
//!    is not touched ([`Action::NotStarted`]); others go on.
//!
//! # Readiness (kstatus-grade)
//!
//! Deployment: `observedGeneration >= generation`, updated, ready and
//! available replicas equal to `spec.replicas`, no old replica left
//! (`status.replicas == updatedReplicas` and no terminating pod of its
//! selector); with [`Options::until`] set to [`Until::Serving`] (`hoist
//! dev`, and always for the wait after rolling a failed upgrade back) the
//! ReplicaSet of the Deployment's current revision has every replica ready
//! and available, counted by that ReplicaSet alone, while older pods may
//! still drain. StatefulSet: `currentRevision == updateRevision` (rolling
//! update) and ready replicas equal to the spec. DaemonSet: updated, ready
//! and available equal to desired. Job: `Complete`. PersistentVolumeClaim:
//! `Bound`. Service with a selector: an Endpoints address. Other kinds are
//! ready once helm created them; hooks are not watched. The wait is
//! kube-runtime reflectors over the namespace, evaluated on every change,
//! under `tokio::time::timeout` with the service's deadline; a dropped
//! watch is resumed, API errors are retried with backoff and the last one
//! is named in the deadline's finding.
//!
//! # Diagnosis
//!
//! Only the pods of the new revision count while a workload rolls (those
//! created since the helm call), so an old crashing replica does not end
//! the wait. Terminal at once, with a [`Finding`]: ErrImageNeverPull /
//! ErrImagePull / ImagePullBackOff / InvalidImageName (with where hoist
//! delivered the image), CreateContainerConfigError (hoist applied the
//! configuration before the release, so it will not appear later),
//! CreateContainerError / RunContainerError, OOMKilled (first kill, with
//! the memory limit), a crash loop after [`Options::crashloop_restarts`]
//! restarts (exit code, reason, the previous container's last 30 log
//! lines), an init container doing the same, Unschedulable when no node's
//! allocatable CPU and memory could ever hold the pod's requests (when one
//! could, it may fit once old replicas go: reported at the deadline), a
//! claim naming a StorageClass that does not exist, or none with no default
//! class, or with a ProvisioningFailed event, ProgressDeadlineExceeded, a
//! failed Job. At the deadline: failing probes (with their Unhealthy
//! events), init containers still waiting (with their log lines), pending
//! claims, unschedulable pods, and a DeadlineExceeded finding naming what
//! was not Ready.
//!
//! # Evidence, then rollback
//!
//! On a failure the pods' statuses, the events of the service's objects,
//! the findings and their log lines go to
//! `<state_dir>/runs/<run id>/report.json` *before* anything is rolled
//! back; the file is written again at the end of a failed run with every
//! service's outcome. Every non-empty value of [`Plan::redact`] is masked
//! (raw and JSON-escaped) in findings, logs, events and the report. Then a
//! failed upgrade goes back (`helm rollback`) to the newest revision that
//! was `deployed` before it and is waited on like a rollout; a failed first
//! install is uninstalled. Claims of a StatefulSet's `volumeClaimTemplates`
//! are not release objects and stay; a claim the chart renders itself
//! follows helm (kept only with `helm.sh/resource-policy: keep`).
//! `Options::rollback == false` leaves the failed state for debugging.
//!
//! # A running stack: [`inspect`]
//!
//! `hoist doctor` reads the namespace once (pods, claims, events,
//! Services, Endpoints, workloads; nodes, StorageClasses and every pod of
//! the cluster when readable) and applies the same rules as a wait, on the
//! pods as they are now: the terminal states, then what a deadline would
//! report (probes failing with their Unhealthy events, init containers
//! waiting, pending claims, unschedulable pods with their requests against
//! the nodes' allocatable), with the same log tails. Rules only a running
//! stack needs come on top: a Service with a selector and no ready
//! endpoint (its selector and the pods it matches), a node not Ready,
//! cordoned or under memory/disk/PID pressure, the stack's requests
//! against the Ready nodes' allocatable (next to what other pods request),
//! drift (a workload's images or config hash differ from the release's
//! manifest; the release's revision is not the one hoist recorded when it
//! last made the service Ready; the workload's generation moved since:
//! `kubectl edit`/`scale`/`set`), and a dependency not Ready while a
//! service depending on it is. Drift is a [`Severity::Warning`], every
//! other cause an error.
//!
//! # One run at a time
//!
//! A `coordination.k8s.io/v1` Lease `hoist` in the namespace, holder
//! `hoist run <id> of <project> (pid <pid> on <host>)`, renewed every third
//! of [`Options::lease_duration`] (30 s by default), deleted at the end. A
//! second run is refused at once with [`RolloutError::Locked`] (holder, since
//! when, when it expires); a Lease not renewed within its duration (a killed
//! run) is taken over, with the resourceVersion guarding against two
//! takeovers at once. [`rollback`] and [`remove`] take it too.
//!
//! # Nothing changed, nothing done
//!
//! The fingerprint covers the chart's files, the values files, every value
//! hoist sets (image and config names included), the image digest and the
//! config hash. It is recorded on the cluster as labels on each workload
//! of the release, after the service became Ready: `hoist.dev/fingerprint`
//! (160 bits of SHA-256, hex), `hoist.dev/fingerprint-generation` and
//! `hoist.dev/revision` (labels: on 1.20 an annotation change bumps a
//! Deployment's generation). A pass reads the namespace's Deployments,
//! StatefulSets and DaemonSets once (one list per kind for the whole plan)
//! and skips a service whose workloads carry the same fingerprint at their
//! current `metadata.generation` (a `helm rollback` or `kubectl edit` since
//! changes it) and are Ready: no helm call. A release without a workload is
//! never skipped.
//!
//! # Configuration objects
//!
//! Content-named and immutable (hoist-config names them
//! `<project>-<service>-config-<hash10>` / `-secret-<hash10>`), so a
//! rollback puts the pods back on the objects they ran with. After a
//! service is Ready, older ones are pruned unless they are the newest three
//! or any revision helm keeps (`--history-max 10`) names them (read from
//! helm's storage Secrets). [`remove`] deletes them with the release,
//! except (without `volumes`) those of a service whose claims stay: the
//! volume's data was initialised with that Secret's password.
//!
//! ```no_run
//! # async fn example(target: hoist_cluster::rollout::Target, plan: hoist_cluster::rollout::Plan) -> Result<(), hoist_cluster::rollout::RolloutError> {
//! use hoist_cluster::rollout::{self, NoReporter};
//! let outcome = rollout::deploy(&target, &plan, &NoReporter).await?;
//! for finding in &outcome.findings {
//!     println!("{} {}: {:?} {}", finding.service, finding.object, finding.cause, finding.message);
//! }
//! # Ok(()) }
//! ```

mod config;
mod diagnose;
mod error;
mod events;
mod evidence;
mod fingerprint;
mod inspect;
mod kstatus;
mod lease;
mod manage;
mod manifest;
#[cfg(test)]
mod mock;
mod outcome;
mod plan;
mod run;
mod wait;

pub use error::RolloutError;
pub use events::{Event, NoReporter, Reporter, Stage};
pub use inspect::{InspectOptions, Inspection, Subject, TierState};
pub use outcome::{
    Action, Cause, Finding, Outcome, Removed, ServiceOutcome, ServiceStatus, Severity,
};
pub use plan::{
    ConfigObjects, DEFAULT_DEADLINE, ImageRef, Options, Plan, ReleasePlan, Target, Until,
};

/// Rolls `plan` out level by level.
///
/// # Errors
///
/// [`RolloutError::Locked`] when another run holds the namespace, and API
/// or report errors that stop the run; a service that fails is an
/// [`Outcome`] with findings, not an error.
pub async fn deploy(
    target: &Target,
    plan: &Plan,
    reporter: &dyn Reporter,
) -> Result<Outcome, RolloutError> {
    run::Run::new(target, plan, reporter).deploy().await
}

/// Rolls `service` back to `to_revision` (the last deployed revision before
/// the current one when `None`) and waits until it is Ready.
///
/// # Errors
///
/// As [`deploy`], plus [`RolloutError::UnknownService`] and [`RolloutError::NoRevision`].
pub async fn rollback(
    target: &Target,
    plan: &Plan,
    service: &str,
    to_revision: Option<u32>,
    reporter: &dyn Reporter,
) -> Result<Outcome, RolloutError> {
    manage::rollback(target, plan, service, to_revision, reporter).await
}

/// Uninstalls `services` (every service of the plan when empty), dependents
/// first, with their configuration objects; their claims too with `volumes`
/// (claims labelled `app.kubernetes.io/instance=<release>`).
///
/// Without `volumes` the claims stay, and so do the configuration objects
/// (ConfigMaps and Secrets, every revision) of each service that still has
/// a claim: the data in its volume was initialised with that Secret's
/// password (a database's), so the next `up` must find it. Both are listed
/// in [`Removed::kept`]; `volumes` deletes them too. A claim already being
/// deleted (one the chart rendered itself) keeps nothing.
///
/// # Errors
///
/// As [`deploy`], plus [`RolloutError::UnknownService`].
pub async fn remove(
    target: &Target,
    plan: &Plan,
    services: &[String],
    volumes: bool,
    reporter: &dyn Reporter,
) -> Result<Removed, RolloutError> {
    manage::remove(target, plan, services, volumes, reporter).await
}

/// Looks at the running `subjects` in the target's namespace (see
/// "A running stack" above); findings are masked with
/// [`InspectOptions::redact`].
///
/// # Errors
///
/// API and helm errors; nothing found wrong is an [`Inspection`] without
/// findings.
pub async fn inspect(
    target: &Target,
    subjects: &[Subject],
    options: &InspectOptions,
) -> Result<Inspection, RolloutError> {
    inspect::inspect(target, subjects, options).await
}

/// `text` with every non-empty value of `values` replaced by
/// `<redacted>`, raw and JSON-escaped, as findings and reports are masked.
#[must_use]
pub fn mask(values: &[String], text: &str) -> String {
    evidence::Redactor::new(values).mask(text)
}

/// The Helm releases owning workloads in the target's namespace, for
/// looking at a namespace without its stack file.
///
/// # Errors
///
/// API errors.
pub async fn releases(target: &Target) -> Result<Vec<String>, RolloutError> {
    inspect::releases(target).await
}

/// Every service of the plan as the cluster has it.
///
/// # Errors
///
/// API and helm errors.
pub async fn status(target: &Target, plan: &Plan) -> Result<Vec<ServiceStatus>, RolloutError> {
    manage::status(target, plan).await
}
