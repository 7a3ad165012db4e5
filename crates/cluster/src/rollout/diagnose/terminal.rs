//! Terminal states: each ends the wait at once.

use k8s_openapi::api::core::v1::{ContainerStatus, PersistentVolumeClaim, Pod};
use kube::ResourceExt;

use super::capacity::unschedulable;
use super::{Context, DEFAULT_CLASS, Draft, IMAGE_REASONS, LogRequest, waiting};
use crate::rollout::outcome::Cause;

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
                    previous: now.is_none(),
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
                // The instance that died is the current one while it is
                // terminated, the previous one once the next has started
                // (the kubelet keeps only the last dead container).
                previous: restarts > 0 && now.is_none(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::rollout::diagnose::fixtures::{ctx, pod};
    use k8s_openapi::api::core::v1::Event;
    use k8s_openapi::api::storage::v1::StorageClass;

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
}
