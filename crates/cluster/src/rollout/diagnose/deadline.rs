//! At the deadline: what was still wrong, pod by pod.

use kube::ResourceExt;

use super::capacity::unschedulable;
use super::{Context, Draft, LogRequest, waiting};
use crate::rollout::outcome::Cause;

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
