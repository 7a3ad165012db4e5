//! The rollout engine: a [`Plan`] in, [`Event`]s to a [`Reporter`] out, an
//! [`Outcome`] back.
//!
//! Skeleton: the types of the contract in /work/briefs/rollout-api.md; the
//! engine follows.
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
mod kstatus;
mod lease;
mod manage;
mod manifest;
mod outcome;
mod plan;
mod run;
mod wait;

pub use error::RolloutError;
pub use events::{Event, NoReporter, Reporter, Stage};
pub use outcome::{Action, Cause, Finding, Outcome, Removed, ServiceOutcome, ServiceStatus};
pub use plan::{ConfigObjects, DEFAULT_DEADLINE, ImageRef, Options, Plan, ReleasePlan, Target};

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

/// Every service of the plan as the cluster has it.
///
/// # Errors
///
/// API and helm errors.
pub async fn status(target: &Target, plan: &Plan) -> Result<Vec<ServiceStatus>, RolloutError> {
    manage::status(target, plan).await
}
