//! Progress out of hoist-deploy: one trait the caller implements (the CLI
//! with indicatif, tests and benchmarks with nothing); the library never
//! prints.

use hoist_cluster::rollout;
use serde::Serialize;

/// The stages of `up` for one service, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Building its image.
    Build,
    /// Delivering its image to the target.
    Deliver,
    /// Its ConfigMap, Secret, Helm release and readiness (the rollout
    /// engine's own events follow through [`rollout::Reporter`]).
    Rollout,
}

/// Where a step of one service is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "kebab-case")]
pub enum StepState {
    /// It started.
    Started,
    /// It did work; what, in a few words.
    Done(String),
    /// Nothing needed doing; why.
    Skipped(String),
}

/// Receives progress: byte counts of builds and deliveries (the imager's
/// trait), the rollout engine's events, and the steps of each service.
pub trait Reporter: hoist_imager::Reporter + rollout::Reporter {
    /// A service's step changed state.
    fn on_step(&self, service: &str, step: Step, state: &StepState);
}

/// A reporter that drops everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl hoist_imager::Reporter for NoReporter {
    fn on_start(&self, _what: &str, _total: Option<u64>) -> hoist_imager::TaskId {
        hoist_imager::TaskId(0)
    }
    fn on_progress(&self, _id: hoist_imager::TaskId, _done: u64) {}
    fn on_finish(&self, _id: hoist_imager::TaskId, _outcome: &str) {}
}

impl rollout::Reporter for NoReporter {
    fn on_event(&self, _event: &rollout::Event) {}
}

impl Reporter for NoReporter {
    fn on_step(&self, _service: &str, _step: Step, _state: &StepState) {}
}
