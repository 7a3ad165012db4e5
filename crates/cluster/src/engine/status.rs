//! `status` and `down`: what the project runs, and taking it away.

use bollard::models::{ContainerStateStatusEnum, HealthStatusEnum};
use serde::Serialize;

use super::plan::EngineProject;
use super::{EngineError, connect, containers, network, short_id};

/// One container of the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ContainerStatus {
    /// The service.
    pub service: String,
    /// `<project>-<service>-<n>`.
    pub name: String,
    /// The short container ID.
    pub id: String,
    /// The image reference it runs.
    pub image: String,
    /// Docker's state: `running`, `exited`, `restarting`, ...
    pub state: String,
    /// The HEALTHCHECK's status when the image has one: `healthy`, ...
    pub health: Option<String>,
    /// The exit code, when not running.
    pub exit_code: Option<i64>,
    /// How often Docker restarted it.
    pub restarts: i64,
    /// Published addresses, e.g. `http://127.0.0.1:3000/` (ephemeral
    /// check ports included).
    pub published: Vec<String>,
}

/// What runs for the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EngineStatus {
    /// The project.
    pub project: String,
    /// Its network, when it exists.
    pub network: Option<String>,
    /// Its containers, by service and replica.
    pub containers: Vec<ContainerStatus>,
    /// Its volumes.
    pub volumes: Vec<String>,
}

impl EngineStatus {
    /// Whether every container runs (and is healthy where it has a HEALTHCHECK).
    #[must_use]
    pub fn all_running(&self) -> bool {
        !self.containers.is_empty()
            && self
                .containers
                .iter()
                .all(|c| c.state == "running" && c.health.as_deref().is_none_or(|h| h == "healthy"))
    }
}

/// The project's containers, network and volumes.
///
/// # Errors
///
/// [`EngineError::NoEngine`] when no daemon answers, [`EngineError::Daemon`]
/// when it refuses a listing.
pub async fn status(project: &EngineProject) -> Result<EngineStatus, EngineError> {
    let docker = connect(&project.endpoint).await?;
    let endpoint = project.endpoint.host.as_str();
    let mut result = EngineStatus {
        project: project.name.clone(),
        network: None,
        containers: Vec::new(),
        volumes: network::project_volumes(&docker, endpoint, &project.name).await?,
    };
    let name = network::network_name(&project.name);
    if docker.inspect_network(&name, None).await.is_ok() {
        result.network = Some(name);
    }
    for container in containers::list(&docker, endpoint, &project.name, None).await? {
        let Ok(info) = docker.inspect_container(&container.id, None).await else {
            continue; // Removed since the listing.
        };
        let state = info.state.clone().unwrap_or_default();
        let running = state.status == Some(ContainerStateStatusEnum::RUNNING);
        let mut published: Vec<String> = info
            .network_settings
            .as_ref()
            .and_then(|n| n.ports.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|(_, bindings)| bindings.as_ref())
            .flatten()
            .filter_map(|b| {
                let port = b.host_port.as_deref().filter(|p| !p.is_empty())?;
                let ip = b
                    .host_ip
                    .as_deref()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or("0.0.0.0");
                Some(format!("http://{ip}:{port}/"))
            })
            .collect();
        published.sort();
        result.containers.push(ContainerStatus {
            service: container.service.clone(),
            name: container.name.clone(),
            id: short_id(&container.id),
            image: container.summary.image.clone().unwrap_or_default(),
            state: state
                .status
                .map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
            health: state
                .health
                .and_then(|h| h.status)
                .filter(|s| !matches!(s, HealthStatusEnum::NONE | HealthStatusEnum::EMPTY))
                .map(|s| s.to_string()),
            exit_code: if running { None } else { state.exit_code },
            restarts: info.restart_count.unwrap_or(0),
            published,
        });
    }
    Ok(result)
}

/// What `down` removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DownOutcome {
    /// The project.
    pub project: String,
    /// Containers removed.
    pub containers: Vec<String>,
    /// Whether the network was removed (`false`: there was none).
    pub network_removed: bool,
    /// Volumes removed (`down --volumes`).
    pub volumes_removed: Vec<String>,
    /// Volumes kept (without `--volumes`): the data survives the next `up`.
    pub volumes_kept: Vec<String>,
}

/// Stops and removes the project's containers and its network; with
/// `volumes`, its volumes too (their data is gone).
///
/// # Errors
///
/// [`EngineError::NoEngine`] when no daemon answers, [`EngineError::Daemon`]
/// when it refuses a removal.
pub async fn down(project: &EngineProject, volumes: bool) -> Result<DownOutcome, EngineError> {
    let docker = connect(&project.endpoint).await?;
    let endpoint = project.endpoint.host.as_str();
    let listed = containers::list(&docker, endpoint, &project.name, None).await?;
    let removals = listed
        .iter()
        .map(|c| containers::remove(&docker, endpoint, &c.name));
    for result in futures::future::join_all(removals).await {
        result?;
    }
    let network_removed = network::remove_network(&docker, endpoint, &project.name).await?;
    let project_volumes = network::project_volumes(&docker, endpoint, &project.name).await?;
    let mut outcome = DownOutcome {
        project: project.name.clone(),
        containers: listed.into_iter().map(|c| c.name).collect(),
        network_removed,
        volumes_removed: Vec::new(),
        volumes_kept: Vec::new(),
    };
    if volumes {
        for volume in project_volumes {
            network::remove_volume(&docker, endpoint, &volume).await?;
            outcome.volumes_removed.push(volume);
        }
    } else {
        outcome.volumes_kept = project_volumes;
    }
    Ok(outcome)
}
