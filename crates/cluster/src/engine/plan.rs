//! What `up` is asked to run: per service the loaded image, the mapped
//! environment and the engine settings, in dependency levels.

use std::collections::BTreeMap;
use std::time::Duration;

use hoist_config::{Mapping, ReadyCheck, Stack, Target, Value, VolumeMount};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::EngineError;
use super::mask::Masker;
use crate::deliver::Delivered;
use crate::docker::DockerEndpoint;

/// A project on a Docker engine: what `status`, `logs` and `down` need.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct EngineProject {
    /// The project name (`project` in `hoist.toml`).
    pub name: String,
    /// The daemon.
    pub endpoint: DockerEndpoint,
    /// Masks the stack's secret values in everything hoist returns.
    #[serde(skip)]
    pub masker: Masker,
}

impl EngineProject {
    /// The project `name` on `endpoint`, masking `mapping`'s secret values.
    #[must_use]
    pub fn new(name: &str, endpoint: DockerEndpoint, mapping: Option<&Mapping>) -> Self {
        let secrets = mapping
            .into_iter()
            .flat_map(|m| m.services.values())
            .flat_map(|env| &env.vars)
            .filter(|var| var.target == Target::Secret)
            .map(|var| var.value.expose().to_owned());
        Self {
            name: name.to_owned(),
            endpoint,
            masker: Masker::new(secrets),
        }
    }
}

/// One variable of a container's environment. A secret's value prints as
/// `<redacted>` (`Debug`, `Display`, `Serialize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    /// The name.
    pub key: String,
    /// The value.
    pub value: Value,
}

/// One service as the engine runs it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ServicePlan {
    /// The service name.
    pub name: String,
    /// The reference the image was loaded into the daemon as
    /// (`hoist.local/<name>:<hex12>`).
    pub image: String,
    /// The image's manifest digest.
    pub digest: String,
    /// The container environment: the service's `ConfigMap` and Secret
    /// variables from hoist-config's mapping.
    pub env: Vec<EnvVar>,
    /// hoist-config's hash of that configuration.
    pub config_hash: String,
    /// Services that must be ready first.
    pub depends_on: Vec<String>,
    /// The `ready` check, when `hoist.toml` sets one.
    pub ready: Option<ReadyCheck>,
    /// How long to wait for readiness.
    #[serde(with = "millis")]
    pub deadline: Duration,
    /// The ports the service listens on.
    pub ports: Vec<u16>,
    /// `(host port on 127.0.0.1, container port)`, when published.
    pub publish: Option<(u16, u16)>,
    /// Named volumes.
    pub volumes: Vec<VolumeMount>,
    /// How many containers.
    pub replicas: u16,
}

impl ServicePlan {
    /// What the containers are made from: see the module docs.
    /// `image_id` is the daemon's ID of [`ServicePlan::image`].
    pub(super) fn fingerprint(&self, image_id: &str) -> String {
        #[derive(Serialize)]
        struct Settings<'a> {
            image: &'a str,
            digest: &'a str,
            image_id: &'a str,
            config_hash: &'a str,
            keys: Vec<&'a str>,
            ready: &'a Option<ReadyCheck>,
            ports: &'a [u16],
            publish: Option<(u16, u16)>,
            volumes: &'a [VolumeMount],
        }
        let settings = Settings {
            image: &self.image,
            digest: &self.digest,
            image_id,
            config_hash: &self.config_hash,
            keys: self.env.iter().map(|v| v.key.as_str()).collect(),
            ready: &self.ready,
            ports: &self.ports,
            publish: self.publish,
            volumes: &self.volumes,
        };
        let bytes = serde_json::to_vec(&settings).expect("settings serialize");
        hex::encode(Sha256::digest(bytes))
    }

    /// `KEY=value` for the container, secrets exposed: for the daemon only.
    pub(super) fn docker_env(&self) -> Vec<String> {
        self.env
            .iter()
            .map(|var| format!("{}={}", var.key, var.value.expose()))
            .collect()
    }
}

/// Everything `up` needs.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct EnginePlan {
    /// The project and its daemon.
    pub project: EngineProject,
    /// Services in start order: each level depends only on earlier ones.
    pub levels: Vec<Vec<String>>,
    /// The services by name.
    pub services: BTreeMap<String, ServicePlan>,
}

impl EnginePlan {
    /// The plan for `stack`, with each service's environment from
    /// `mapping` and its image from `images` (what
    /// [`DaemonLoader`](crate::deliver::DaemonLoader) delivered to the
    /// daemon at `endpoint`, by service name).
    ///
    /// # Errors
    ///
    /// [`EngineError::Plan`] when a service has no delivered image or no
    /// mapping.
    pub fn new(
        stack: &Stack,
        mapping: &Mapping,
        images: &BTreeMap<String, Delivered>,
        endpoint: DockerEndpoint,
    ) -> Result<Self, EngineError> {
        let mut services = BTreeMap::new();
        for (name, service) in &stack.services {
            let plan_error = |message: &str| EngineError::Plan {
                service: name.clone(),
                message: message.to_owned(),
            };
            let delivered = images.get(name).ok_or_else(|| {
                plan_error("no image was loaded into the Docker daemon for it; build it and load it with `hoist load --target docker` (or let `hoist up --engine docker` do both)")
            })?;
            let env = mapping.services.get(name).ok_or_else(|| {
                plan_error("the configuration mapping has no entry for it; resolve the mapping from the same stack")
            })?;
            services.insert(
                name.clone(),
                ServicePlan {
                    name: name.clone(),
                    image: delivered.reference.clone(),
                    digest: delivered.digest.clone(),
                    env: env
                        .vars
                        .iter()
                        .map(|var| EnvVar {
                            key: var.key.clone(),
                            value: var.value.clone(),
                        })
                        .collect(),
                    config_hash: env.config_hash(),
                    depends_on: service
                        .depends_on
                        .iter()
                        .map(|d| d.get_ref().clone())
                        .collect(),
                    ready: service.ready_check(),
                    deadline: service.ready_deadline(),
                    ports: service.ports.clone(),
                    publish: service.published_port(),
                    volumes: service.volume_mounts(),
                    replicas: service.replica_count(),
                },
            );
        }
        Ok(Self {
            project: EngineProject::new(&stack.project, endpoint, Some(mapping)),
            levels: stack.rollout_levels(),
            services,
        })
    }
}

mod millis {
    use std::time::Duration;

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` passes a reference.
    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u128(d.as_millis())
    }
}
