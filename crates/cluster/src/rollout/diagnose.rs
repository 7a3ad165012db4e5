//! Diagnosis: from the pods, claims, events and nodes the wait sees, the
//! terminal states that end it at once, and at the deadline what was still
//! wrong. Pure functions over a snapshot; the log lines are fetched after
//! (see `wait`).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    ContainerStatus, Event, Node, PersistentVolumeClaim, Pod, ResourceRequirements,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;

use super::outcome::{Cause, Finding};
use super::plan::ImageRef;

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

/// The terminal states in `ctx`: each ends the wait at once.
pub(crate) fn terminal(ctx: &Context<'_>) -> Vec<Draft> {
    let mut out = Vec::new();
    for pod in ctx.pods {
        let name = pod.name_any();
        let status = pod.status.as_ref();
        let init = status
            .and_then(|s| s.init_container_statuses.as_deref())
            .unwrap_or_default();
        let main = status
            .and_then(|s| s.container_statuses.as_deref())
            .unwrap_or_default();
        for c in init {
            if let Some(d) = container_terminal(ctx, pod, &name, c, true) {
                out.push(d);
            }
        }
        for c in main {
            if let Some(d) = container_terminal(ctx, pod, &name, c, false) {
                out.push(d);
            }
        }
        if let Some(d) = unschedulable(ctx, pod, true) {
            out.push(d);
        }
    }
    for claim in ctx.claims {
        if let Some(d) = claim_hopeless(ctx, claim) {
            out.push(d);
        }
    }
    out
}

fn waiting(c: &ContainerStatus) -> Option<(&str, &str)> {
    let w = c.state.as_ref()?.waiting.as_ref()?;
    Some((
        w.reason.as_deref().unwrap_or(""),
        w.message.as_deref().unwrap_or(""),
    ))
}

/// Terminal waiting reasons: the image, the configuration, the runtime.
fn waiting_terminal(ctx: &Context<'_>, name: &str, c: &ContainerStatus) -> Option<Draft> {
    let container = Some(c.name.as_str());
    let (reason, message) = waiting(c)?;
    if IMAGE_REASONS.contains(&reason) {
        let fix = match ctx.image {
            Some(image) => format!(
                "hoist delivered {} ({}) to {}; check image.repository, image.tag, image.digest and image.pullPolicy in the values (pullPolicy Never needs the image on the node)",
                image.reference, image.digest, image.delivered_to
            ),
            None => "check image.repository, image.tag and image.pullPolicy in the values; import or push the image where the node finds it".to_owned(),
        };
        return Some(ctx.draft(
            name,
            container,
            Cause::ImageNotFound,
            format!(
                "{reason}: container {} image {}: {message}",
                c.name, c.image
            ),
            Some(fix),
            None,
        ));
    }
    // Missing for good: `secret "x" not found`, `couldn't find key K in
    // Secret ns/x`. Others (`failed to sync secret cache`) pass by themselves.
    if reason == "CreateContainerConfigError"
        && (message.contains("not found") || message.contains("couldn't find key"))
    {
        return Some(ctx.draft(name, container, Cause::MissingConfig, format!("CreateContainerConfigError: container {}: {message}", c.name), Some("create the missing Secret or ConfigMap, or add the key to the service's env in hoist.toml (hoist applies them before the release)".to_owned()), None));
    }
    if matches!(reason, "CreateContainerError" | "RunContainerError") {
        return Some(ctx.draft(
            name,
            container,
            Cause::Other,
            format!("{reason}: container {}: {message}", c.name),
            None,
            None,
        ));
    }
    None
}

fn container_terminal(
    ctx: &Context<'_>,
    pod: &Pod,
    name: &str,
    c: &ContainerStatus,
    init: bool,
) -> Option<Draft> {
    // Ready now (or an init container that completed): past restarts or
    // kills do not make it a failure.
    if c.ready {
        return None;
    }
    if let Some(d) = waiting_terminal(ctx, name, c) {
        return Some(d);
    }
    let container = Some(c.name.as_str());
    let state = c.state.as_ref();
    let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let now = state.and_then(|s| s.terminated.as_ref());
    if let Some(t) = now
        .into_iter()
        .chain(last)
        .find(|t| t.reason.as_deref() == Some("OOMKilled"))
    {
        let limit = memory_limit(pod, &c.name, init).unwrap_or_else(|| "none set".to_owned());
        return Some(
            ctx.draft(
                name,
                container,
                Cause::OomKilled,
                format!(
                    "container {} was OOMKilled (exit code {}); its memory limit is {limit}",
                    c.name, t.exit_code
                ),
                Some(
                    "raise resources.limits.memory in the chart's values, or make the app use less"
                        .to_owned(),
                ),
                Some(LogRequest {
                    pod: name.to_owned(),
                    container: c.name.clone(),
                    previous: true,
                }),
            ),
        );
    }
    let crashing = waiting(c).is_some_and(|(r, _)| r == "CrashLoopBackOff")
        || last.is_some_and(|t| t.exit_code != 0);
    let restarts = u32::try_from(c.restart_count).unwrap_or(0);
    // An init container that exits non-zero with restartPolicy Never fails the pod at once.
    let failed_now = init
        && now.is_some_and(|t| t.exit_code != 0)
        && pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed");
    if (crashing && restarts >= ctx.crashloop_restarts) || failed_now {
        let t = last.or(now);
        let exit = t.map_or_else(|| "unknown".to_owned(), |t| t.exit_code.to_string());
        let why = t
            .and_then(|t| t.reason.clone())
            .unwrap_or_else(|| "Error".to_owned());
        let (cause, what) = if init {
            (Cause::InitContainer, "init container")
        } else {
            (Cause::CrashLoop, "container")
        };
        return Some(ctx.draft(
            name,
            container,
            cause,
            format!(
                "{what} {} keeps exiting: exit code {exit} ({why}), restarted {restarts} times",
                c.name
            ),
            Some("read its last log lines below; the app fails at start".to_owned()),
            Some(LogRequest {
                pod: name.to_owned(),
                container: c.name.clone(),
                previous: restarts > 0,
            }),
        ));
    }
    None
}

fn memory_limit(pod: &Pod, container: &str, init: bool) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let list = if init {
        spec.init_containers.as_deref().unwrap_or_default()
    } else {
        &spec.containers
    };
    let c = list.iter().find(|c| c.name == container)?;
    Some(
        c.resources
            .as_ref()?
            .limits
            .as_ref()?
            .get("memory")?
            .0
            .clone(),
    )
}

fn condition<'a>(
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

/// The pod's requests: the sum over its containers, or its largest init
/// container's where that is more (as the scheduler counts).
fn requests(pod: &Pod) -> (u64, u64) {
    let Some(spec) = pod.spec.as_ref() else {
        return (0, 0);
    };
    let of = |r: Option<&ResourceRequirements>| {
        let req = r.and_then(|r| r.requests.as_ref());
        let get = |k: &str, f: fn(&str) -> Option<u64>| {
            req.and_then(|m| m.get(k))
                .and_then(|q| f(&q.0))
                .unwrap_or(0)
        };
        (get("cpu", millicores), get("memory", bytes))
    };
    let (mut cpu, mut mem) = spec
        .containers
        .iter()
        .map(|c| of(c.resources.as_ref()))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    for c in spec.init_containers.iter().flatten() {
        let (c_cpu, c_mem) = of(c.resources.as_ref());
        cpu = cpu.max(c_cpu);
        mem = mem.max(c_mem);
    }
    (cpu, mem)
}

fn unschedulable(ctx: &Context<'_>, pod: &Pod, terminal_only: bool) -> Option<Draft> {
    let cond = condition(pod, "PodScheduled")?;
    if cond.status != "False" || cond.reason.as_deref() != Some("Unschedulable") {
        return None;
    }
    let name = pod.name_any();
    let message = cond.message.clone().unwrap_or_default();
    let (cpu, mem) = requests(pod);
    let nodes = ctx.nodes?;
    let mut fits_somewhere = false;
    let mut sizes = Vec::new();
    for node in nodes {
        let alloc = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        let get = |k: &str, f: fn(&str) -> Option<u64>| {
            alloc
                .and_then(|m| m.get(k))
                .and_then(|q| f(&q.0))
                .unwrap_or(0)
        };
        let (n_cpu, n_mem) = (get("cpu", millicores), get("memory", bytes));
        fits_somewhere |= cpu <= n_cpu && mem <= n_mem;
        sizes.push(format!(
            "node {} allocatable cpu {}m, memory {}Mi",
            node.name_any(),
            n_cpu,
            n_mem >> 20
        ));
    }
    if terminal_only && fits_somewhere {
        // It could fit once other pods go (a rolling update): not terminal.
        return None;
    }
    let text = format!(
        "FailedScheduling: {message}; the pod requests cpu {cpu}m, memory {}Mi; {}",
        mem >> 20,
        if sizes.is_empty() {
            "no node is Ready".to_owned()
        } else {
            sizes.join("; ")
        }
    );
    Some(ctx.draft(&name, None, Cause::Unschedulable, text, Some("lower resources.requests in the chart's values to what a node has allocatable, or add a larger node".to_owned()), None))
}

fn claim_hopeless(ctx: &Context<'_>, claim: &PersistentVolumeClaim) -> Option<Draft> {
    let phase = claim
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending");
    if phase != "Pending" {
        return None;
    }
    let name = claim.name_any();
    let object = format!("PersistentVolumeClaim/{name}");
    let finding = |message: String, fix: String| Draft {
        finding: ctx.finding(
            object.clone(),
            None,
            None,
            Cause::ClaimPending,
            message,
            Some(fix),
        ),
        logs: None,
    };
    let class = claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref());
    if let Some(classes) = ctx.classes {
        let names: Vec<_> = classes.iter().map(ResourceExt::name_any).collect();
        let listed = if names.is_empty() {
            "none exists".to_owned()
        } else {
            format!("the cluster has: {}", names.join(", "))
        };
        let default = classes.iter().any(|c| {
            c.annotations()
                .get(DEFAULT_CLASS)
                .is_some_and(|v| v == "true")
        });
        match class {
            Some(class) if !class.is_empty() && !names.iter().any(|n| n == class) => {
                return Some(finding(
                    format!("claim {name} is Pending: StorageClass {class:?} does not exist"),
                    format!(
                        "set the claim's storageClassName to an existing class ({listed}) or create {class:?}"
                    ),
                ));
            }
            None if !default => {
                return Some(finding(
                    format!(
                        "claim {name} is Pending: it names no StorageClass and the cluster has no default one"
                    ),
                    format!(
                        "mark a StorageClass default ({listed}) or set the claim's storageClassName"
                    ),
                ));
            }
            _ => {}
        }
    }
    // `""` asks for static binding: it waits for a matching volume.
    if class == Some("") {
        return None;
    }
    let failed = ctx.events.iter().rev().find(|e| {
        e.involved_object.name.as_deref() == Some(&name)
            && e.involved_object.kind.as_deref() == Some("PersistentVolumeClaim")
            && e.reason.as_deref() == Some("ProvisioningFailed")
    })?;
    Some(finding(
        format!("claim {name} is Pending: ProvisioningFailed: {}", failed.message.as_deref().unwrap_or_default()),
        "fix the StorageClass's provisioner, or set the claim's storageClassName to a class that works".to_owned(),
    ))
}

/// What was still wrong at the deadline, pod by pod (terminal states were
/// caught before): init containers still waiting, probes failing,
/// unschedulable pods, pending claims.
pub(crate) fn at_deadline(ctx: &Context<'_>) -> Vec<Draft> {
    let mut out = Vec::new();
    for pod in ctx.pods {
        let name = pod.name_any();
        let status = pod.status.as_ref();
        if let Some(d) = unschedulable(ctx, pod, false) {
            out.push(d);
            continue;
        }
        let init = status
            .and_then(|s| s.init_container_statuses.as_deref())
            .unwrap_or_default();
        if let Some(c) = init.iter().find(|c| !c.ready) {
            let how = if c.state.as_ref().is_some_and(|s| s.running.is_some()) {
                "is still running".to_owned()
            } else {
                waiting(c).map_or_else(
                    || "has not finished".to_owned(),
                    |(r, m)| format!("is waiting: {r} {m}"),
                )
            };
            out.push(ctx.draft(
                &name,
                Some(&c.name),
                Cause::InitContainer,
                format!(
                    "init container {} {how}; the pod's other containers cannot start",
                    c.name
                ),
                Some("read its log lines below: it usually waits for a dependency".to_owned()),
                Some(LogRequest {
                    pod: name.clone(),
                    container: c.name.clone(),
                    previous: false,
                }),
            ));
            continue;
        }
        let main = status
            .and_then(|s| s.container_statuses.as_deref())
            .unwrap_or_default();
        for c in main.iter().filter(|c| !c.ready) {
            if c.state.as_ref().is_some_and(|s| s.running.is_some()) {
                let unhealthy: Vec<_> = ctx
                    .events
                    .iter()
                    .filter(|e| {
                        e.involved_object.name.as_deref() == Some(&name)
                            && e.reason.as_deref() == Some("Unhealthy")
                    })
                    .filter_map(|e| e.message.as_deref().map(|m| m.trim().to_owned()))
                    .collect();
                let probe = unhealthy.last().map_or("readiness", |m| {
                    if m.starts_with("Liveness") {
                        "liveness"
                    } else if m.starts_with("Startup") {
                        "startup"
                    } else {
                        "readiness"
                    }
                });
                let message = match unhealthy.last() {
                    Some(m) => format!(
                        "the {probe} probe of container {} keeps failing: {m} ({} times)",
                        c.name,
                        unhealthy.len()
                    ),
                    None => format!("container {} runs but never became ready", c.name),
                };
                out.push(ctx.draft(&name, Some(&c.name), Cause::ProbeFailing, message, Some("check the probe's path and port in the chart against what the app serves, and its log lines below".to_owned()), Some(LogRequest { pod: name.clone(), container: c.name.clone(), previous: false })));
            } else if let Some((reason, message)) = waiting(c) {
                out.push(ctx.draft(
                    &name,
                    Some(&c.name),
                    Cause::Other,
                    format!("container {} is waiting: {reason} {message}", c.name),
                    None,
                    None,
                ));
            }
        }
    }
    for claim in ctx.claims {
        if claim.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") {
            let name = claim.name_any();
            out.push(Draft {
                finding: ctx.finding(
                    format!("PersistentVolumeClaim/{name}"),
                    None,
                    None,
                    Cause::ClaimPending,
                    format!("claim {name} is still Pending: no volume was provisioned"),
                    Some(
                        "check the StorageClass's provisioner (`kubectl describe pvc`)".to_owned(),
                    ),
                ),
                logs: None,
            });
        }
    }
    out
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

/// CPU quantity in millicores (`500m`, `2`, `0.5`).
pub(crate) fn millicores(q: &str) -> Option<u64> {
    if let Some(m) = q.strip_suffix('m') {
        return m.parse().ok();
    }
    let v: f64 = q.parse().ok()?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some((v * 1000.0).round() as u64)
}

/// Memory quantity in bytes (`64Mi`, `1G`, `128974848`, `1e3`).
pub(crate) fn bytes(q: &str) -> Option<u64> {
    let suffixes: BTreeMap<&str, u64> = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("Pi", 1 << 50),
        ("Ei", 1 << 60),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
        ("P", 1_000_000_000_000_000),
        ("E", 1_000_000_000_000_000_000),
    ]
    .into_iter()
    .collect();
    let split = q
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e')
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let factor = if suffix.is_empty() {
        1
    } else {
        *suffixes.get(suffix)?
    };
    let v: f64 = number.parse().ok()?;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    Some((v * factor as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json).unwrap())
    }

    fn ctx<'a>(pods: &'a [Arc<Pod>], nodes: Option<&'a [Node]>) -> Context<'a> {
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

    #[test]
    fn a_claim_naming_a_missing_class_is_named_before_its_provisioning_event() {
        let claim: Arc<PersistentVolumeClaim> = Arc::new(serde_json::from_value(serde_json::json!({
            "metadata": {"name": "data"}, "spec": {"storageClassName": "nope"}, "status": {"phase": "Pending"}
        })).unwrap());
        let event: Arc<Event> = Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "data.1"}, "reason": "ProvisioningFailed",
                "message": "storageclass.storage.k8s.io \"nope\" not found",
                "involvedObject": {"kind": "PersistentVolumeClaim", "name": "data"}
            }))
            .unwrap(),
        );
        let classes: Vec<StorageClass> = vec![serde_json::from_value(serde_json::json!({
            "metadata": {"name": "standard", "annotations": {DEFAULT_CLASS: "true"}}, "provisioner": "x"
        })).unwrap()];
        let claims = [claim];
        let events = [event];
        let mut ctx = ctx(&[], None);
        ctx.claims = &claims;
        ctx.events = &events;
        ctx.classes = Some(&classes);
        let found = terminal(&ctx);
        assert_eq!(
            found[0].finding.message,
            "claim data is Pending: StorageClass \"nope\" does not exist"
        );
        assert_eq!(
            found[0].finding.fix.as_deref(),
            Some(
                "set the claim's storageClassName to an existing class (the cluster has: standard) or create \"nope\""
            )
        );
        ctx.classes = None;
        assert!(
            terminal(&ctx)[0]
                .finding
                .message
                .starts_with("claim data is Pending: ProvisioningFailed: storageclass")
        );
    }

    #[test]
    fn quantities_parse_as_the_api_writes_them() {
        assert_eq!(millicores("250m"), Some(250));
        assert_eq!(millicores("2"), Some(2000));
        assert_eq!(millicores("0.5"), Some(500));
        assert_eq!(bytes("64Mi"), Some(64 << 20));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("8035880Ki"), Some(8_035_880 << 10));
        assert_eq!(bytes("1e3"), Some(1000));
    }

    #[test]
    fn a_crash_loop_counts_only_after_the_configured_restarts() {
        let status = |restarts: i32| {
            pod(serde_json::json!({
                "metadata": {"name": "api-1"},
                "status": {"containerStatuses": [{"name": "api", "image": "api:1", "imageID": "", "ready": false,
                    "restartCount": restarts,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}
            }))
        };
        assert!(terminal(&ctx(&[status(1)], None)).is_empty());
        let recovered = pod(serde_json::json!({
            "metadata": {"name": "api-1"},
            "status": {"containerStatuses": [{"name": "api", "image": "api:1", "imageID": "", "ready": true,
                "restartCount": 3, "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}
        }));
        assert!(
            terminal(&ctx(&[recovered], None)).is_empty(),
            "it crashed, then came up"
        );
        let found = terminal(&ctx(&[status(2)], None));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].finding.cause, Cause::CrashLoop);
        assert_eq!(
            found[0].finding.message,
            "container api keeps exiting: exit code 1 (Error), restarted 2 times"
        );
        assert_eq!(
            found[0].logs,
            Some(LogRequest {
                pod: "api-1".into(),
                container: "api".into(),
                previous: true
            })
        );
    }

    #[test]
    fn unschedulable_is_terminal_only_when_no_node_could_ever_fit_it() {
        let p = |cpu: &str| {
            pod(serde_json::json!({
                "metadata": {"name": "api-1"},
                "spec": {"containers": [{"name": "api", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]},
                "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 Insufficient cpu."}]}
            }))
        };
        let nodes: Vec<Node> =
            vec![serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "2", "memory": "8Gi"}}
        })).unwrap()];
        assert!(
            terminal(&ctx(&[p("1500m")], Some(&nodes))).is_empty(),
            "fits once others go"
        );
        let found = terminal(&ctx(&[p("50")], Some(&nodes)));
        assert_eq!(found[0].finding.cause, Cause::Unschedulable);
        assert_eq!(
            found[0].finding.message,
            "FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu.; the pod requests cpu 50000m, memory 64Mi; node n1 allocatable cpu 2000m, memory 8192Mi"
        );
    }
}
