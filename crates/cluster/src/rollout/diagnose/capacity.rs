//! Whether a pod fits a node: its requests against the nodes' allocatable.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, ResourceRequirements};
use kube::ResourceExt;

use super::{Context, Draft, condition};
use crate::rollout::outcome::Cause;

/// The pod's requests: the sum over its containers, or its largest init
/// container's where that is more (as the scheduler counts).
pub(super) fn requests(pod: &Pod) -> (u64, u64) {
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

pub(super) fn unschedulable(ctx: &Context<'_>, pod: &Pod, terminal_only: bool) -> Option<Draft> {
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
    use crate::rollout::diagnose::fixtures::{ctx, pod};
    use k8s_openapi::api::core::v1::Node;

    use crate::rollout::diagnose::terminal;

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
