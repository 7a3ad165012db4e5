//! The local Docker daemon's kind and k3d node containers.

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptions;
use serde::Serialize;

use super::{K3D_CLUSTER_LABEL, KIND_CLUSTER_LABEL};
use crate::deliver::DeliverError;

/// The port a Kubernetes API server listens on inside kind and k3d containers.
const API_PORT: u16 = 6443;

/// A running container that carries a kind or k3d cluster label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeContainer {
    /// Its name, without Docker's leading `/`.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Host ports that publish its port 6443 (the API server).
    pub api_ports: Vec<u16>,
}

/// Lists the running containers of `docker` labelled as kind or k3d nodes.
///
/// # Errors
///
/// [`DeliverError::DaemonUnreachable`] naming `endpoint` when the daemon
/// does not answer.
pub async fn node_containers(
    docker: &Docker,
    endpoint: &str,
) -> Result<Vec<NodeContainer>, DeliverError> {
    let mut nodes = Vec::new();
    for label in [KIND_CLUSTER_LABEL, K3D_CLUSTER_LABEL] {
        let listed = labelled_containers(docker, endpoint, &[label]).await?;
        nodes.extend(listed.into_iter().map(|summary| {
            NodeContainer {
                name: container_name(&summary),
                labels: summary.labels.unwrap_or_default().into_iter().collect(),
                api_ports: summary
                    .ports
                    .unwrap_or_default()
                    .iter()
                    .filter(|p| p.private_port == API_PORT)
                    .filter_map(|p| p.public_port)
                    .collect(),
            }
        }));
    }
    Ok(nodes)
}

/// The running containers of `docker` that carry every one of `labels`.
pub(super) async fn labelled_containers(
    docker: &Docker,
    endpoint: &str,
    labels: &[&str],
) -> Result<Vec<ContainerSummary>, DeliverError> {
    let options = ListContainersOptions {
        filters: Some(HashMap::from([(
            "label".to_owned(),
            labels.iter().map(|l| (*l).to_owned()).collect(),
        )])),
        ..ListContainersOptions::default()
    };
    docker
        .list_containers(Some(options))
        .await
        .map_err(|error| DeliverError::DaemonUnreachable {
            endpoint: endpoint.to_owned(),
            message: error.to_string(),
        })
}

/// A container's first name, without Docker's leading `/`.
pub(super) fn container_name(summary: &ContainerSummary) -> String {
    summary
        .names
        .as_ref()
        .and_then(|names| names.first())
        .map(|n| n.trim_start_matches('/').to_owned())
        .unwrap_or_default()
}
