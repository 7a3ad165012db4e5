//! What a rollout or a deleted pod needs to drop no request: a new pod Ready
//! before an old one stops (`maxUnavailable: 0`, `maxSurge` >= 1), a preStop
//! drain while the endpoints forget the old pod, a grace period longer than
//! the drain, and a PodDisruptionBudget exactly where a tier runs several pods.
//! And what `hoist dev`'s values file changes instead: readiness every second
//! (a startup probe, if any, too) with no less time to start, no init
//! container, no drain, a short grace; still a new pod Ready before an old
//! one stops, so a start-up that fails leaves the old one serving.

use k8s_openapi::api::apps::v1::DeploymentSpec;
use k8s_openapi::api::core::v1::{Container, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::policy::Rendered;

/// The drain and the backend's own graceful stop (uvicorn's 20 s) must fit.
const MIN_GRACE_S: i64 = 30;

/// The longest a dev pod keeps running once told to stop.
const DEV_MAX_GRACE_S: i64 = 10;

/// The Deployments of a render with their pod specs and ids.
fn deployments(rendered: &Rendered) -> Vec<(String, &DeploymentSpec, &PodSpec)> {
    rendered
        .deployments
        .iter()
        .map(|d| {
            let spec = d.spec.as_ref().expect("a spec");
            (
                format!(
                    "Deployment/{}",
                    d.metadata.name.as_deref().unwrap_or_default()
                ),
                spec,
                spec.template.spec.as_ref().expect("a pod spec"),
            )
        })
        .collect()
}

/// A new pod Ready before an old one is told to stop.
fn surge_violations(id: &str, spec: &DeploymentSpec, found: &mut Vec<String>) {
    let rolling = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    if rolling.and_then(|r| r.max_unavailable.as_ref()) != Some(&IntOrString::Int(0)) {
        found.push(format!("{id}: maxUnavailable is not 0"));
    }
    match rolling.and_then(|r| r.max_surge.as_ref()) {
        Some(IntOrString::Int(n)) if *n >= 1 => {}
        other => found.push(format!("{id}: maxSurge {other:?}, not at least 1")),
    }
}

fn pre_stop(container: &Container) -> Option<&Vec<String>> {
    container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .and_then(|h| h.exec.as_ref())
        .and_then(|e| e.command.as_ref())
}

/// How long a probe allows before it gives up: period times failures.
fn allowance(probe: Option<&Probe>) -> i32 {
    probe.map_or(0, |p| {
        p.period_seconds.unwrap_or(10) * p.failure_threshold.unwrap_or(3)
    })
}

/// How long a container that never answers has before the kubelet
/// restarts it: the startup probe's allowance, then liveness's delay and
/// allowance.
fn until_restart(container: &Container) -> i32 {
    let liveness = container.liveness_probe.as_ref();
    allowance(container.startup_probe.as_ref())
        + liveness.and_then(|p| p.initial_delay_seconds).unwrap_or(0)
        + allowance(liveness)
}

/// Every violation of `hoist dev`'s rules in the dev render `dev`, against
/// the same charts' render without it, `base`.
pub(super) fn dev_violations(dev: &Rendered, base: &Rendered) -> Vec<String> {
    let mut found = Vec::new();
    let base = deployments(base);
    for (id, spec, pod) in deployments(dev) {
        surge_violations(&id, spec, &mut found);
        let (_, _, base_pod) = base
            .iter()
            .find(|(b, _, _)| *b == id)
            .unwrap_or_else(|| panic!("{id} only in the dev render"));
        let (container, base_container) = (&pod.containers[0], &base_pod.containers[0]);
        // A startup probe may go (readiness then runs from the start) but,
        // when there is one, it runs every second.
        let mut every_second = vec![("readiness", container.readiness_probe.as_ref())];
        if container.startup_probe.is_some() {
            every_second.push(("startup", container.startup_probe.as_ref()));
        }
        for (what, probe) in every_second {
            if probe.and_then(|p| p.period_seconds) != Some(1) {
                found.push(format!("{id}: the {what} probe does not run every second"));
            }
        }
        if allowance(container.readiness_probe.as_ref())
            < allowance(base_container.readiness_probe.as_ref())
        {
            found.push(format!(
                "{id}: the readiness probe gives up after {} s, sooner than without the dev values ({} s)",
                allowance(container.readiness_probe.as_ref()),
                allowance(base_container.readiness_probe.as_ref())
            ));
        }
        let (start, base_start) = (until_restart(container), until_restart(base_container));
        if start < base_start {
            found.push(format!(
                "{id}: a slow start is restarted after {start} s, sooner than without the dev values ({base_start} s)"
            ));
        }
        // The database already serves in a dev cycle: nothing waits for it.
        for init in pod.init_containers.iter().flatten() {
            found.push(format!("{id}: an init container in dev: {}", init.name));
        }
        if let Some(command) = pre_stop(container) {
            found.push(format!("{id}: a preStop drain in dev: {command:?}"));
        }
        match pod.termination_grace_period_seconds {
            Some(s) if s <= DEV_MAX_GRACE_S => {}
            other => found.push(format!(
                "{id}: terminationGracePeriodSeconds {other:?}, over {DEV_MAX_GRACE_S}"
            )),
        }
    }
    found
}

/// Every violation of the rules above in one render.
pub(super) fn violations(rendered: &Rendered) -> Vec<String> {
    let mut found = Vec::new();
    for workload in rendered.workloads() {
        let id = &workload.id;
        let Some((_, spec, _)) = deployments(rendered).into_iter().find(|(d, _, _)| d == id) else {
            continue;
        };
        surge_violations(id, spec, &mut found);
        let pod = workload.template.spec.as_ref().expect("a pod spec");
        let container = &pod.containers[0];
        let hook = pre_stop(container);
        match hook {
            // The images have no `sleep`: the hook runs their own runtime.
            Some(command) if ["python3", "node"].contains(&command[0].as_str()) => {}
            other => found.push(format!(
                "{id}: no preStop drain through the image's runtime: {other:?}"
            )),
        }
        if pod.termination_grace_period_seconds.unwrap_or(30) < MIN_GRACE_S {
            found.push(format!(
                "{id}: terminationGracePeriodSeconds under {MIN_GRACE_S}"
            ));
        }
        let labels = workload
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let budgets = rendered
            .disruption_budgets
            .iter()
            .filter(|b| {
                b.spec
                    .as_ref()
                    .and_then(|s| s.selector.as_ref())
                    .and_then(|s| s.match_labels.as_ref())
                    .is_some_and(|m| {
                        !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v))
                    })
            })
            .count();
        let expected = usize::from(workload.replicas > 1);
        if budgets != expected {
            found.push(format!(
                "{id}: {} replicas and {budgets} PodDisruptionBudgets (expected {expected})",
                workload.replicas
            ));
        }
    }
    found
}
