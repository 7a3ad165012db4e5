//! Gathering the [`Facts`] for a kube context from the kubeconfig, the
//! Minikube profile, the local Docker daemon and, when that daemon runs pod
//! containers, the API server's nodes and their pods; then classifying them.

use std::path::Path;
use std::time::Duration;

use bollard::Docker;

use super::{
    Delivery, Detection, Facts, MinikubeFacts, classify, kube_nodes, node_containers,
    pod_containers,
};
use crate::deliver::{DeliverError, Destination, RegistryTarget};
use crate::docker::DockerEndpoint;
use crate::env::Environment;
use crate::{kubeconfig, minikube};

/// How long the local Docker daemon may take to answer before detection
/// goes on without it.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long each request to the API server about its nodes may take.
const API_TIMEOUT: Duration = Duration::from_secs(5);

/// The port Minikube's Docker daemon listens on inside its node.
const MINIKUBE_DOCKER_PORT: u16 = 2376;

/// Detects what `context` (or the current context) of the kubeconfig in
/// `env` points at, probing the Minikube profile and the local Docker daemon.
/// A daemon that does not answer is noted in the evidence, not an error.
///
/// # Errors
///
/// [`crate::Error::Kube`] when the kubeconfig or the context cannot be read,
/// [`crate::Error::Minikube`] when the context's Minikube profile is unreadable.
pub async fn detect(env: &Environment, context: Option<&str>) -> crate::Result<Detection> {
    let kubeconfig = kubeconfig::load(env)?;
    let context = kubeconfig.context(context)?;
    let profile = minikube::profile_for_context(env, &context)?;
    let local = DockerEndpoint::from_env(env);
    let mut notes = Vec::new();
    let docker = match local.connect(DOCKER_TIMEOUT).await {
        Ok((docker, _)) => Some(docker),
        Err(error) => {
            notes.push(format!(
                "the local Docker daemon did not answer ({error}); kind, k3d and Docker Desktop were not probed"
            ));
            None
        }
    };
    let mut facts = Facts {
        context: context.name.clone(),
        server: context.server.clone(),
        ..Facts::default()
    };
    if let Some(docker) = &docker {
        facts.nodes = node_containers(docker, &local.host).await?;
        facts.docker_os = docker
            .info()
            .await
            .ok()
            .and_then(|info| info.operating_system);
        facts.pod_containers = pod_containers(docker, &local.host).await?;
    }
    facts.docker_cert_dir = local
        .tls
        .as_ref()
        .and_then(|tls| tls.ca.parent().map(Path::to_path_buf));
    // Only a daemon running pod containers can be a node's runtime; the API
    // server is asked about its nodes only then.
    if !facts.pod_containers.is_empty() {
        let listed = match kubeconfig.client(&context, API_TIMEOUT).await {
            Ok(client) => kube_nodes(&client, API_TIMEOUT).await,
            Err(error) => Err(error.to_string()),
        };
        match listed {
            Ok(listed) => facts.kube_nodes = listed,
            Err(error) => notes.push(format!(
                "the Docker daemon at {} runs pod containers, but the API server's nodes could not be listed ({error}); the nodes' runtime was not probed",
                local.host
            )),
        }
    }
    facts.minikube = match profile {
        Some(profile) => {
            let docker_host = minikube_docker_host(&profile, docker.as_ref()).await;
            Some(MinikubeFacts {
                docker_host,
                cert_dir: Some(profile.certs_dir.clone()),
                profile: profile.name,
                driver: profile.driver,
                runtime: profile.container_runtime,
                node_ip: profile.node_ip,
            })
        }
        None => None,
    };
    let mut detection = classify(&facts, &local.host);
    notes.append(&mut detection.evidence);
    detection.evidence = notes;
    Ok(detection)
}

/// The endpoint `minikube docker-env` would print: the node's port 2376,
/// published on loopback by the container drivers.
async fn minikube_docker_host(
    profile: &minikube::Profile,
    docker: Option<&Docker>,
) -> Option<String> {
    if profile.container_runtime != "docker" {
        return None;
    }
    if profile.driver == "docker" || profile.driver == "podman" {
        let node = docker?.inspect_container(&profile.name, None).await.ok()?;
        let ports = node.network_settings?.ports?;
        let bindings = ports
            .get(&format!("{MINIKUBE_DOCKER_PORT}/tcp"))?
            .as_ref()?;
        let port = bindings.iter().find_map(|b| b.host_port.clone())?;
        return Some(format!("tcp://127.0.0.1:{port}"));
    }
    profile
        .node_ip
        .as_ref()
        .map(|ip| format!("tcp://{ip}:{MINIKUBE_DOCKER_PORT}"))
}

impl Detection {
    /// Where images for this target go. `registry` is required for remote
    /// clusters and, when given, overrides local delivery.
    ///
    /// # Errors
    ///
    /// [`DeliverError::RegistryNeeded`] for a remote cluster without `registry`.
    pub fn destination(
        &self,
        env: &Environment,
        registry: Option<RegistryTarget>,
    ) -> Result<Destination, DeliverError> {
        if let Some(registry) = registry {
            return Ok(Destination::Registry(registry));
        }
        let local = DockerEndpoint::from_env(env);
        Ok(match &self.delivery {
            Delivery::Daemon { host, cert_dir } => Destination::Daemon(DockerEndpoint {
                host: host.clone(),
                tls: cert_dir.as_deref().map(crate::docker::TlsFiles::in_dir),
            }),
            Delivery::Containerd { node } => Destination::Containerd {
                docker: local,
                node: node.clone(),
            },
            Delivery::MinikubeCli { profile } => Destination::MinikubeCli {
                profile: profile.clone(),
            },
            Delivery::Registry => {
                return Err(DeliverError::RegistryNeeded {
                    context: self.context.clone(),
                    reason: self.evidence.last().cloned().unwrap_or_default(),
                });
            }
        })
    }
}
