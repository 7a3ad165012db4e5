//! What a rollout is asked to do: the plan, one release per service, the
//! options, and the cluster it runs against.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde::{Serialize, Serializer};

use crate::helm::Helm;

/// The default per-service wait deadline.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

/// The cluster a rollout runs against.
#[derive(Clone)]
pub struct Target {
    /// The API server.
    pub client: kube::Client,
    /// helm, talking to the same cluster.
    pub helm: Helm,
    /// The namespace every release goes to (created when missing).
    pub namespace: String,
}

/// A whole stack's rollout.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The project (DNS-1123 label): names the Lease holder and the runs.
    pub project: String,
    /// `.hoist` next to the stack file: `runs/<run id>/report.json` goes below it.
    pub state_dir: PathBuf,
    /// Rollout levels in order (from `hoist_config::Stack::rollout_levels`);
    /// services of one level roll out in parallel.
    pub levels: Vec<Vec<ReleasePlan>>,
    /// Every value of the stack's Secrets: masked in captured logs, events
    /// and reports. Never serialized.
    #[serde(skip)]
    pub redact: Vec<String>,
    /// How the rollout behaves.
    pub options: Options,
}

impl Plan {
    /// Every release of the plan, level by level.
    pub fn releases(&self) -> impl Iterator<Item = &ReleasePlan> {
        self.levels.iter().flatten()
    }

    /// The release of `service`.
    #[must_use]
    pub fn release(&self, service: &str) -> Option<&ReleasePlan> {
        self.releases().find(|r| r.service == service)
    }
}

/// One service: one Helm release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasePlan {
    /// The service's name in hoist.toml.
    pub service: String,
    /// Helm release name, `<project>-<service>`.
    pub release: String,
    /// The chart directory (or packaged chart).
    pub chart: PathBuf,
    /// Values files, in order.
    pub values_files: Vec<PathBuf>,
    /// Non-secret values hoist sets (image.repository/tag/digest,
    /// image.pullPolicy, fullnameOverride, the stack's chart.set, ...).
    /// Never a secret.
    pub set: Vec<(String, String)>,
    /// The image by digest that delivery returned.
    pub image: Option<ImageRef>,
    /// The service's ConfigMap and Secret and their hash; the engine
    /// applies them before the release and passes their names.
    pub config: Option<ConfigObjects>,
    /// The services this one waits for (informational: the levels order them).
    pub depends_on: Vec<String>,
    /// Per-service wait deadline (default [`DEFAULT_DEADLINE`]).
    #[serde(serialize_with = "seconds")]
    pub deadline: Duration,
}

impl ReleasePlan {
    /// The values hoist passes with `--set-string`: [`ReleasePlan::set`],
    /// then `config.existingConfigMap`, `secret.existingSecret` and
    /// `configHash` from [`ReleasePlan::config`].
    #[must_use]
    pub fn helm_values(&self) -> Vec<(String, String)> {
        let mut values = self.set.clone();
        if let Some(config) = &self.config {
            values.push((
                "config.existingConfigMap".to_owned(),
                config.config_map_name(),
            ));
            values.push(("secret.existingSecret".to_owned(), config.secret_name()));
            values.push(("configHash".to_owned(), config.hash.clone()));
        }
        values
    }
}

/// An image as delivery left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// The reference the pods run, e.g. `todo-backend:0.1.0` or `repo@sha256:...`.
    pub reference: String,
    /// Its manifest digest, `sha256:...`.
    pub digest: String,
    /// Where hoist put it, e.g. `containerd k8s.io namespace of node minikube`.
    pub delivered_to: String,
}

/// A service's configuration objects (content-hash named, immutable).
#[derive(Debug, Clone)]
pub struct ConfigObjects {
    /// The plain variables.
    pub config_map: ConfigMap,
    /// The secret variables, values included: applied, never serialized.
    pub secret: Secret,
    /// The hash of both, for `configHash`.
    pub hash: String,
}

impl ConfigObjects {
    /// The `ConfigMap`'s name.
    #[must_use]
    pub fn config_map_name(&self) -> String {
        self.config_map.metadata.name.clone().unwrap_or_default()
    }

    /// The label selector of every revision of these objects (their
    /// labels), or `None` when they carry none.
    #[must_use]
    pub fn selector(&self) -> Option<String> {
        let labels = self
            .config_map
            .metadata
            .labels
            .as_ref()
            .filter(|l| !l.is_empty())?;
        Some(
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    /// The Secret's name.
    #[must_use]
    pub fn secret_name(&self) -> String {
        self.secret.metadata.name.clone().unwrap_or_default()
    }
}

/// Serialized as the names and the hash only: never the Secret's data.
impl Serialize for ConfigObjects {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("ConfigObjects", 3)?;
        s.serialize_field("config_map", &self.config_map_name())?;
        s.serialize_field("secret", &self.secret_name())?;
        s.serialize_field("hash", &self.hash)?;
        s.end()
    }
}

/// How a rollout behaves.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// Roll a failed service back (`false`: `--no-rollback`, keep the
    /// failed state for debugging).
    pub rollback: bool,
    /// Restarts after which a crash-looping container is a failure.
    pub crashloop_restarts: u32,
    /// How long the Lease lasts without renewal; renewed every third of it.
    #[serde(serialize_with = "seconds")]
    pub lease_duration: Duration,
    /// The run's id (names `runs/<id>`); generated when `None`.
    pub run_id: Option<String>,
    /// When a rolled-out workload counts as Ready (`Settled` by default).
    pub until: Until,
    /// Cancelled when the user interrupts the run (Ctrl-C): the level being
    /// rolled out finishes (or rolls back) as usual, later levels are not
    /// started, and the Lease is released.
    #[serde(skip)]
    pub interrupt: Option<tokio_util::sync::CancellationToken>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rollback: true,
            crashloop_restarts: 2,
            lease_duration: Duration::from_secs(30),
            run_id: None,
            until: Until::Settled,
            interrupt: None,
        }
    }
}

/// When a Deployment that is rolling counts as Ready. StatefulSets,
/// DaemonSets, Jobs, claims and Services are judged the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Until {
    /// The new revision is ready and no pod of an older one is left, not
    /// even terminating (`hoist up`, `hoist rollback`): what runs afterwards
    /// is only the new revision.
    #[default]
    Settled,
    /// The newest revision's own ReplicaSet has every replica ready and
    /// available; older pods may still be draining (`hoist dev`, and the
    /// wait after rolling a failed upgrade back, whose failed pods need not
    /// be gone for the previous revision to serve).
    Serving,
}

/// A duration as seconds (with fractions), for reports.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's serialize_with signature
pub(crate) fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}
