//! `up`: the network, the volumes, then the services level by level, each
//! gated on its readiness.

use std::collections::BTreeMap;
use std::time::Instant;

use bollard::Docker;
use hoist_imager::Reporter;
use serde::Serialize;

use super::containers::{self, Existing};
use super::diagnose::{Cause, Finding};
use super::health::{Gate, Watch};
use super::network::{self, container_name};
use super::plan::{EnginePlan, ServicePlan};
use super::{EngineError, connect, is_not_found, short_id};

/// What happened to one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Made and started; there was none.
    Created,
    /// Made and started in place of one with another fingerprint, or one
    /// that was not running.
    Replaced,
    /// Left running as it was.
    Unchanged,
    /// Removed: a replica beyond `replicas`.
    Removed,
}

/// One container of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerOutcome {
    /// `<project>-<service>-<n>`.
    pub name: String,
    /// The short container ID (empty when the daemon refused to make it).
    pub id: String,
    /// What `up` did with it.
    pub action: Action,
}

/// One service `up` reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceOutcome {
    /// The service.
    pub service: String,
    /// Its containers.
    pub containers: Vec<ContainerOutcome>,
    /// The readiness check, in words.
    pub check: String,
    /// Whether every replica passed it.
    pub ready: bool,
    /// Milliseconds from the service's start to ready (or to its finding).
    pub elapsed_ms: u128,
}

/// A published service's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedUrl {
    /// The service.
    pub service: String,
    /// `http://127.0.0.1:<port>/`.
    pub url: String,
}

/// What `up` did. Every text in it has the stack's secret values masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EngineOutcome {
    /// The project.
    pub project: String,
    /// Its network.
    pub network: String,
    /// The services `up` reached, in start order.
    pub services: Vec<ServiceOutcome>,
    /// Services never started because an earlier level failed.
    pub not_started: Vec<String>,
    /// Why services are not ready; empty when all are.
    pub findings: Vec<Finding>,
    /// Addresses of the published services.
    pub urls: Vec<PublishedUrl>,
    /// Whether anything was created, replaced or removed.
    pub changed: bool,
}

impl EngineOutcome {
    /// Whether every service is ready (the CLI exits 1 otherwise).
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        self.findings.is_empty() && self.not_started.is_empty()
    }
}

/// Runs the plan: see the module docs for the order, the gating and the
/// idempotence rules.
///
/// # Errors
///
/// [`EngineError::NoEngine`] when no daemon answers, [`EngineError::NetworkTaken`]
/// and [`EngineError::Daemon`] when the daemon refuses the network, a
/// volume or a listing. Services that fail are [`Finding`]s in the
/// outcome, not errors.
pub async fn up(plan: &EnginePlan, reporter: &dyn Reporter) -> Result<EngineOutcome, EngineError> {
    let docker = connect(&plan.project.endpoint).await?;
    let endpoint = plan.project.endpoint.host.as_str();
    let project = plan.project.name.as_str();
    let mut outcome = EngineOutcome {
        project: project.to_owned(),
        network: network::network_name(project),
        services: Vec::new(),
        not_started: Vec::new(),
        findings: Vec::new(),
        urls: Vec::new(),
        changed: false,
    };

    // Every image first: a missing one stops `up` before anything starts.
    let mut images = BTreeMap::new();
    for service in plan.services.values() {
        match docker.inspect_image(&service.image).await {
            Ok(image) => {
                let healthcheck = image
                    .config
                    .as_ref()
                    .and_then(|c| c.healthcheck.as_ref())
                    .and_then(|h| h.test.as_ref())
                    .is_some_and(|test| test.first().is_some_and(|t| t != "NONE"));
                images.insert(service.name.clone(), (image.id.unwrap_or_default(), healthcheck));
            }
            Err(error) if is_not_found(&error) => outcome.findings.push(Finding::new(
                &service.name,
                Cause::ImageMissing,
                format!("image {} is not in the Docker daemon at {endpoint}", service.image),
                "load it with `hoist load --target docker` (or let `hoist up --engine docker` build and load it), then run up again".to_owned(),
            )),
            Err(error) => {
                return Err(EngineError::Daemon {
                    endpoint: endpoint.to_owned(),
                    action: format!("inspect image {}", service.image),
                    message: super::daemon_message(error),
                });
            }
        }
    }
    if !outcome.findings.is_empty() {
        outcome.not_started = plan.levels.iter().flatten().cloned().collect();
        return Ok(outcome);
    }

    let (_, created) = network::ensure_network(&docker, endpoint, project).await?;
    outcome.changed |= created;
    for service in plan.services.values() {
        for volume in &service.volumes {
            network::ensure_volume(&docker, endpoint, project, &service.name, &volume.name).await?;
        }
    }

    for (index, level) in plan.levels.iter().enumerate() {
        let runs = level
            .iter()
            .filter_map(|name| plan.services.get(name))
            .map(|service| {
                let (image_id, healthcheck) = &images[&service.name];
                let gate = Gate::for_service(service, *healthcheck);
                run_service(&docker, plan, service, image_id, gate, reporter)
            });
        for result in futures::future::join_all(runs).await {
            let (service, finding) = result?;
            outcome.changed |= service
                .containers
                .iter()
                .any(|c| c.action != Action::Unchanged);
            outcome.services.push(service);
            outcome.findings.extend(finding);
        }
        if !outcome.findings.is_empty() {
            outcome.not_started = plan.levels[index + 1..].iter().flatten().cloned().collect();
            return Ok(outcome);
        }
    }
    outcome.urls = plan
        .services
        .values()
        .filter_map(|s| {
            s.publish.map(|(host, _)| PublishedUrl {
                service: s.name.clone(),
                url: format!("http://127.0.0.1:{host}/"),
            })
        })
        .collect();
    Ok(outcome)
}

/// A container `up` started or kept, to wait for.
struct Started {
    name: String,
    id: String,
    action: Action,
    baseline_restarts: i64,
}

/// Brings one service's containers to the plan and waits for them.
async fn run_service(
    docker: &Docker,
    plan: &EnginePlan,
    service: &ServicePlan,
    image_id: &str,
    gate: Gate,
    reporter: &dyn Reporter,
) -> Result<(ServiceOutcome, Option<Finding>), EngineError> {
    let endpoint = plan.project.endpoint.host.as_str();
    let project = plan.project.name.as_str();
    let task = reporter.on_start(&format!("{} ({})", service.name, gate.describe()), None);
    let started = Instant::now();
    let mut result = ServiceOutcome {
        service: service.name.clone(),
        containers: Vec::new(),
        check: gate.describe(),
        ready: false,
        elapsed_ms: 0,
    };
    let (waits, mut finding) = converge(
        docker,
        plan,
        service,
        image_id,
        &gate,
        &mut result.containers,
    )
    .await?;
    if finding.is_none() {
        let watches = waits.iter().map(|w| Watch {
            docker,
            masker: &plan.project.masker,
            project,
            service,
            container: &w.name,
            gate: &gate,
            baseline_restarts: w.baseline_restarts,
        });
        let results =
            futures::future::join_all(watches.map(|w| async move { w.ready().await })).await;
        finding = results.into_iter().find_map(Result::err);
    }
    if finding.is_none() {
        for w in waits.iter().filter(|w| w.action != Action::Unchanged) {
            containers::keep_running(docker, &w.id)
                .await
                .map_err(|message| EngineError::Daemon {
                    endpoint: endpoint.to_owned(),
                    action: format!("set the restart policy of {}", w.name),
                    message,
                })?;
        }
    }
    result.ready = finding.is_none();
    result.elapsed_ms = started.elapsed().as_millis();
    let summary = match &finding {
        None if result
            .containers
            .iter()
            .all(|c| c.action == Action::Unchanged) =>
        {
            "unchanged, ready".to_owned()
        }
        None => format!("ready in {:.1}s", started.elapsed().as_secs_f32()),
        Some(f) => format!("failed: {}", f.message),
    };
    reporter.on_finish(task, &summary);
    Ok((result, finding))
}

/// Removes extra replicas, keeps containers whose fingerprint matches and
/// that run, and replaces or creates the others. A container the daemon
/// refuses to make or start is a finding.
async fn converge(
    docker: &Docker,
    plan: &EnginePlan,
    service: &ServicePlan,
    image_id: &str,
    gate: &Gate,
    outcomes: &mut Vec<ContainerOutcome>,
) -> Result<(Vec<Started>, Option<Finding>), EngineError> {
    let endpoint = plan.project.endpoint.host.as_str();
    let project = plan.project.name.as_str();
    let fingerprint = service.fingerprint(image_id);
    let existing = containers::list(docker, endpoint, project, Some(&service.name)).await?;
    for extra in existing
        .iter()
        .filter(|c| c.replica == 0 || c.replica > service.replicas)
    {
        containers::remove(docker, endpoint, &extra.name).await?;
        outcomes.push(ContainerOutcome {
            name: extra.name.clone(),
            id: short_id(&extra.id),
            action: Action::Removed,
        });
    }
    let mut waits = Vec::new();
    for replica in 1..=service.replicas {
        let name = container_name(project, &service.name, replica);
        let current: Option<&Existing> = existing.iter().find(|c| c.name == name);
        if let Some(c) = current.filter(|c| c.running && c.fingerprint == fingerprint) {
            let baseline_restarts = docker
                .inspect_container(&c.id, None)
                .await
                .ok()
                .and_then(|i| i.restart_count)
                .unwrap_or(0);
            outcomes.push(ContainerOutcome {
                name: name.clone(),
                id: short_id(&c.id),
                action: Action::Unchanged,
            });
            waits.push(Started {
                name,
                id: c.id.clone(),
                action: Action::Unchanged,
                baseline_restarts,
            });
            continue;
        }
        let action = if current.is_some() {
            containers::remove(docker, endpoint, &name).await?;
            Action::Replaced
        } else {
            Action::Created
        };
        let body = containers::create_body(project, service, replica, &fingerprint, gate.check());
        match containers::create_and_start(docker, &name, body).await {
            Ok(id) => {
                outcomes.push(ContainerOutcome {
                    name: name.clone(),
                    id: short_id(&id),
                    action,
                });
                waits.push(Started {
                    name,
                    id,
                    action,
                    baseline_restarts: 0,
                });
            }
            Err(message) => {
                let message = plan.project.masker.mask(&message);
                // A created but unstartable container would hold the name.
                let _ = containers::remove(docker, endpoint, &name).await;
                outcomes.push(ContainerOutcome {
                    name: name.clone(),
                    id: String::new(),
                    action,
                });
                let finding = Finding::new(
                    &service.name,
                    Cause::StartFailed,
                    format!("the Docker daemon could not start {name}: {message}"),
                    start_fix(&message, service),
                )
                .with_logs(&name, Vec::new());
                return Ok((waits, Some(finding)));
            }
        }
    }
    Ok((waits, None))
}

fn start_fix(message: &str, service: &ServicePlan) -> String {
    if message.contains("port is already allocated") || message.contains("address already in use") {
        let port = service.publish.map_or(0, |(host, _)| host);
        format!(
            "host port {port} on 127.0.0.1 is taken; stop what uses it or set another `publish` port for service `{}` in hoist.toml",
            service.name
        )
    } else {
        "fix what the daemon names and run `hoist up --engine docker` again".to_owned()
    }
}
