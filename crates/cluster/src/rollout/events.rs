//! Progress out of a rollout: a reporter trait the CLI implements (with
//! indicatif or as JSON lines); the library never draws anything itself.

use serde::Serialize;

use super::outcome::Finding;

/// Receives a rollout's events as they happen, from several tasks at once.
pub trait Reporter: Send + Sync {
    /// One event.
    fn on_event(&self, event: &Event);
}

/// A reporter that drops everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {
    fn on_event(&self, _event: &Event) {}
}

/// Where a service's rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Applying its ConfigMap and Secret.
    Config,
    /// Running `helm upgrade --install`.
    Release,
    /// Watching its objects become Ready.
    Waiting,
    /// Every object it owns is Ready.
    Ready,
    /// Writing the evidence of a failure.
    Evidence,
    /// Going back to the last deployed revision.
    RollingBack,
    /// Back on the last deployed revision, Ready.
    RolledBack,
    /// Uninstalling a failed first install.
    Removing,
    /// Uninstalled.
    Removed,
    /// Failed, left as it is.
    Failed,
}

/// One thing that happened during a rollout.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A service reached a stage.
    Stage {
        /// The service.
        service: String,
        /// The stage.
        stage: Stage,
    },
    /// A service was left alone.
    Skipped {
        /// The service.
        service: String,
        /// Why, e.g. `unchanged and Ready`.
        reason: String,
    },
    /// A pod of a service changed state.
    Pod {
        /// The service.
        service: String,
        /// The pod.
        pod: String,
        /// Its state, e.g. `Pending`, `ContainerCreating`, `Running`, `Ready`, `CrashLoopBackOff`.
        state: String,
    },
    /// Ready replicas of a service's workloads.
    Progress {
        /// The service.
        service: String,
        /// Ready replicas.
        ready: u32,
        /// Wanted replicas.
        desired: u32,
    },
    /// A diagnosed failure.
    Finding(Finding),
}
