//! `down` and `rollback`: the rollout engine's removal and rollback, on the
//! stack's releases.

use hoist_cluster::rollout::{self, Outcome, Removed, RolloutError};
use hoist_config::{EnvInputs, Stack};
use serde::Serialize;

use crate::cluster::{self, ClusterOptions};
use crate::{Result, plan, select};

/// What `down` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// The services to remove (every service when empty); dependents are
    /// removed before what they depend on.
    pub services: Vec<String>,
    /// Delete the PersistentVolumeClaims (and the data) too, and the
    /// configuration objects kept for them.
    pub volumes: bool,
    /// Where the stack's variables come from: hoist's ConfigMaps and
    /// Secrets are found from them (when `.env` cannot be read, they stay).
    pub env: EnvInputs,
    /// Which cluster.
    pub cluster: ClusterOptions,
}

/// Uninstalls the selected services' releases in reverse dependency order,
/// with their configuration objects; claims stay unless `volumes`.
///
/// Without `volumes`, a service whose claims stay keeps its ConfigMaps and
/// Secrets too (the data in the volume was initialised with that Secret's
/// password): PersistentVolumeClaims and their Secrets are kept unless
/// `volumes`, and [`Removed::kept`] names them.
///
/// # Errors
///
/// Input errors, [`crate::Error::NoCluster`], and the engine's errors.
pub async fn down(
    stack: &Stack,
    options: &DownOptions,
    reporter: &dyn rollout::Reporter,
) -> Result<Removed> {
    let services = select::ordered(stack, &options.services, true)?;
    let mapping = hoist_config::resolve(stack, &options.env).ok();
    let cluster = cluster::connect(stack, &options.cluster).await?;
    let plan = plan::existing(stack, mapping.as_ref())?;
    let named = if options.services.is_empty() {
        Vec::new()
    } else {
        services
    };
    Ok(rollout::remove(&cluster.target, &plan, &named, options.volumes, reporter).await?)
}

/// What `rollback` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// The service (every service with an earlier revision when `None`).
    pub service: Option<String>,
    /// The revision to return to (the one before the current when `None`).
    pub to: Option<u32>,
    /// Where the stack's variables come from, for masking secret values in
    /// findings.
    pub env: EnvInputs,
    /// Which cluster.
    pub cluster: ClusterOptions,
}

/// What `rollback` did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackOutcome {
    /// Every service ended Ready on the revision asked for.
    pub succeeded: bool,
    /// One outcome per service rolled back.
    pub rollbacks: Vec<Outcome>,
    /// Services left alone because they have no earlier revision.
    pub unchanged: Vec<String>,
}

/// Rolls services back and waits, with the same readiness gate and
/// diagnosis as `up`.
///
/// # Errors
///
/// Input errors, [`crate::Error::NoCluster`], and the engine's errors
/// (a named service with no revision to return to among them).
pub async fn rollback(
    stack: &Stack,
    options: &RollbackOptions,
    reporter: &dyn rollout::Reporter,
) -> Result<RollbackOutcome> {
    let names: Vec<String> = options.service.iter().cloned().collect();
    let services = select::ordered(stack, &names, true)?;
    let mapping = hoist_config::resolve(stack, &options.env).ok();
    let cluster = cluster::connect(stack, &options.cluster).await?;
    let plan = plan::existing(stack, mapping.as_ref())?;
    let mut outcome = RollbackOutcome {
        succeeded: true,
        rollbacks: Vec::new(),
        unchanged: Vec::new(),
    };
    for service in services.iter().filter(|s| plan.release(s).is_some()) {
        match rollout::rollback(&cluster.target, &plan, service, options.to, reporter).await {
            Ok(done) => {
                outcome.succeeded &= done.succeeded;
                outcome.rollbacks.push(done);
            }
            Err(RolloutError::NoRevision { .. }) if options.service.is_none() => {
                outcome.unchanged.push(service.clone());
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(outcome)
}
