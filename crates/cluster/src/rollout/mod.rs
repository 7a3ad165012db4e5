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

mod error;
mod events;
mod outcome;
mod plan;

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
#[allow(clippy::unused_async)] // skeleton
pub async fn deploy(
    target: &Target,
    plan: &Plan,
    reporter: &dyn Reporter,
) -> Result<Outcome, RolloutError> {
    let _ = (target, plan, reporter);
    Err(unimplemented_yet())
}

/// Rolls `service` back to `to_revision` (the last deployed revision before
/// the current one when `None`) and waits until it is Ready.
///
/// # Errors
///
/// As [`deploy`], plus [`RolloutError::UnknownService`] and [`RolloutError::NoRevision`].
#[allow(clippy::unused_async)] // skeleton
pub async fn rollback(
    target: &Target,
    plan: &Plan,
    service: &str,
    to_revision: Option<u32>,
    reporter: &dyn Reporter,
) -> Result<Outcome, RolloutError> {
    let _ = (target, plan, service, to_revision, reporter);
    Err(unimplemented_yet())
}

/// Uninstalls `services` (every service of the plan when empty), dependents
/// first, with their configuration objects; their claims too with `volumes`.
///
/// # Errors
///
/// As [`deploy`], plus [`RolloutError::UnknownService`].
#[allow(clippy::unused_async)] // skeleton
pub async fn remove(
    target: &Target,
    plan: &Plan,
    services: &[String],
    volumes: bool,
    reporter: &dyn Reporter,
) -> Result<Removed, RolloutError> {
    let _ = (target, plan, services, volumes, reporter);
    Err(unimplemented_yet())
}

/// Every service of the plan as the cluster has it.
///
/// # Errors
///
/// API and helm errors.
#[allow(clippy::unused_async)] // skeleton
pub async fn status(target: &Target, plan: &Plan) -> Result<Vec<ServiceStatus>, RolloutError> {
    let _ = (target, plan);
    Err(unimplemented_yet())
}

fn unimplemented_yet() -> RolloutError {
    RolloutError::UnknownService {
        service: "(skeleton)".to_owned(),
        known: "the engine is not implemented yet on this commit".to_owned(),
    }
}
