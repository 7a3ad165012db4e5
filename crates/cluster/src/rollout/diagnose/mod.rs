//! Diagnosis: from the pods, claims, events and nodes the wait sees, the
//! terminal states that end it at once, and at the deadline what was still
//! wrong. Pure functions over a snapshot; the log lines are fetched after
//! (see `wait`).

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

use super::outcome::{Cause, Finding};
use super::plan::ImageRef;

mod capacity;
mod deadline;
pub(crate) mod live;
mod terminal;

pub(crate) use deadline::at_deadline;
pub(crate) use terminal::terminal;

const IMAGE_REASONS: [&str; 4] = [
    "ErrImageNeverPull",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
];
const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

/// What the diagnosis looks at.
pub(crate) struct Context<'a> {
    pub(crate) service: &'a str,
    pub(crate) image: Option<&'a ImageRef>,
    pub(crate) crashloop_restarts: u32,
    /// The pods of the release's current revision (no terminating ones).
    pub(crate) pods: &'a [Arc<Pod>],
    /// The claims the release owns or its pods mount.
    pub(crate) claims: &'a [Arc<PersistentVolumeClaim>],
    /// Events of the namespace since the rollout of this service began.
    pub(crate) events: &'a [Arc<Event>],
    /// The nodes, when they could be read.
    pub(crate) nodes: Option<&'a [Node]>,
    /// The StorageClasses, when they could be read.
    pub(crate) classes: Option<&'a [StorageClass]>,
}

/// Log lines a finding wants: of `container` in `pod`, the previous
/// instance's when `previous`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogRequest {
    pub(crate) pod: String,
    pub(crate) container: String,
    pub(crate) previous: bool,
}

/// A finding and the log lines to attach to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Draft {
    pub(crate) finding: Finding,
    pub(crate) logs: Option<LogRequest>,
}

impl Context<'_> {
    fn finding(
        &self,
        object: String,
        pod: Option<&str>,
        container: Option<&str>,
        cause: Cause,
        message: String,
        fix: Option<String>,
    ) -> Finding {
        Finding {
            service: self.service.to_owned(),
            object,
            pod: pod.map(str::to_owned),
            container: container.map(str::to_owned),
            cause,
            message,
            fix,
            logs: Vec::new(),
        }
    }

    fn draft(
        &self,
        pod: &str,
        container: Option<&str>,
        cause: Cause,
        message: String,
        fix: Option<String>,
        logs: Option<LogRequest>,
    ) -> Draft {
        Draft {
            finding: self.finding(
                format!("Pod/{pod}"),
                Some(pod),
                container,
                cause,
                message,
                fix,
            ),
            logs,
        }
    }
}

/// The reason and message of a waiting container.
pub(super) fn waiting(c: &ContainerStatus) -> Option<(&str, &str)> {
    let w = c.state.as_ref()?.waiting.as_ref()?;
    Some((
        w.reason.as_deref().unwrap_or(""),
        w.message.as_deref().unwrap_or(""),
    ))
}

/// The pod condition of `type_`.
pub(super) fn condition<'a>(
    pod: &'a Pod,
    type_: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Container restarts over `pods`.
pub(crate) fn restarts<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> u32 {
    pods.into_iter()
        .flat_map(|p| {
            p.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
        })
        .map(|c| u32::try_from(c.restart_count).unwrap_or(0))
        .sum()
}

/// A pod's state in a word, for progress events.
pub(crate) fn pod_state(pod: &Pod) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "Terminating".to_owned();
    }
    let Some(status) = pod.status.as_ref() else {
        return "Pending".to_owned();
    };
    let init = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    if let Some((i, c)) = init.iter().enumerate().find(|(_, c)| !c.ready) {
        return match waiting(c) {
            Some((reason, _)) if !reason.is_empty() => format!("Init:{reason}"),
            _ => format!("Init:{i}/{}", init.len()),
        };
    }
    let main = status.container_statuses.as_deref().unwrap_or_default();
    for c in main {
        if let Some((reason, _)) = waiting(c).filter(|(r, _)| !r.is_empty()) {
            return reason.to_owned();
        }
        if let Some(t) = c.state.as_ref().and_then(|s| s.terminated.as_ref()) {
            return t.reason.clone().unwrap_or_else(|| "Terminated".to_owned());
        }
    }
    if let Some(c) = condition(pod, "PodScheduled").filter(|c| c.status == "False") {
        return c.reason.clone().unwrap_or_else(|| "Pending".to_owned());
    }
    if !main.is_empty() && main.iter().all(|c| c.ready) {
        return "Ready".to_owned();
    }
    status.phase.clone().unwrap_or_else(|| "Pending".to_owned())
}

#[cfg(test)]
pub(super) mod fixtures {
    use super::*;

    pub(super) fn pod(json: serde_json::Value) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json).unwrap())
    }

    pub(super) fn ctx<'a>(pods: &'a [Arc<Pod>], nodes: Option<&'a [Node]>) -> Context<'a> {
        Context {
            service: "backend",
            image: None,
            crashloop_restarts: 2,
            pods,
            claims: &[],
            events: &[],
            nodes,
            classes: None,
        }
    }
}
