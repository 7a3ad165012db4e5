//! The stack on a plain Docker engine: `up`, `status`, `logs` and `down`
//! when the engine is `docker` (`--engine docker`, or `engine = "docker"`
//! in hoist.toml; the flag wins). hoist-cluster's `engine` module runs
//! the containers; this module feeds it the same steps as the Kubernetes
//! path.
//!
//! - `up` selects, maps and builds exactly as on Kubernetes (the same
//!   code, so the same cache and the same input errors before anything
//!   connects); the images are loaded by digest into the daemon
//!   `DOCKER_HOST` names through the same daemon loader `hoist load
//!   --target docker` uses; then `engine::up` starts the selected
//!   services level by level, gated on their `ready` checks. No kube
//!   context, helm or registry is involved: the CLI refuses `--registry`;
//!   `--context`, `--timeout` and `--no-rollback` do not apply (a failed
//!   container is left as it is, stopped, with its logs).
//! - The daemon is asked first whether it answers, so a missing engine
//!   is named (DOCKER_HOST and the fix) before anything is built.
//! - Selecting services (`up backend`) starts those and what they depend
//!   on (`--only`: exactly those); containers of other services are left
//!   as they are.
//! - A service without an `image` table cannot run here: hoist runs only
//!   images it builds, so `up` stops before building and names it.
//! - `ready`/`desired` per service: the engine reports whether every
//!   replica passed its check, so `ready` is `desired` or 0.
//! - `status` lists the project's containers (of the named services),
//!   `logs` streams them (`--since` is Kubernetes-only; `--tail` works),
//!   `down` removes the whole project's containers and network, volumes
//!   only with `--volumes`; naming services for `down` is refused.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use hoist_cluster::deliver::{self, Delivered, Destination};
use hoist_cluster::docker::DockerEndpoint;
use hoist_cluster::engine::{
    self, DownOutcome, EngineError, EngineOutcome, EnginePlan, EngineProject, EngineStatus,
    Finding, LogLine, LogOptions, PublishedUrl,
};
use hoist_config::{Mapping, Stack};
use serde::Serialize;

use crate::images::{BuildSummary, DeliverSummary, short_digest};
use crate::report::{Reporter, Step, StepState};
use crate::{
    ClusterOptions, DownOptions, LogsOptions, Result, Skipped, StatusOptions, UpOptions, prepare,
    select,
};

/// What `up` did on the Docker engine.
#[derive(Debug, Clone, Serialize)]
pub struct EngineUpOutcome {
    /// The project.
    pub project: String,
    /// Always `docker`.
    pub engine: hoist_config::Engine,
    /// The daemon (`DOCKER_HOST`).
    pub endpoint: String,
    /// The project's network.
    pub network: String,
    /// Every selected service is ready.
    pub succeeded: bool,
    /// Whether any container was created, replaced or removed.
    pub changed: bool,
    /// Per selected service, in start order.
    pub services: Vec<EngineServiceSummary>,
    /// Services never started because one they depend on failed.
    pub not_started: Vec<String>,
    /// Why services are not ready (empty on success), secrets masked.
    pub findings: Vec<Finding>,
    /// The published services' addresses.
    pub urls: Vec<PublishedUrl>,
}

/// One service's part of an [`EngineUpOutcome`].
#[derive(Debug, Clone, Serialize)]
pub struct EngineServiceSummary {
    /// The service.
    pub service: String,
    /// Its image build.
    pub build: Option<BuildSummary>,
    /// Its image delivery into the daemon.
    pub deliver: Option<DeliverSummary>,
    /// The image's short digest, `sha256:<12 hex>`.
    pub image: Option<String>,
    /// What the engine did with its containers (none when not started).
    pub run: Option<engine::ServiceOutcome>,
    /// Replicas that passed their readiness check.
    pub ready: u16,
    /// Replicas asked for (`replicas`).
    pub desired: u16,
    /// Its published address, when it has one.
    pub url: Option<String>,
    /// The steps that did nothing, and why.
    pub skipped: Vec<Skipped>,
}

/// The daemon `DOCKER_HOST` (and `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`)
/// name in `options`' environment.
#[must_use]
pub fn endpoint(options: &ClusterOptions) -> DockerEndpoint {
    DockerEndpoint::from_env(&options.env)
}

/// Builds the selected services, loads their images into the daemon and
/// runs them there, each level gated on the readiness of the one before.
///
/// # Errors
///
/// Input errors (as for Kubernetes, and `--registry` or a service without
/// an image table), no engine answering, a failed build or load, and the
/// daemon refusing the network or a volume. A service that fails to get
/// ready is an outcome with `succeeded: false` and findings.
pub async fn up(
    stack: &Stack,
    options: &UpOptions,
    reporter: &dyn Reporter,
) -> Result<EngineUpOutcome> {
    let selection = prepare::select(stack, options)?;
    if let Some(service) = selection
        .services
        .iter()
        .find(|s| !selection.recipes.iter().any(|(r, _)| r == *s))
    {
        return Err(plan_error(
            service,
            &format!(
                "it has no `image` table in {}, and the Docker engine runs only images hoist builds; add one, or leave the service out (`hoist up --engine docker SERVICE... --only`)",
                stack.path.display()
            ),
        ));
    }
    let endpoint = endpoint(&options.cluster);
    // Nothing is built for a daemon that is not there.
    engine::status(&project(stack, &endpoint, None))
        .await
        .map_err(hoist_cluster::Error::from)?;
    let loader = deliver::open(Destination::Daemon(endpoint.clone())).await?;
    let prepare::Images { built, delivered } =
        prepare::build_and_deliver(stack, &selection, options, loader.as_ref(), reporter).await?;

    let images: BTreeMap<String, Delivered> = delivered
        .iter()
        .map(|(service, d)| {
            (
                service.clone(),
                Delivered {
                    digest: d.digest.clone(),
                    reference: d.reference.clone(),
                    bytes_sent: d.bytes_sent,
                    skipped: d.skipped,
                    via: d.via,
                },
            )
        })
        .collect();
    let selected = selected_stack(stack, &selection.services);
    let plan = EnginePlan::new(&selected, &selection.mapping, &images, endpoint.clone())
        .map_err(hoist_cluster::Error::from)?;
    for service in &selection.services {
        reporter.on_step(service, Step::Rollout, &StepState::Started);
    }
    let outcome = engine::up(&plan, reporter)
        .await
        .map_err(hoist_cluster::Error::from)?;
    for service in &outcome.services {
        reporter.on_step(&service.service, Step::Rollout, &run_state(service));
    }
    Ok(summarize(
        stack,
        &selection.services,
        &plan,
        outcome,
        &endpoint,
        &built,
        &delivered,
    ))
}

/// The project's containers (of the selected services), network and
/// volumes on the daemon.
///
/// # Errors
///
/// Input errors, and no engine answering.
pub async fn status(stack: &Stack, options: &StatusOptions) -> Result<EngineStatus> {
    let services = select::ordered(stack, &options.services, true)?;
    let mut status = engine::status(&project(stack, &endpoint(&options.cluster), None))
        .await
        .map_err(hoist_cluster::Error::from)?;
    status.containers.retain(|c| services.contains(&c.service));
    Ok(status)
}

/// The lines of the selected service's containers (every service's when
/// none is named), secret values masked when the stack's `.env` can be
/// read; with `follow`, through restarts and replacements.
///
/// # Errors
///
/// Input errors, and no engine answering; errors while streaming are
/// items of the stream.
pub async fn logs(
    stack: &Stack,
    options: &LogsOptions,
) -> Result<BoxStream<'static, std::result::Result<LogLine, EngineError>>> {
    let names: Vec<String> = options.service.iter().cloned().collect();
    let services = select::ordered(stack, &names, true)?;
    let mapping = hoist_config::resolve(stack, &options.env).ok();
    let project = project(stack, &endpoint(&options.cluster), mapping.as_ref());
    let tail = options.tail.and_then(|t| usize::try_from(t).ok());
    let options = LogOptions::new(services, options.follow, tail);
    let stream = engine::logs(&project, &options)
        .await
        .map_err(hoist_cluster::Error::from)?;
    Ok(stream.boxed())
}

/// Removes the project's containers and network; its volumes too when
/// `options.volumes`.
///
/// # Errors
///
/// Services named (the engine removes the whole project), and no engine
/// answering.
pub async fn down(stack: &Stack, options: &DownOptions) -> Result<DownOutcome> {
    if !options.services.is_empty() {
        select::ordered(stack, &options.services, true)?;
        return Err(plan_error(
            &options.services.join(", "),
            "`hoist down --engine docker` removes the whole project; leave the service names out (or `docker rm -f` a container by hand)",
        ));
    }
    let mapping = hoist_config::resolve(stack, &options.env).ok();
    Ok(engine::down(
        &project(stack, &endpoint(&options.cluster), mapping.as_ref()),
        options.volumes,
    )
    .await
    .map_err(hoist_cluster::Error::from)?)
}

fn project(stack: &Stack, endpoint: &DockerEndpoint, mapping: Option<&Mapping>) -> EngineProject {
    EngineProject::new(&stack.project, endpoint.clone(), mapping)
}

pub(crate) fn plan_error(service: &str, message: &str) -> crate::Error {
    hoist_cluster::Error::from(EngineError::Plan {
        service: service.to_owned(),
        message: message.to_owned(),
    })
    .into()
}

/// `stack` with only the selected services, and only the dependencies
/// among them (`--only`), so the engine plans exactly those.
fn selected_stack(stack: &Stack, services: &[String]) -> Stack {
    let mut selected = stack.clone();
    selected.services.retain(|name, _| services.contains(name));
    for service in selected.services.values_mut() {
        service
            .depends_on
            .retain(|d| services.contains(d.get_ref()));
    }
    selected
}

fn run_state(service: &engine::ServiceOutcome) -> StepState {
    let unchanged = service
        .containers
        .iter()
        .all(|c| c.action == engine::Action::Unchanged);
    match (service.ready, unchanged) {
        (true, true) => StepState::Skipped(format!("unchanged and ready ({})", service.check)),
        (true, false) => StepState::Done(format!(
            "ready in {:.1}s ({})",
            Duration::from_millis(u64::try_from(service.elapsed_ms).unwrap_or(u64::MAX))
                .as_secs_f32(),
            service.check
        )),
        (false, _) => StepState::Done(format!("not ready ({})", service.check)),
    }
}

fn summarize(
    stack: &Stack,
    services: &[String],
    plan: &EnginePlan,
    outcome: EngineOutcome,
    endpoint: &DockerEndpoint,
    built: &BTreeMap<String, BuildSummary>,
    delivered: &BTreeMap<String, DeliverSummary>,
) -> EngineUpOutcome {
    let succeeded = outcome.is_healthy();
    let summaries = services
        .iter()
        .map(|service| {
            let run = outcome
                .services
                .iter()
                .find(|s| &s.service == service)
                .cloned();
            let desired = plan.services.get(service).map_or(1, |s| s.replicas);
            let mut skipped = prepare::skipped(built.get(service), delivered.get(service));
            if run.as_ref().is_some_and(|r| {
                r.ready
                    && r.containers
                        .iter()
                        .all(|c| c.action == engine::Action::Unchanged)
            }) {
                skipped.push(Skipped {
                    step: Step::Rollout,
                    reason:
                        "image, configuration and settings unchanged, containers running and ready"
                            .to_owned(),
                });
            }
            EngineServiceSummary {
                service: service.clone(),
                build: built.get(service).cloned(),
                deliver: delivered.get(service).cloned(),
                image: delivered.get(service).map(|d| short_digest(&d.digest)),
                ready: if run.as_ref().is_some_and(|r| r.ready) {
                    desired
                } else {
                    0
                },
                desired,
                run,
                url: outcome
                    .urls
                    .iter()
                    .find(|u| &u.service == service)
                    .map(|u| u.url.clone()),
                skipped,
            }
        })
        .collect();
    EngineUpOutcome {
        project: stack.project.clone(),
        engine: hoist_config::Engine::Docker,
        endpoint: endpoint.host.clone(),
        network: outcome.network,
        succeeded,
        changed: outcome.changed,
        services: summaries,
        not_started: outcome.not_started,
        findings: outcome.findings,
        urls: outcome.urls,
    }
}
