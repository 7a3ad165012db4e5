//! What `dev` tells its caller: the loop's own events, next to the steps
//! and rollout events of each cycle (the [`Reporter`] of `up`) and the log
//! lines of the services.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::engine::EngineUpOutcome;
use crate::{LogLine, LogSink, NoReporter, Reporter, UpOutcome};

/// One event of the loop.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum DevEvent {
    /// The files and directories watched.
    Watching {
        /// Watched paths (directories recursively).
        roots: Vec<PathBuf>,
    },
    /// A cycle started.
    CycleStarted {
        /// 0 for the first `up`, then 1, 2, ...
        cycle: u32,
        /// The changed paths that caused it (none for the first).
        changed: Vec<PathBuf>,
        /// The services whose images are rebuilt.
        rebuild: Vec<String>,
        /// The services rolled out.
        roll: Vec<String>,
    },
    /// A cycle ran to its end (a failed rollout included: see `outcome`).
    CycleFinished {
        /// Its number.
        cycle: u32,
        /// What `up` did in it.
        outcome: CycleOutcome,
        /// Where its time went.
        timings: Timings,
    },
    /// A cycle stopped on an error before its rollout finished (a build
    /// error, an unreadable `.env`); what was serving still serves.
    CycleFailed {
        /// Its number.
        cycle: u32,
        /// The error, with its causes.
        error: String,
    },
    /// A service is forwarded: the URL to open.
    Forwarding {
        /// The service.
        service: String,
        /// `http://127.0.0.1:<local port>`.
        url: String,
        /// The pods' port it reaches.
        port: u16,
    },
    /// On the Docker engine: a service published on the Docker host, the
    /// URL to open (no forward is needed there).
    Published {
        /// The service.
        service: String,
        /// `http://127.0.0.1:<published port>/`.
        url: String,
    },
    /// A forward's new connections go to this pod from now on: the newest
    /// Ready one behind the service (a new pod once it is Ready).
    ForwardingTo {
        /// The service.
        service: String,
        /// The pod.
        pod: String,
    },
    /// A forwarded connection could not reach a pod.
    ForwardFailed {
        /// The service.
        service: String,
        /// Why.
        error: String,
    },
    /// The loop stopped; the deployment stays unless `cleanup`.
    Stopping {
        /// The deployment is removed next.
        cleanup: bool,
    },
}

/// What one cycle's `up` did: on Kubernetes or on the Docker engine. Its
/// JSON is the outcome's own, as `hoist up --json` prints it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CycleOutcome {
    /// `up` on the cluster.
    Kubernetes(Box<UpOutcome>),
    /// `up --engine docker`.
    Docker(Box<EngineUpOutcome>),
}

impl CycleOutcome {
    /// Every service the cycle rolled is ready.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        match self {
            Self::Kubernetes(outcome) => outcome.succeeded,
            Self::Docker(outcome) => outcome.succeeded,
        }
    }
}

/// Where one cycle's time went, from the first change seen (the save) to
/// its end.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    /// From the first change seen to the cycle's start (the debounce, and
    /// the previous cycle when the change landed during it).
    #[serde(serialize_with = "millis")]
    pub waited: Duration,
    /// Building the images.
    #[serde(serialize_with = "millis")]
    pub build: Duration,
    /// Delivering them.
    #[serde(serialize_with = "millis")]
    pub deliver: Duration,
    /// From the first release applied to every rolled service Ready.
    #[serde(serialize_with = "millis")]
    pub rollout: Duration,
    /// The whole cycle.
    #[serde(serialize_with = "millis")]
    pub total: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Receives everything `dev` reports: the steps and rollout events of each
/// cycle, the services' log lines, and the loop's own events.
pub trait DevReporter: Reporter + LogSink {
    /// An event of the loop.
    fn on_dev(&self, event: &DevEvent);
}

/// A reporter that drops everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDevReporter;

impl hoist_imager::Reporter for NoDevReporter {
    fn on_start(&self, what: &str, total: Option<u64>) -> hoist_imager::TaskId {
        NoReporter.on_start(what, total)
    }
    fn on_progress(&self, _id: hoist_imager::TaskId, _done: u64) {}
    fn on_finish(&self, _id: hoist_imager::TaskId, _outcome: &str) {}
}

impl hoist_cluster::rollout::Reporter for NoDevReporter {
    fn on_event(&self, _event: &hoist_cluster::rollout::Event) {}
}

impl Reporter for NoDevReporter {
    fn on_step(&self, _service: &str, _step: crate::Step, _state: &crate::StepState) {}
}

impl LogSink for NoDevReporter {
    fn on_line(&self, _line: &LogLine) {}
}

impl DevReporter for NoDevReporter {
    fn on_dev(&self, _event: &DevEvent) {}
}
