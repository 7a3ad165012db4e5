//! What a rollout or a deleted pod needs to drop no request: a new pod Ready
//! before an old one stops (`maxUnavailable: 0`, `maxSurge` >= 1), a preStop
//! drain while the endpoints forget the old pod, a grace period longer than
//! the drain, and a PodDisruptionBudget exactly where a tier runs several pods.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::policy::Rendered;

/// The drain and the backend's own graceful stop (uvicorn's 20 s) must fit.
const MIN_GRACE_S: i64 = 30;

/// Every violation of the rules above in one render.
pub(super) fn violations(rendered: &Rendered) -> Vec<String> {
    let mut found = Vec::new();
    for workload in rendered.workloads() {
        let id = &workload.id;
        let Some(deployment) = rendered.deployments.iter().find(|d| {
            format!(
                "Deployment/{}",
                d.metadata.name.as_deref().unwrap_or_default()
            ) == *id
        }) else {
            continue;
        };
        let spec = deployment.spec.as_ref().expect("a spec");
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
        let pod = workload.template.spec.as_ref().expect("a pod spec");
        let container = &pod.containers[0];
        let hook = container
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.as_ref())
            .and_then(|h| h.exec.as_ref())
            .and_then(|e| e.command.as_ref());
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
