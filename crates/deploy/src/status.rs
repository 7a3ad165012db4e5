//! `status`: per service, what the cluster runs and how to open it.

use hoist_cluster::rollout::{self, ServiceStatus};
use hoist_cluster::target;
use hoist_config::Stack;
use serde::Serialize;

use crate::access::Access;
use crate::cluster::{self, ClusterOptions};
use crate::{Result, plan, select};

/// What `status` is asked for.
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// The services to show (every service when empty).
    pub services: Vec<String>,
    /// Which cluster.
    pub cluster: ClusterOptions,
}

/// The stack as the cluster has it.
#[derive(Debug, Clone, Serialize)]
pub struct StatusOutcome {
    /// The project.
    pub project: String,
    /// The namespace.
    pub namespace: String,
    /// The kube context.
    pub context: String,
    /// What the context points at, in words.
    pub target: String,
    /// Per service with a chart, in rollout order.
    pub services: Vec<StatusRow>,
}

/// One service's status.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    /// Release, revision, image, readiness, restarts, age.
    #[serde(flatten)]
    pub status: ServiceStatus,
    /// How to open it, when it is installed and exposed.
    pub access: Option<Access>,
}

/// Reads every selected service's release and workloads.
///
/// # Errors
///
/// Input errors, [`crate::Error::NoCluster`], and API or helm failures.
pub async fn status(stack: &Stack, options: &StatusOptions) -> Result<StatusOutcome> {
    let levels = select::levels(stack, &options.services, true)?;
    let cluster = cluster::connect(stack, &options.cluster).await?;
    let detection = target::detect(&options.cluster.env, Some(&cluster.context.name)).await?;
    let mut plan = plan::existing(stack, None)?;
    // Only the selected services, in rollout order.
    for level in &mut plan.levels {
        level.retain(|r| levels.iter().flatten().any(|s| s == &r.service));
    }
    plan.levels.retain(|l| !l.is_empty());
    let statuses = rollout::status(&cluster.target, &plan).await?;
    let mut services = Vec::new();
    for status in statuses {
        let access = if status.revision.is_some() {
            crate::up::first_access(&cluster, &detection, stack, &status.service).await?
        } else {
            None
        };
        services.push(StatusRow { status, access });
    }
    Ok(StatusOutcome {
        project: stack.project.clone(),
        namespace: stack.namespace.clone(),
        context: cluster.context.name.clone(),
        target: detection.summary(),
        services,
    })
}
