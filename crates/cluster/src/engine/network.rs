//! The project's names (in one place), its private network and its volumes.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder};

use super::{EngineError, PROJECT_LABEL, SERVICE_LABEL, daemon_message, is_not_found};

/// `<project>-net`: the project's private bridge network.
#[must_use]
pub fn network_name(project: &str) -> String {
    format!("{project}-net")
}

/// `<project>-<service>-<n>`, `n` from 1.
#[must_use]
pub fn container_name(project: &str, service: &str, replica: u16) -> String {
    format!("{project}-{service}-{replica}")
}

/// `<project>-<service>-<name>`: a service's named volume.
#[must_use]
pub fn volume_name(project: &str, service: &str, name: &str) -> String {
    format!("{project}-{service}-{name}")
}

/// The names a service answers to on the project network: the service
/// name, and `<project>-<service>`, the Service name the Kubernetes charts
/// get from hoist (`fullnameOverride`), so configuration written for the
/// cluster (`BACKEND_URL=http://todo-chatbot-backend:8000`) works unchanged.
#[must_use]
pub fn aliases(project: &str, service: &str) -> Vec<String> {
    vec![service.to_owned(), format!("{project}-{service}")]
}

fn labels(project: &str, service: Option<&str>) -> HashMap<String, String> {
    let mut labels = HashMap::from([(PROJECT_LABEL.to_owned(), project.to_owned())]);
    if let Some(service) = service {
        labels.insert(SERVICE_LABEL.to_owned(), service.to_owned());
    }
    labels
}

fn daemon(endpoint: &str, action: String) -> impl FnOnce(bollard::errors::Error) -> EngineError {
    let endpoint = endpoint.to_owned();
    move |error| EngineError::Daemon {
        endpoint,
        action,
        message: daemon_message(error),
    }
}

/// Creates the project network unless it exists; refuses one hoist did not make.
pub(super) async fn ensure_network(
    docker: &Docker,
    endpoint: &str,
    project: &str,
) -> Result<(String, bool), EngineError> {
    let name = network_name(project);
    match docker.inspect_network(&name, None).await {
        Ok(network) => {
            let ours = network
                .labels
                .as_ref()
                .and_then(|l| l.get(PROJECT_LABEL))
                .is_some_and(|p| p == project);
            if !ours {
                return Err(EngineError::NetworkTaken {
                    name,
                    project: project.to_owned(),
                    endpoint: endpoint.to_owned(),
                });
            }
            Ok((name, false))
        }
        Err(error) if is_not_found(&error) => {
            docker
                .create_network(NetworkCreateRequest {
                    name: name.clone(),
                    driver: Some("bridge".to_owned()),
                    labels: Some(labels(project, None)),
                    ..Default::default()
                })
                .await
                .map_err(daemon(endpoint, format!("create network {name}")))?;
            Ok((name, true))
        }
        Err(error) => Err(daemon(endpoint, format!("inspect network {name}"))(error)),
    }
}

/// Removes the project network; `false` when there was none.
pub(super) async fn remove_network(
    docker: &Docker,
    endpoint: &str,
    project: &str,
) -> Result<bool, EngineError> {
    let name = network_name(project);
    match docker.remove_network(&name).await {
        Ok(()) => Ok(true),
        Err(error) if is_not_found(&error) => Ok(false),
        Err(error) => Err(daemon(endpoint, format!("remove network {name}"))(error)),
    }
}

/// Creates a service's volume (the daemon keeps an existing one as is).
pub(super) async fn ensure_volume(
    docker: &Docker,
    endpoint: &str,
    project: &str,
    service: &str,
    volume: &str,
) -> Result<String, EngineError> {
    let name = volume_name(project, service, volume);
    docker
        .create_volume(VolumeCreateRequest {
            name: Some(name.clone()),
            labels: Some(labels(project, Some(service))),
            ..Default::default()
        })
        .await
        .map_err(daemon(endpoint, format!("create volume {name}")))?;
    Ok(name)
}

/// The project's volumes, sorted.
pub(super) async fn project_volumes(
    docker: &Docker,
    endpoint: &str,
    project: &str,
) -> Result<Vec<String>, EngineError> {
    let filters = HashMap::from([("label", vec![format!("{PROJECT_LABEL}={project}")])]);
    let listed = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(daemon(endpoint, "list volumes".to_owned()))?;
    let mut names: Vec<String> = listed
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    names.sort();
    Ok(names)
}

/// Removes a volume.
pub(super) async fn remove_volume(
    docker: &Docker,
    endpoint: &str,
    name: &str,
) -> Result<(), EngineError> {
    match docker
        .remove_volume(
            name,
            Some(RemoveVolumeOptionsBuilder::new().force(false).build()),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(daemon(endpoint, format!("remove volume {name}"))(error)),
    }
}
