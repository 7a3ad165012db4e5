//! The rules only a look at a running stack needs (`hoist doctor`, see
//! [`crate::rollout::inspect`]): Services without ready endpoints, the
//! nodes' conditions and room, drift from what hoist deployed, and a
//! dependency down while its dependents are up. Pure functions over a
//! snapshot, like the rest of the diagnosis.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use kube::ResourceExt;

use super::capacity::{bytes, millicores};
use crate::rollout::fingerprint::Recorded;
use crate::rollout::kstatus::Status;
use crate::rollout::manifest::Template;
use crate::rollout::outcome::{Cause, Finding};

/// The `service` of findings about the cluster rather than a tier.
pub(crate) const CLUSTER: &str = "(cluster)";

const UP_FIX: &str = "`hoist up` puts back what hoist deployed (`hoist rollback SERVICE` returns to the previous revision); make lasting changes in hoist.toml or the chart's values, not by hand";

pub(crate) fn finding(
    service: &str,
    object: String,
    cause: Cause,
    message: String,
    fix: Option<String>,
) -> Finding {
    Finding {
        service: service.to_owned(),
        object,
        pod: None,
        container: None,
        cause,
        message,
        fix,
        logs: Vec::new(),
    }
}

/// A Service with a selector and no ready address: the selector, and which
/// of `pods` (the namespace's) it matches, in what state.
pub(crate) fn no_endpoints(
    service: &str,
    svc: &Service,
    endpoints: Option<&Endpoints>,
    pods: &[Arc<Pod>],
) -> Option<Finding> {
    let spec = svc.spec.as_ref()?;
    let selector = spec.selector.as_ref().filter(|s| !s.is_empty())?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    let ready = endpoints
        .and_then(|e| e.subsets.as_ref())
        .into_iter()
        .flatten()
        .any(|s| s.addresses.as_ref().is_some_and(|a| !a.is_empty()));
    if ready {
        return None;
    }
    let shown = selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let matched: Vec<String> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| crate::rollout::wait::matches(selector, p.labels()))
        .map(|p| format!("{} ({})", p.name_any(), super::pod_state(p)))
        .collect();
    let (what, fix) = if matched.is_empty() {
        (
            "no pod matches it".to_owned(),
            "check the Service's selector against the pod template's labels in the chart, and that the workload has replicas",
        )
    } else {
        (
            format!("it matches {}, none Ready", matched.join(", ")),
            "see the findings about those pods; the Service sends traffic only to Ready pods",
        )
    };
    Some(finding(
        service,
        format!("Service/{}", svc.name_any()),
        Cause::NoEndpoints,
        format!(
            "Service {} has no ready endpoint: its selector {shown}: {what}",
            svc.name_any()
        ),
        Some(fix.to_owned()),
    ))
}

/// A node not Ready, cordoned, or under memory, disk or PID pressure.
pub(crate) fn node_conditions(node: &Node) -> Vec<Finding> {
    let name = node.name_any();
    let object = format!("Node/{name}");
    let mut out = Vec::new();
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let words = |c: &k8s_openapi::api::core::v1::NodeCondition| {
        format!(
            "{} {}",
            c.reason.as_deref().unwrap_or_default(),
            c.message.as_deref().unwrap_or_default()
        )
        .trim()
        .to_owned()
    };
    match conditions.iter().find(|c| c.type_ == "Ready") {
        Some(c) if c.status == "True" => {}
        c => out.push(finding(
            CLUSTER,
            object.clone(),
            Cause::NodeCondition,
            format!(
                "node {name} is not Ready: {}",
                c.map_or_else(|| "it reports no Ready condition".to_owned(), words)
            ),
            Some("the kubelet is down or cannot reach the API server: `minikube status`, or `kubectl describe node` for its conditions".to_owned()),
        )),
    }
    for (type_, what, fix) in [
        (
            "MemoryPressure",
            "memory",
            "stop what uses memory on the node or give it more (`minikube start --memory`)",
        ),
        (
            "DiskPressure",
            "disk",
            "free disk space on the node (old images: `minikube image prune` / `docker system prune`) or give it a larger disk",
        ),
        (
            "PIDPressure",
            "process ids",
            "stop what forks on the node, or raise its pid limit",
        ),
    ] {
        if let Some(c) = conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == "True")
        {
            out.push(finding(
                CLUSTER,
                object.clone(),
                Cause::NodeCondition,
                format!(
                    "node {name} is short of {what} ({type_}): {}; the kubelet evicts pods and refuses new ones",
                    words(c)
                ),
                Some(fix.to_owned()),
            ));
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        out.push(finding(
            CLUSTER,
            object,
            Cause::NodeCondition,
            format!("node {name} is cordoned: no new pod is scheduled there"),
            Some(format!("`kubectl uncordon {name}`")),
        ));
    }
    out
}

/// CPU (millicores) and memory (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Resources {
    pub(crate) cpu: u64,
    pub(crate) memory: u64,
}

impl std::ops::Add for Resources {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            cpu: self.cpu + o.cpu,
            memory: self.memory + o.memory,
        }
    }
}

impl std::fmt::Display for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cpu {}m, memory {}Mi", self.cpu, self.memory >> 20)
    }
}

/// A pod's requests, as the scheduler counts them.
pub(crate) fn pod_requests(pod: &Pod) -> Resources {
    let (cpu, memory) = super::capacity::requests(pod);
    Resources { cpu, memory }
}

/// The allocatable CPU and memory of the Ready, schedulable nodes.
pub(crate) fn allocatable(nodes: &[Node]) -> Resources {
    nodes
        .iter()
        .filter(|n| node_conditions(n).is_empty())
        .filter_map(|n| n.status.as_ref()?.allocatable.as_ref())
        .map(|a| Resources {
            cpu: a.get("cpu").and_then(|q| millicores(&q.0)).unwrap_or(0),
            memory: a.get("memory").and_then(|q| bytes(&q.0)).unwrap_or(0),
        })
        .fold(Resources::default(), |a, b| a + b)
}

/// The stack's requests against what the nodes can hold, next to what
/// every other pod on them requests already.
pub(crate) fn capacity(stack: Resources, others: Resources, nodes: &[Node]) -> Option<Finding> {
    let room = allocatable(nodes);
    let total = stack + others;
    if total.cpu <= room.cpu && total.memory <= room.memory {
        return None;
    }
    let (message, fix) = if stack.cpu > room.cpu || stack.memory > room.memory {
        (
            format!(
                "the stack's pods request {stack}; the Ready nodes have {room} allocatable in all"
            ),
            "lower resources.requests in the charts' values (hoist.toml `chart.set`) or give the cluster more (`minikube start --cpus --memory`)",
        )
    } else {
        (
            format!(
                "the stack's pods request {stack} and the cluster's other pods {others}: {total} of the Ready nodes' {room} allocatable"
            ),
            "free room on the node (other namespaces' workloads), lower resources.requests in the charts' values, or give the cluster more (`minikube start --cpus --memory`)",
        )
    };
    Some(finding(
        CLUSTER,
        "Node/*".to_owned(),
        Cause::Capacity,
        message,
        Some(fix.to_owned()),
    ))
}

/// What runs in a workload against what hoist deployed: the release's
/// current manifest (`deployed`), the generation and revision hoist
/// recorded when it last made the service Ready, the release's current
/// revision, and (when that differs from the recorded one) the manifest of
/// the recorded revision (`recorded`).
pub(crate) fn drift(
    service: &str,
    live: &Recorded,
    deployed: Option<&Template>,
    revision: Option<u32>,
    recorded: Option<&Template>,
) -> Option<Finding> {
    let object = live.object.clone();
    let drifted = |message: String| {
        Some(finding(
            service,
            object.clone(),
            Cause::Drift,
            message,
            Some(UP_FIX.to_owned()),
        ))
    };
    if let Some(changed) =
        deployed.and_then(|d| differences(&live.images, live.config_hash.as_ref(), d))
    {
        return drifted(format!(
            "{object} differs from what hoist deployed: {changed}: someone ran `kubectl edit` or `kubectl set` on it"
        ));
    }
    // Never made Ready by hoist: nothing recorded to compare with.
    live.fingerprint.as_ref()?;
    if live.revision.is_some() && revision.is_some() && live.revision != revision {
        // A rollback to what hoist deployed is no drift: compare contents.
        let changed = match (deployed, recorded) {
            (Some(now), Some(then)) => differences(&now.images, now.config_hash.as_ref(), then)?,
            _ => "its contents could not be compared".to_owned(),
        };
        return drifted(format!(
            "release revision {} is not the one hoist last made Ready (revision {}): {changed}; a failed `hoist up --no-rollback` left it, or someone ran `helm upgrade` or `helm rollback` by hand",
            revision.unwrap_or_default(),
            live.revision.unwrap_or_default()
        ));
    }
    if live.revision == revision && live.at_generation.is_some_and(|g| g != live.generation) {
        return drifted(format!(
            "{object} was changed outside hoist since hoist deployed it (generation {}, hoist recorded {}): a `kubectl edit`, `scale` or `patch`",
            live.generation,
            live.at_generation.unwrap_or_default()
        ));
    }
    None
}

/// How `images` and `config_hash` differ from `template`'s, in words.
fn differences(
    images: &BTreeMap<String, String>,
    config_hash: Option<&String>,
    template: &Template,
) -> Option<String> {
    let mut changed: Vec<String> = template
        .images
        .iter()
        .filter_map(|(container, image)| {
            let running = images.get(container)?;
            (running != image)
                .then(|| format!("container {container} runs {running}, hoist deployed {image}"))
        })
        .collect();
    if template.config_hash.is_some() && template.config_hash.as_ref() != config_hash {
        changed.push(format!(
            "config hash {}, hoist deployed {}",
            config_hash.map_or("(none)", String::as_str),
            template.config_hash.as_deref().unwrap_or_default()
        ));
    }
    (!changed.is_empty()).then(|| changed.join("; "))
}

/// One tier as it is now, for [`dependencies`].
#[derive(Debug, Clone)]
pub(crate) struct Tier {
    pub(crate) service: String,
    pub(crate) depends_on: Vec<String>,
    /// `None` when Ready; else why not, in words, and the object to name.
    pub(crate) not_ready: Option<(String, String)>,
}

/// How a service's workloads and Services stand: `None` when Ready (every
/// workload Ready with at least one ready replica, every Service with a
/// ready endpoint).
pub(crate) fn tier_state(
    workloads: &[Recorded],
    without_endpoints: &[String],
    installed: bool,
) -> Option<(String, String)> {
    if !installed {
        return Some(("(release)".to_owned(), "not installed".to_owned()));
    }
    for w in workloads {
        let why = match &w.status {
            Status::Ready if w.replicas.ready > 0 || w.replicas.desired > 0 => None,
            Status::Ready => Some("scaled to 0 replicas".to_owned()),
            Status::InProgress(why) | Status::Failed(why) => Some(why.clone()),
        };
        if let Some(why) = why {
            return Some((
                w.object.clone(),
                format!("{why}, {}/{} ready", w.replicas.ready, w.replicas.desired),
            ));
        }
    }
    without_endpoints
        .first()
        .map(|s| (s.clone(), "no ready endpoint".to_owned()))
}

/// A dependency not Ready while a service depending on it is.
pub(crate) fn dependencies(tiers: &[Tier]) -> Vec<Finding> {
    let by_name: BTreeMap<&str, &Tier> = tiers.iter().map(|t| (t.service.as_str(), t)).collect();
    let mut out = Vec::new();
    for tier in tiers {
        let Some((object, why)) = &tier.not_ready else {
            continue;
        };
        let up: Vec<&str> = tiers
            .iter()
            .filter(|t| t.not_ready.is_none() && t.depends_on.contains(&tier.service))
            .map(|t| t.service.as_str())
            .collect();
        if up.is_empty() || !by_name.contains_key(tier.service.as_str()) {
            continue;
        }
        out.push(finding(
            &tier.service,
            object.clone(),
            Cause::DependencyNotReady,
            format!(
                "{} is not Ready ({object}: {why}) while {} depending on it {}: their calls to it fail",
                tier.service,
                up.join(", "),
                if up.len() == 1 { "is" } else { "are" }
            ),
            Some(format!(
                "fix {} first (its findings here, `hoist logs {}`); its dependents recover once it is Ready",
                tier.service, tier.service
            )),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::diagnose::fixtures::pod;
    use crate::rollout::kstatus::Replicas;

    fn recorded(generation: i64, at: i64, revision: u32, image: &str) -> Recorded {
        Recorded {
            fingerprint: Some("f".into()),
            generation,
            at_generation: Some(at),
            revision: Some(revision),
            ready: true,
            replicas: Replicas {
                ready: 1,
                desired: 1,
            },
            config_hash: Some("h1".into()),
            created: None,
            object: "Deployment/todo-backend".into(),
            images: BTreeMap::from([("backend".into(), image.into())]),
            status: Status::Ready,
        }
    }

    fn template(image: &str) -> Template {
        Template {
            object: "Deployment/todo-backend".into(),
            images: BTreeMap::from([("backend".into(), image.into())]),
            config_hash: Some("h1".into()),
        }
    }

    #[test]
    fn drift_names_the_image_or_config_then_the_revision_then_the_generation() {
        let deployed = template("reg/backend@sha256:aa");
        let same = recorded(2, 2, 3, "reg/backend@sha256:aa");
        assert_eq!(
            drift("backend", &same, Some(&deployed), Some(3), None),
            None,
            "as deployed"
        );
        let f = drift(
            "backend",
            &recorded(3, 2, 3, "busybox:1"),
            Some(&deployed),
            Some(3),
            None,
        )
        .unwrap();
        assert_eq!(f.cause, Cause::Drift);
        assert_eq!(
            f.message,
            "Deployment/todo-backend differs from what hoist deployed: container backend runs busybox:1, hoist deployed reg/backend@sha256:aa: someone ran `kubectl edit` or `kubectl set` on it"
        );
        let mut switched = recorded(3, 2, 3, "reg/backend@sha256:aa");
        switched.config_hash = Some("h2".into());
        assert!(
            drift("backend", &switched, Some(&deployed), Some(3), None)
                .unwrap()
                .message
                .contains("config hash h2, hoist deployed h1")
        );
        // Revision 4 is a rollback to what revision 3 held: no drift.
        let upgraded = recorded(3, 2, 3, "reg/backend@sha256:aa");
        assert_eq!(
            drift(
                "backend",
                &upgraded,
                Some(&deployed),
                Some(4),
                Some(&deployed)
            ),
            None
        );
        let then = template("reg/backend@sha256:00");
        assert_eq!(
            drift("backend", &upgraded, Some(&deployed), Some(4), Some(&then))
                .unwrap()
                .message,
            "release revision 4 is not the one hoist last made Ready (revision 3): container backend runs reg/backend@sha256:aa, hoist deployed reg/backend@sha256:00; a failed `hoist up --no-rollback` left it, or someone ran `helm upgrade` or `helm rollback` by hand"
        );
        assert_eq!(
            drift(
                "backend",
                &recorded(4, 2, 3, "reg/backend@sha256:aa"),
                Some(&deployed),
                Some(3),
                None
            )
            .unwrap()
            .message,
            "Deployment/todo-backend was changed outside hoist since hoist deployed it (generation 4, hoist recorded 2): a `kubectl edit`, `scale` or `patch`"
        );
        let mut never = recorded(4, 2, 3, "reg/backend@sha256:aa");
        never.fingerprint = None;
        assert_eq!(
            drift("backend", &never, Some(&deployed), Some(5), None),
            None,
            "never Ready under hoist"
        );
    }

    #[test]
    fn a_dependency_down_under_a_ready_dependent_is_named_once() {
        let tier = |s: &str, deps: &[&str], down: bool| Tier {
            service: s.into(),
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            not_ready: down.then(|| {
                (
                    "Deployment/x".to_owned(),
                    "scaled to 0 replicas, 0/0 ready".to_owned(),
                )
            }),
        };
        let found = dependencies(&[
            tier("database", &[], false),
            tier("backend", &["database"], true),
            tier("frontend", &["backend"], false),
        ]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].service, "backend");
        assert_eq!(
            found[0].message,
            "backend is not Ready (Deployment/x: scaled to 0 replicas, 0/0 ready) while frontend depending on it is: their calls to it fail"
        );
        assert!(
            dependencies(&[
                tier("backend", &[], true),
                tier("frontend", &["backend"], true)
            ])
            .is_empty(),
            "both down: each has its own findings"
        );
    }

    #[test]
    fn a_service_without_endpoints_names_its_selector_and_the_pods_it_matches() {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "todo-backend"},
            "spec": {"selector": {"app": "backend"}}
        }))
        .unwrap();
        let empty: Endpoints = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "todo-backend"}, "subsets": []
        }))
        .unwrap();
        let f = no_endpoints("backend", &svc, Some(&empty), &[]).unwrap();
        assert_eq!(
            f.message,
            "Service todo-backend has no ready endpoint: its selector app=backend: no pod matches it"
        );
        let crashing = pod(serde_json::json!({
            "metadata": {"name": "todo-backend-1", "labels": {"app": "backend"}},
            "status": {"containerStatuses": [{"name": "api", "image": "api:1", "imageID": "", "ready": false,
                "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
        }));
        assert!(
            no_endpoints("backend", &svc, None, &[crashing])
                .unwrap()
                .message
                .ends_with("it matches todo-backend-1 (CrashLoopBackOff), none Ready")
        );
        let ready: Endpoints = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "todo-backend"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]
        }))
        .unwrap();
        assert_eq!(no_endpoints("backend", &svc, Some(&ready), &[]), None);
    }

    #[test]
    fn node_pressure_and_capacity_are_named_with_the_numbers() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"},
            "status": {"allocatable": {"cpu": "2", "memory": "4Gi"}, "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure", "message": "kubelet has disk pressure"}
            ]}
        }))
        .unwrap();
        let found = node_conditions(&node);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].message,
            "node n1 is short of disk (DiskPressure): KubeletHasDiskPressure kubelet has disk pressure; the kubelet evicts pods and refuses new ones"
        );
        let healthy: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"},
            "status": {"allocatable": {"cpu": "2", "memory": "4Gi"}, "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        assert!(node_conditions(&healthy).is_empty());
        let r = |cpu, mi: u64| Resources {
            cpu,
            memory: mi << 20,
        };
        let nodes = [healthy];
        assert_eq!(capacity(r(300, 512), r(1000, 512), &nodes), None);
        assert_eq!(
            capacity(r(3000, 512), r(0, 0), &nodes).unwrap().message,
            "the stack's pods request cpu 3000m, memory 512Mi; the Ready nodes have cpu 2000m, memory 4096Mi allocatable in all"
        );
        assert!(
            capacity(r(1500, 512), r(1000, 0), &nodes)
                .unwrap()
                .message
                .starts_with("the stack's pods request cpu 1500m, memory 512Mi and the cluster's other pods cpu 1000m, memory 0Mi")
        );
    }
}
