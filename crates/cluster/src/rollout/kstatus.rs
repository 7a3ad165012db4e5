//! Readiness of one object, kstatus-grade: the controller has seen the
//! latest spec (`observedGeneration`), every replica runs it and is ready,
//! and no old replica is left; or, for a wait [`Until::Serving`], the newest
//! revision's own replicas are ready while older ones may still drain.
//!
//! [`Until::Serving`]: super::Until::Serving

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{
    DaemonSet, Deployment, DeploymentStatus, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Endpoints, PersistentVolumeClaim};
use kube::ResourceExt;

/// The annotation in which the Deployment controller numbers a Deployment's
/// revisions and names the revision each of its ReplicaSets runs.
const REVISION: &str = "deployment.kubernetes.io/revision";

/// Where one object stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// Ready.
    Ready,
    /// Not yet: what is missing.
    InProgress(String),
    /// It will not get there by itself: why.
    Failed(String),
}

/// Ready and wanted replicas of a workload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Replicas {
    pub(crate) ready: u32,
    pub(crate) desired: u32,
}

fn count(n: Option<i32>) -> u32 {
    n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

fn stale(generation: Option<i64>, observed: Option<i64>) -> bool {
    observed.unwrap_or(0) < generation.unwrap_or(0)
}

/// The Deployment's spec as its controller has seen it: `Err` with the
/// status when it has not, or when the rollout will not progress.
fn deployment_seen(d: &Deployment) -> Result<(u32, &DeploymentStatus), Status> {
    let desired = count(d.spec.as_ref().and_then(|s| s.replicas).or(Some(1)));
    let Some(status) = &d.status else {
        return Err(Status::InProgress("no status yet".into()));
    };
    // Stale first: the condition may still be the previous spec's.
    if stale(d.metadata.generation, status.observed_generation) {
        return Err(Status::InProgress(
            "the controller has not seen the new spec yet".into(),
        ));
    }
    if let Some(condition) = status.conditions.iter().flatten().find(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    }) {
        return Err(Status::Failed(
            condition.message.clone().unwrap_or_default(),
        ));
    }
    Ok((desired, status))
}

pub(crate) fn deployment(d: &Deployment) -> Status {
    let (desired, status) = match deployment_seen(d) {
        Ok(seen) => seen,
        Err(status) => return status,
    };
    let updated = count(status.updated_replicas);
    let total = count(status.replicas);
    let ready = count(status.ready_replicas);
    let available = count(status.available_replicas);
    if updated < desired {
        return Status::InProgress(format!("{updated} of {desired} replicas updated"));
    }
    if total > updated {
        return Status::InProgress(format!(
            "{} old replicas pending termination",
            total - updated
        ));
    }
    if ready < desired || available < desired {
        return Status::InProgress(format!(
            "{ready} of {desired} replicas ready, {available} available"
        ));
    }
    Status::Ready
}

/// A Deployment whose newest revision serves: the controller has seen the
/// spec, and the ReplicaSet of the Deployment's current revision (among
/// `sets`) has every wanted replica ready and available, counted by that
/// ReplicaSet alone. Pods of older revisions may still be draining. The
/// Deployment's own counts cannot tell the revisions apart: returning to a
/// revision while the other one's pods are ready meets them at once.
pub(crate) fn deployment_serving(d: &Deployment, sets: &[Arc<ReplicaSet>]) -> (Status, Replicas) {
    let mut replicas = deployment_replicas(d);
    let desired = match deployment_seen(d) {
        Ok((desired, _)) => desired,
        Err(status) => return (status, replicas),
    };
    let Some(revision) = d.annotations().get(REVISION) else {
        return (
            Status::InProgress("the controller has not numbered the revision yet".into()),
            replicas,
        );
    };
    let owner = d.metadata.uid.as_deref();
    let newest = sets.iter().find(|rs| {
        rs.annotations().get(REVISION) == Some(revision)
            && rs
                .owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == owner)
    });
    let Some(rs) = newest else {
        return (
            Status::InProgress(format!("no ReplicaSet of revision {revision} yet")),
            replicas,
        );
    };
    let status = rs.status.as_ref();
    let ready = count(status.and_then(|s| s.ready_replicas));
    let available = count(status.and_then(|s| s.available_replicas));
    replicas.ready = ready;
    if stale(
        rs.metadata.generation,
        status.and_then(|s| s.observed_generation),
    ) {
        return (
            Status::InProgress(format!(
                "the ReplicaSet of revision {revision} is not up to date yet"
            )),
            replicas,
        );
    }
    if ready < desired || available < desired {
        return (
            Status::InProgress(format!(
                "{ready} of {desired} replicas of revision {revision} ready, {available} available"
            )),
            replicas,
        );
    }
    (Status::Ready, replicas)
}

pub(crate) fn statefulset(s: &StatefulSet) -> Status {
    let desired = count(s.spec.as_ref().and_then(|s| s.replicas).or(Some(1)));
    let Some(status) = &s.status else {
        return Status::InProgress("no status yet".into());
    };
    if stale(s.metadata.generation, status.observed_generation) {
        return Status::InProgress("the controller has not seen the new spec yet".into());
    }
    let rolling = s
        .spec
        .as_ref()
        .and_then(|spec| spec.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    if rolling
        && status.update_revision.is_some()
        && status.current_revision != status.update_revision
    {
        return Status::InProgress(format!(
            "{} of {desired} replicas on the new revision",
            count(status.updated_replicas)
        ));
    }
    let ready = count(status.ready_replicas);
    if ready < desired || count(Some(status.replicas)) > desired {
        return Status::InProgress(format!("{ready} of {desired} replicas ready"));
    }
    Status::Ready
}

pub(crate) fn daemonset(d: &DaemonSet) -> Status {
    let Some(status) = &d.status else {
        return Status::InProgress("no status yet".into());
    };
    if stale(d.metadata.generation, status.observed_generation) {
        return Status::InProgress("the controller has not seen the new spec yet".into());
    }
    let desired = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let ready = status.number_ready;
    let available = status.number_available.unwrap_or(0);
    if updated < desired || ready < desired || available < desired {
        return Status::InProgress(format!(
            "{ready} of {desired} pods ready, {updated} updated"
        ));
    }
    Status::Ready
}

pub(crate) fn job(j: &Job) -> Status {
    let conditions = j.status.as_ref().and_then(|s| s.conditions.as_ref());
    for c in conditions.into_iter().flatten() {
        if c.status == "True" && c.type_ == "Complete" {
            return Status::Ready;
        }
        if c.status == "True" && c.type_ == "Failed" {
            return Status::Failed(format!(
                "{}: {}",
                c.reason.as_deref().unwrap_or("Failed"),
                c.message.as_deref().unwrap_or("the Job failed")
            ));
        }
    }
    Status::InProgress("not complete".into())
}

pub(crate) fn claim(c: &PersistentVolumeClaim) -> Status {
    match c.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Bound") => Status::Ready,
        Some("Lost") => Status::Failed(format!("claim {} lost its volume", c.name_any())),
        phase => Status::InProgress(format!("phase {}", phase.unwrap_or("Pending"))),
    }
}

pub(crate) fn endpoints(e: &Endpoints) -> Status {
    let ready = e
        .subsets
        .iter()
        .flatten()
        .any(|s| s.addresses.as_ref().is_some_and(|a| !a.is_empty()));
    if ready {
        Status::Ready
    } else {
        Status::InProgress("no ready endpoints".into())
    }
}

/// Ready and wanted replicas of a workload (zeros for other kinds).
pub(crate) fn deployment_replicas(d: &Deployment) -> Replicas {
    Replicas {
        ready: count(d.status.as_ref().and_then(|s| s.ready_replicas)),
        desired: count(d.spec.as_ref().and_then(|s| s.replicas).or(Some(1))),
    }
}

pub(crate) fn statefulset_replicas(s: &StatefulSet) -> Replicas {
    Replicas {
        ready: count(s.status.as_ref().and_then(|s| s.ready_replicas)),
        desired: count(s.spec.as_ref().and_then(|s| s.replicas).or(Some(1))),
    }
}

pub(crate) fn daemonset_replicas(d: &DaemonSet) -> Replicas {
    let status = d.status.as_ref();
    Replicas {
        ready: count(status.map(|s| s.number_ready)),
        desired: count(status.map(|s| s.desired_number_scheduled)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(json: serde_json::Value) -> Deployment {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_stale_observed_generation_is_not_ready() {
        // The counts are those of the previous spec: kube-rs's
        // is_deployment_completed would call this done.
        let d = deploy(serde_json::json!({
            "metadata": {"name": "web", "generation": 3},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1,
                       "readyReplicas": 1, "availableReplicas": 1}
        }));
        assert!(matches!(deployment(&d), Status::InProgress(m) if m.contains("not seen")));
    }

    #[test]
    fn old_replicas_left_are_not_ready() {
        let d = deploy(serde_json::json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1,
                       "readyReplicas": 2, "availableReplicas": 2}
        }));
        assert_eq!(
            deployment(&d),
            Status::InProgress("1 old replicas pending termination".into())
        );
    }

    #[test]
    fn progress_deadline_is_a_failure() {
        let d = deploy(serde_json::json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False",
              "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-1\" has timed out progressing."}]}
        }));
        assert_eq!(
            deployment(&d),
            Status::Failed("ReplicaSet \"web-1\" has timed out progressing.".into())
        );
    }

    #[test]
    fn a_complete_deployment_is_ready() {
        let d = deploy(serde_json::json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                       "readyReplicas": 2, "availableReplicas": 2}
        }));
        assert_eq!(deployment(&d), Status::Ready);
    }

    fn replica_set(name: &str, owner: &str, revision: &str, ready: i32) -> Arc<ReplicaSet> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "generation": 4,
                  "annotations": {REVISION: revision},
                  "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": "web", "uid": owner, "controller": true}]},
                "spec": {"replicas": 1, "selector": {}},
                "status": {"observedGeneration": 4, "replicas": 1,
                           "readyReplicas": ready, "availableReplicas": ready}
            }))
            .unwrap(),
        )
    }

    /// A Deployment at revision 3 whose counts are all met (the controller
    /// counts every revision's ready pods) while an old pod terminates.
    fn at_revision_3() -> Deployment {
        deploy(serde_json::json!({
            "metadata": {"name": "web", "uid": "u-web", "generation": 5,
                         "annotations": {REVISION: "3"}},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 5, "replicas": 2, "updatedReplicas": 1,
                       "readyReplicas": 1, "availableReplicas": 1}
        }))
    }

    #[test]
    fn serving_counts_the_current_revisions_replica_set_alone() {
        let d = at_revision_3();
        // Back to a revision whose pod still runs: it serves, while the
        // failed revision's pod is still terminating.
        let sets = [
            replica_set("web-a", "u-web", "3", 1),
            replica_set("web-b", "u-web", "2", 0),
        ];
        assert_eq!(
            deployment_serving(&d, &sets),
            (
                Status::Ready,
                Replicas {
                    ready: 1,
                    desired: 1
                }
            )
        );
        // Back to a revision whose pod is not ready yet, while the other
        // revision's pod is: not serving, whatever the Deployment counts.
        let sets = [
            replica_set("web-a", "u-web", "3", 0),
            replica_set("web-b", "u-web", "2", 1),
        ];
        assert_eq!(
            deployment_serving(&d, &sets).0,
            Status::InProgress("0 of 1 replicas of revision 3 ready, 0 available".into())
        );
        // Another Deployment's ReplicaSet of the same revision is not this one's.
        let sets = [replica_set("other-a", "u-other", "3", 1)];
        assert_eq!(
            deployment_serving(&d, &sets).0,
            Status::InProgress("no ReplicaSet of revision 3 yet".into())
        );
        // The settled wait still waits for the old replica.
        assert_eq!(
            deployment(&d),
            Status::InProgress("1 old replicas pending termination".into())
        );
    }

    #[test]
    fn a_statefulset_between_revisions_is_not_ready() {
        let s: StatefulSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "db", "generation": 2},
            "spec": {"replicas": 1, "selector": {}, "serviceName": "db", "template": {}},
            "status": {"observedGeneration": 2, "replicas": 1, "readyReplicas": 1,
                       "currentRevision": "db-1", "updateRevision": "db-2"}
        }))
        .unwrap();
        assert!(matches!(statefulset(&s), Status::InProgress(_)));
    }
}
