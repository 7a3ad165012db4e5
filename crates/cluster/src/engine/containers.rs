//! Creating, starting, finding and removing the project's containers.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, ContainerUpdateBody, EndpointSettings, HostConfig,
    Mount, MountType, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use hoist_config::{CONFIG_HASH_ANNOTATION, ReadyCheck};

use super::network::{aliases, container_name, network_name, volume_name};
use super::plan::ServicePlan;
use super::{
    EngineError, FINGERPRINT_LABEL, PROJECT_LABEL, REPLICA_LABEL, SERVICE_LABEL, daemon_message,
    is_not_found,
};

/// How long `stop` waits before killing, as compose does.
const STOP_TIMEOUT_SECS: i32 = 10;

/// One of the project's containers as listed.
#[derive(Debug, Clone)]
pub(super) struct Existing {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) service: String,
    pub(super) replica: u16,
    pub(super) fingerprint: String,
    pub(super) running: bool,
    pub(super) summary: ContainerSummary,
}

/// The project's containers (all states), optionally of one service.
pub(super) async fn list(
    docker: &Docker,
    endpoint: &str,
    project: &str,
    service: Option<&str>,
) -> Result<Vec<Existing>, EngineError> {
    let mut label = vec![format!("{PROJECT_LABEL}={project}")];
    if let Some(service) = service {
        label.push(format!("{SERVICE_LABEL}={service}"));
    }
    let filters = HashMap::from([("label", label)]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let listed = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| EngineError::Daemon {
            endpoint: endpoint.to_owned(),
            action: format!("list the containers of project {project}"),
            message: daemon_message(e),
        })?;
    let mut found: Vec<Existing> = listed
        .into_iter()
        .map(|summary| {
            let labels = summary.labels.clone().unwrap_or_default();
            let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
            Existing {
                id: summary.id.clone().unwrap_or_default(),
                name: summary
                    .names
                    .as_ref()
                    .and_then(|n| n.first())
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .unwrap_or_default(),
                service: label(SERVICE_LABEL),
                replica: label(REPLICA_LABEL).parse().unwrap_or(0),
                fingerprint: label(FINGERPRINT_LABEL),
                running: summary
                    .state
                    .as_ref()
                    .is_some_and(|s| *s == bollard::models::ContainerSummaryStateEnum::RUNNING),
                summary,
            }
        })
        .collect();
    found.sort_by(|a, b| (&a.service, a.replica).cmp(&(&b.service, b.replica)));
    Ok(found)
}

/// The container port a check probes from the host, if any.
pub(super) fn probed_port(check: Option<&ReadyCheck>) -> Option<u16> {
    match check? {
        ReadyCheck::Http { port, .. } | ReadyCheck::Tcp { port } => Some(*port),
        ReadyCheck::Exec { .. } => None,
    }
}

/// The create request for one replica. `check` is the resolved readiness
/// check, whose port is published on an ephemeral loopback port.
pub(super) fn create_body(
    project: &str,
    service: &ServicePlan,
    replica: u16,
    fingerprint: &str,
    check: Option<&ReadyCheck>,
) -> ContainerCreateBody {
    let name = container_name(project, &service.name, replica);
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let loopback = |port: String| {
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".to_owned()),
            host_port: Some(port),
        }])
    };
    if let Some((host, container)) = service.publish {
        bindings.insert(format!("{container}/tcp"), loopback(host.to_string()));
    }
    if let Some(port) = probed_port(check) {
        bindings
            .entry(format!("{port}/tcp"))
            .or_insert_with(|| loopback(String::new()));
    }
    let mut exposed: Vec<String> = service.ports.iter().map(|p| format!("{p}/tcp")).collect();
    exposed.extend(bindings.keys().cloned());
    exposed.sort();
    exposed.dedup();
    let labels = HashMap::from([
        (PROJECT_LABEL.to_owned(), project.to_owned()),
        (SERVICE_LABEL.to_owned(), service.name.clone()),
        (REPLICA_LABEL.to_owned(), replica.to_string()),
        (FINGERPRINT_LABEL.to_owned(), fingerprint.to_owned()),
        (
            CONFIG_HASH_ANNOTATION.to_owned(),
            service.config_hash.clone(),
        ),
    ]);
    let mounts = service
        .volumes
        .iter()
        .map(|v| Mount {
            target: Some(v.path.clone()),
            source: Some(volume_name(project, &service.name, &v.name)),
            typ: Some(MountType::VOLUME),
            ..Default::default()
        })
        .collect();
    let network = network_name(project);
    ContainerCreateBody {
        image: Some(service.image.clone()),
        hostname: Some(name),
        env: Some(service.docker_env()),
        labels: Some(labels),
        exposed_ports: Some(exposed),
        host_config: Some(HostConfig {
            port_bindings: Some(bindings),
            mounts: Some(mounts),
            // `no` until ready, so a failed start keeps its exit code; see `up`.
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::NO),
                maximum_retry_count: None,
            }),
            network_mode: Some(network.clone()),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network,
                EndpointSettings {
                    aliases: Some(aliases(project, &service.name)),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    }
}

/// Creates and starts a container; the daemon's refusal as its message.
pub(super) async fn create_and_start(
    docker: &Docker,
    name: &str,
    body: ContainerCreateBody,
) -> Result<String, String> {
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    let created = docker
        .create_container(Some(options), body)
        .await
        .map_err(daemon_message)?;
    docker
        .start_container(&created.id, None)
        .await
        .map_err(daemon_message)?;
    Ok(created.id)
}

/// Once ready, a container restarts like a service should.
pub(super) async fn keep_running(docker: &Docker, id: &str) -> Result<(), String> {
    docker
        .update_container(
            id,
            ContainerUpdateBody {
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            },
        )
        .await
        .map_err(daemon_message)
}

/// Stops (SIGTERM, then SIGKILL after 10 s) and removes a container.
pub(super) async fn remove(docker: &Docker, endpoint: &str, name: &str) -> Result<(), EngineError> {
    let failed = |e: bollard::errors::Error| EngineError::Daemon {
        endpoint: endpoint.to_owned(),
        action: format!("remove container {name}"),
        message: daemon_message(e),
    };
    match docker
        .stop_container(
            name,
            Some(
                StopContainerOptionsBuilder::new()
                    .t(STOP_TIMEOUT_SECS)
                    .build(),
            ),
        )
        .await
    {
        // 304: already stopped.
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(failed(e)),
    }
    match docker
        .remove_container(
            name,
            Some(RemoveContainerOptionsBuilder::new().force(true).build()),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hoist_config::{SecretValue, Value, VolumeMount};

    use super::*;
    use crate::engine::plan::EnvVar;

    fn service() -> ServicePlan {
        ServicePlan {
            name: "web".to_owned(),
            image: "hoist.local/todo/web:0123456789ab".to_owned(),
            digest: "sha256:0123456789ab".to_owned(),
            env: vec![
                EnvVar {
                    key: "MODE".to_owned(),
                    value: Value::Plain("fast".to_owned()),
                },
                EnvVar {
                    key: "TOKEN".to_owned(),
                    value: Value::Secret(SecretValue::new("t0k3n-value".to_owned())),
                },
            ],
            config_hash: "c0ffee".to_owned(),
            depends_on: Vec::new(),
            ready: None,
            deadline: Duration::from_secs(5),
            ports: vec![3000, 9000],
            publish: Some((8080, 3000)),
            volumes: vec![VolumeMount {
                name: "data".to_owned(),
                path: "/data".to_owned(),
            }],
            replicas: 1,
        }
    }

    #[test]
    fn a_replica_gets_its_names_ports_volumes_and_labels() {
        let check = ReadyCheck::Http {
            path: "/ready".to_owned(),
            port: 9000,
        };
        let body = create_body("todo", &service(), 1, "f1ng3r", Some(&check));
        assert_eq!(body.hostname.as_deref(), Some("todo-web-1"));
        assert_eq!(
            body.env.unwrap(),
            ["MODE=fast", "TOKEN=t0k3n-value"].map(str::to_owned)
        );
        assert_eq!(
            body.exposed_ports.unwrap(),
            ["3000/tcp", "9000/tcp"].map(str::to_owned)
        );
        let host = body.host_config.unwrap();
        let bindings = host.port_bindings.unwrap();
        let binding = |port: &str| {
            let b = bindings[port].as_ref().unwrap()[0].clone();
            (b.host_ip.unwrap(), b.host_port.unwrap())
        };
        // The published port, and an ephemeral loopback port for the check.
        assert_eq!(
            binding("3000/tcp"),
            ("127.0.0.1".to_owned(), "8080".to_owned())
        );
        assert_eq!(binding("9000/tcp"), ("127.0.0.1".to_owned(), String::new()));
        let mount = &host.mounts.unwrap()[0];
        assert_eq!(mount.source.as_deref(), Some("todo-web-data"));
        assert_eq!(mount.target.as_deref(), Some("/data"));
        assert_eq!(
            host.restart_policy.unwrap().name,
            Some(RestartPolicyNameEnum::NO)
        );
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            endpoints["todo-net"].aliases.as_deref(),
            Some(["web".to_owned(), "todo-web".to_owned()].as_slice())
        );
        let labels = body.labels.unwrap();
        assert_eq!(labels[PROJECT_LABEL], "todo");
        assert_eq!(labels[SERVICE_LABEL], "web");
        assert_eq!(labels[REPLICA_LABEL], "1");
        assert_eq!(labels[FINGERPRINT_LABEL], "f1ng3r");
        assert_eq!(labels[CONFIG_HASH_ANNOTATION], "c0ffee");
    }

    #[test]
    fn the_fingerprint_follows_image_configuration_and_settings_only() {
        let base = service();
        let print = base.fingerprint("sha256:image");
        assert_eq!(print, service().fingerprint("sha256:image"));
        assert_ne!(print, base.fingerprint("sha256:other-image"));
        let mut changed = service();
        changed.config_hash = "another".to_owned();
        assert_ne!(print, changed.fingerprint("sha256:image"));
        let mut moved = service();
        moved.publish = Some((8081, 3000));
        assert_ne!(print, moved.fingerprint("sha256:image"));
        let mut scaled = service();
        scaled.replicas = 3;
        assert_eq!(
            print,
            scaled.fingerprint("sha256:image"),
            "scaling replaces nothing"
        );
        assert!(!format!("{:?}", service().env).contains("t0k3n-value"));
    }
}
