//! Policies over rendered manifests, parsed into k8s-openapi types: the
//! restricted security profile, probes and resources on every container, no
//! secret in a `ConfigMap`, the Minikube budget (SC-1), and wiring (selectors,
//! Service ports, Ingress backends, HPA and PDB targets).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, PodTemplateSpec, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;

use super::helm::{documents, identity};

/// One render, sorted by kind.
#[derive(Default)]
pub(super) struct Rendered {
    pub(super) deployments: Vec<Deployment>,
    pub(super) stateful_sets: Vec<StatefulSet>,
    pub(super) services: Vec<Service>,
    pub(super) config_maps: Vec<ConfigMap>,
    pub(super) secrets: Vec<Secret>,
    pub(super) ingresses: Vec<Ingress>,
    pub(super) autoscalers: Vec<HorizontalPodAutoscaler>,
    pub(super) disruption_budgets: Vec<PodDisruptionBudget>,
}

fn typed<T: DeserializeOwned>(doc: serde_yaml::Value) -> T {
    let id = identity(&doc);
    serde_yaml::from_value(doc).unwrap_or_else(|e| panic!("{id} is not a valid object: {e}"))
}

impl Rendered {
    /// Parses helm's output.
    ///
    /// # Panics
    ///
    /// On a kind these tests do not know: a new kind needs its policies here.
    pub(super) fn parse(yaml: &str) -> Self {
        let mut rendered = Self::default();
        for doc in documents(yaml) {
            match doc["kind"].as_str().unwrap_or_default() {
                "Deployment" => rendered.deployments.push(typed(doc)),
                "StatefulSet" => rendered.stateful_sets.push(typed(doc)),
                "Service" => rendered.services.push(typed(doc)),
                "ConfigMap" => rendered.config_maps.push(typed(doc)),
                "Secret" => rendered.secrets.push(typed(doc)),
                "Ingress" => rendered.ingresses.push(typed(doc)),
                "HorizontalPodAutoscaler" => rendered.autoscalers.push(typed(doc)),
                "PodDisruptionBudget" => rendered.disruption_budgets.push(typed(doc)),
                other => panic!("{}: kind {other} has no policy tests yet", identity(&doc)),
            }
        }
        rendered
    }

    /// Every object that runs pods, with the replicas it runs at rest.
    pub(super) fn workloads(&self) -> Vec<Workload<'_>> {
        let deployments = self.deployments.iter().map(|d| {
            let name = d.metadata.name.clone().unwrap_or_default();
            let spec = d.spec.as_ref().expect("Deployment has a spec");
            // Without spec.replicas an HPA owns the count; it never goes below minReplicas.
            let replicas = spec.replicas.unwrap_or_else(|| {
                self.autoscalers
                    .iter()
                    .find(|h| {
                        h.spec
                            .as_ref()
                            .is_some_and(|s| s.scale_target_ref.name == name)
                    })
                    .and_then(|h| h.spec.as_ref()?.min_replicas)
                    .unwrap_or(1)
            });
            Workload {
                id: format!("Deployment/{name}"),
                kind: "Deployment",
                name,
                replicas,
                selector: &spec.selector,
                template: &spec.template,
            }
        });
        let stateful_sets = self.stateful_sets.iter().map(|s| {
            let name = s.metadata.name.clone().unwrap_or_default();
            let spec = s.spec.as_ref().expect("StatefulSet has a spec");
            Workload {
                id: format!("StatefulSet/{name}"),
                kind: "StatefulSet",
                name,
                replicas: spec.replicas.unwrap_or(1),
                selector: &spec.selector,
                template: &spec.template,
            }
        });
        deployments.chain(stateful_sets).collect()
    }
}

/// An object that runs pods.
pub(super) struct Workload<'a> {
    pub(super) id: String,
    kind: &'static str,
    name: String,
    pub(super) replicas: i32,
    selector: &'a LabelSelector,
    pub(super) template: &'a PodTemplateSpec,
}

impl Workload<'_> {
    fn pod(&self) -> &PodSpec {
        self.template
            .spec
            .as_ref()
            .expect("pod template has a spec")
    }

    fn labels(&self) -> BTreeMap<String, String> {
        self.template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default()
    }

    fn selected_by(&self, selector: &BTreeMap<String, String>) -> bool {
        let labels = self.labels();
        !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    fn has_port(&self, target: &IntOrString) -> bool {
        self.pod()
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .any(|p| match target {
                IntOrString::Int(n) => p.container_port == *n,
                IntOrString::String(name) => p.name.as_deref() == Some(name),
            })
    }
}

/// Restricted security, probes and resources on every container.
pub(super) fn container_violations(rendered: &Rendered) -> Vec<String> {
    let mut found = Vec::new();
    for workload in rendered.workloads() {
        let pod = workload.pod();
        let init = pod.init_containers.iter().flatten().map(|c| (c, true));
        for (container, is_init) in pod.containers.iter().map(|c| (c, false)).chain(init) {
            let at = format!("{} container {}", workload.id, container.name);
            for problem in container_problems(pod, container, is_init) {
                found.push(format!("{at}: {problem}"));
            }
        }
    }
    found
}

fn container_problems(pod: &PodSpec, c: &Container, is_init: bool) -> Vec<&'static str> {
    let mut problems = Vec::new();
    let resources = c.resources.as_ref();
    for (what, map) in [
        ("requests", resources.and_then(|r| r.requests.as_ref())),
        ("limits", resources.and_then(|r| r.limits.as_ref())),
    ] {
        for resource in ["cpu", "memory"] {
            if !map.is_some_and(|m| m.contains_key(resource)) {
                problems.push(match (what, resource) {
                    ("requests", "cpu") => "no CPU request",
                    ("requests", _) => "no memory request",
                    (_, "cpu") => "no CPU limit",
                    _ => "no memory limit",
                });
            }
        }
    }
    if !is_init {
        if c.liveness_probe.is_none() {
            problems.push("no liveness probe");
        }
        if c.readiness_probe.is_none() {
            problems.push("no readiness probe");
        }
    }
    let sc = c.security_context.as_ref();
    let pod_sc = pod.security_context.as_ref();
    let non_root = sc
        .and_then(|s| s.run_as_non_root)
        .or_else(|| pod_sc.and_then(|s| s.run_as_non_root));
    if non_root != Some(true) {
        problems.push("runAsNonRoot is not true");
    }
    if sc.and_then(|s| s.read_only_root_filesystem) != Some(true) {
        problems.push("readOnlyRootFilesystem is not true");
    }
    if sc.and_then(|s| s.allow_privilege_escalation) != Some(false) {
        problems.push("allowPrivilegeEscalation is not false");
    }
    let drops_all = sc
        .and_then(|s| s.capabilities.as_ref())
        .and_then(|c| c.drop.as_ref())
        .is_some_and(|d| d.iter().any(|cap| cap == "ALL"));
    if !drops_all {
        problems.push("capabilities do not drop ALL");
    }
    let seccomp = sc
        .and_then(|s| s.seccomp_profile.as_ref())
        .or_else(|| pod_sc.and_then(|s| s.seccomp_profile.as_ref()));
    if seccomp.map(|p| p.type_.as_str()) != Some("RuntimeDefault") {
        problems.push("seccompProfile is not RuntimeDefault");
    }
    problems
}

/// The name rules of CFG-1, plus credentials inside URLs.
pub(super) fn looks_secret(key: &str, value: &str) -> bool {
    let name = regex::Regex::new("(?i)SECRET|PASSWORD|TOKEN|KEY|CREDENTIAL").expect("valid regex");
    let url_with_user =
        regex::Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]+@").expect("valid regex");
    name.is_match(key) || key == "DATABASE_URL" || url_with_user.is_match(value.trim())
}

/// The recommended labels every object carries.
pub(super) const LABELS: [&str; 6] = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
];

/// Objects (and pod templates) missing one of [`LABELS`].
pub(super) fn label_violations(rendered: &Rendered) -> Vec<String> {
    let objects = rendered
        .deployments
        .iter()
        .map(|o| ("Deployment", &o.metadata))
        .chain(
            rendered
                .stateful_sets
                .iter()
                .map(|o| ("StatefulSet", &o.metadata)),
        )
        .chain(rendered.services.iter().map(|o| ("Service", &o.metadata)))
        .chain(
            rendered
                .config_maps
                .iter()
                .map(|o| ("ConfigMap", &o.metadata)),
        )
        .chain(rendered.secrets.iter().map(|o| ("Secret", &o.metadata)))
        .chain(rendered.ingresses.iter().map(|o| ("Ingress", &o.metadata)))
        .chain(
            rendered
                .autoscalers
                .iter()
                .map(|o| ("HorizontalPodAutoscaler", &o.metadata)),
        )
        .chain(
            rendered
                .disruption_budgets
                .iter()
                .map(|o| ("PodDisruptionBudget", &o.metadata)),
        );
    let mut found = Vec::new();
    let mut check = |id: String, labels: Option<&BTreeMap<String, String>>| {
        for label in LABELS {
            if labels.is_none_or(|l| l.get(label).is_none_or(String::is_empty)) {
                found.push(format!("{id} lacks the label {label}"));
            }
        }
    };
    for (kind, meta) in objects {
        let id = format!("{kind}/{}", meta.name.as_deref().unwrap_or_default());
        check(id, meta.labels.as_ref());
    }
    for w in rendered.workloads() {
        let labels = w.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        check(format!("{} pod template", w.id), labels);
    }
    found
}

/// `ConfigMap` entries that look secret.
pub(super) fn config_map_violations(rendered: &Rendered) -> Vec<String> {
    let mut found = Vec::new();
    for cm in &rendered.config_maps {
        let name = cm.metadata.name.as_deref().unwrap_or_default();
        for (key, value) in cm.data.iter().flatten() {
            if looks_secret(key, value) {
                found.push(format!("ConfigMap/{name} holds {key}, which looks secret"));
            }
        }
    }
    found
}

/// Selectors that miss their pods, Services and Ingresses that lead nowhere,
/// HPAs and PDBs without a target.
pub(super) fn wiring_violations(rendered: &Rendered) -> Vec<String> {
    let workloads = rendered.workloads();
    let mut found = Vec::new();
    selector_violations(&workloads, &mut found);
    service_violations(rendered, &workloads, &mut found);
    ingress_violations(rendered, &mut found);
    scaling_violations(rendered, &workloads, &mut found);
    found
}

fn selector_violations(workloads: &[Workload<'_>], found: &mut Vec<String>) {
    for w in workloads {
        let labels = w.labels();
        let matches = w.selector.match_expressions.is_none()
            && w.selector
                .match_labels
                .as_ref()
                .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v)));
        if !matches {
            found.push(format!("{}: selector does not match its pod labels", w.id));
        }
    }
}

fn service_violations(rendered: &Rendered, workloads: &[Workload<'_>], found: &mut Vec<String>) {
    for svc in &rendered.services {
        let name = svc.metadata.name.as_deref().unwrap_or_default();
        let spec = svc.spec.as_ref().expect("Service has a spec");
        let selector = spec.selector.clone().unwrap_or_default();
        let selected: Vec<_> = workloads
            .iter()
            .filter(|w| w.selected_by(&selector))
            .collect();
        if selected.len() != 1 {
            found.push(format!(
                "Service/{name} selects {} workloads, not one",
                selected.len()
            ));
        }
        for port in spec.ports.iter().flatten() {
            let target = port
                .target_port
                .clone()
                .unwrap_or(IntOrString::Int(port.port));
            for w in selected.iter().filter(|w| !w.has_port(&target)) {
                found.push(format!(
                    "Service/{name} port {} targets {target:?}, which {} does not expose",
                    port.port, w.id
                ));
            }
        }
    }
}

fn ingress_violations(rendered: &Rendered, found: &mut Vec<String>) {
    for ing in &rendered.ingresses {
        let name = ing.metadata.name.as_deref().unwrap_or_default();
        let rules = ing.spec.iter().flat_map(|s| s.rules.iter().flatten());
        let paths = rules.flat_map(|r| r.http.iter().flat_map(|h| h.paths.iter()));
        for path in paths {
            let Some(backend) = path.backend.service.as_ref() else {
                found.push(format!("Ingress/{name}: path has no Service backend"));
                continue;
            };
            let port = backend.port.as_ref().and_then(|p| p.number);
            let served = rendered.services.iter().any(|s| {
                s.metadata.name.as_deref() == Some(backend.name.as_str())
                    && s.spec
                        .iter()
                        .flat_map(|s| s.ports.iter().flatten())
                        .any(|p| Some(p.port) == port)
            });
            if !served {
                found.push(format!(
                    "Ingress/{name}: {} leads to {}:{port:?}, which no Service serves",
                    path.path.as_deref().unwrap_or("?"),
                    backend.name
                ));
            }
        }
    }
}

fn scaling_violations(rendered: &Rendered, workloads: &[Workload<'_>], found: &mut Vec<String>) {
    for hpa in &rendered.autoscalers {
        let name = hpa.metadata.name.as_deref().unwrap_or_default();
        let spec = hpa.spec.as_ref().expect("HPA has a spec");
        let target = &spec.scale_target_ref;
        if !workloads
            .iter()
            .any(|w| w.kind == target.kind && w.name == target.name)
        {
            found.push(format!(
                "HorizontalPodAutoscaler/{name} scales {}/{}, which is not rendered",
                target.kind, target.name
            ));
        }
        if spec.min_replicas.unwrap_or(1) > spec.max_replicas {
            found.push(format!(
                "HorizontalPodAutoscaler/{name}: minReplicas > maxReplicas"
            ));
        }
    }
    for pdb in &rendered.disruption_budgets {
        let name = pdb.metadata.name.as_deref().unwrap_or_default();
        let selector = pdb
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(|s| s.match_labels.clone())
            .unwrap_or_default();
        let selected = workloads
            .iter()
            .filter(|w| w.selected_by(&selector))
            .count();
        if selected != 1 {
            found.push(format!(
                "PodDisruptionBudget/{name} selects {selected} workloads, not one"
            ));
        }
    }
}

/// CPU in millicores and memory in bytes, requested and limited.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Budget {
    pub(super) request_millicpu: u64,
    pub(super) request_bytes: u64,
    pub(super) limit_millicpu: u64,
    pub(super) limit_bytes: u64,
}

/// What the whole render asks of the cluster at rest: per pod the larger of its
/// containers' sum and its largest init container (as the scheduler counts),
/// times the replicas.
pub(super) fn budget(rendered: &Rendered) -> Budget {
    let mut total = Budget::default();
    for w in rendered.workloads() {
        let pod = w.pod();
        let get = |c: &Container, limits: bool, resource: &str| -> u64 {
            let r = c.resources.as_ref();
            let map = if limits {
                r.and_then(|r| r.limits.as_ref())
            } else {
                r.and_then(|r| r.requests.as_ref())
            };
            let q = map
                .and_then(|m| m.get(resource))
                .unwrap_or_else(|| panic!("{} container {} lacks {resource}", w.id, c.name));
            if resource == "cpu" {
                millicores(&q.0)
            } else {
                bytes(&q.0)
            }
        };
        let effective = |limits: bool, resource: &str| -> u64 {
            let sum: u64 = pod
                .containers
                .iter()
                .map(|c| get(c, limits, resource))
                .sum();
            let init = pod
                .init_containers
                .iter()
                .flatten()
                .map(|c| get(c, limits, resource))
                .max()
                .unwrap_or(0);
            sum.max(init) * u64::try_from(w.replicas).expect("replicas are not negative")
        };
        total.request_millicpu += effective(false, "cpu");
        total.request_bytes += effective(false, "memory");
        total.limit_millicpu += effective(true, "cpu");
        total.limit_bytes += effective(true, "memory");
    }
    total
}

/// A CPU quantity ("250m", "1", "0.5") in millicores.
pub(super) fn millicores(q: &str) -> u64 {
    if let Some(m) = q.strip_suffix('m') {
        return m
            .parse()
            .unwrap_or_else(|_| panic!("bad CPU quantity {q:?}"));
    }
    let cores: f64 = q
        .parse()
        .unwrap_or_else(|_| panic!("bad CPU quantity {q:?}"));
    // Quantities are small, positive and at most millicore-precise.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let milli = (cores * 1000.0).round() as u64;
    milli
}

/// A memory quantity ("256Mi", "1Gi", "500M", "1024") in bytes.
pub(super) fn bytes(q: &str) -> u64 {
    const SUFFIXES: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    let (number, unit) = SUFFIXES
        .iter()
        .find_map(|(suffix, unit)| q.strip_suffix(suffix).map(|n| (n, *unit)))
        .unwrap_or((q, 1));
    number
        .parse::<u64>()
        .unwrap_or_else(|_| panic!("bad memory quantity {q:?}"))
        * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_as_kubernetes_reads_them() {
        assert_eq!(millicores("250m"), 250);
        assert_eq!(millicores("1"), 1000);
        assert_eq!(millicores("0.5"), 500);
        assert_eq!(bytes("256Mi"), 256 << 20);
        assert_eq!(bytes("1Gi"), 1 << 30);
        assert_eq!(bytes("500M"), 500_000_000);
        assert_eq!(bytes("1024"), 1024);
    }

    #[test]
    fn secret_looking_config_is_recognised() {
        assert!(looks_secret("JWT_SECRET", "x"));
        assert!(looks_secret("openai_api_key", "x"));
        assert!(looks_secret("DATABASE_URL", "postgresql://db/todo"));
        assert!(looks_secret("UPSTREAM", "https://user:pw@example.test/"));
        assert!(!looks_secret(
            "BACKEND_URL",
            "http://todo-todo-backend:8000"
        ));
        assert!(!looks_secret("LOG_LEVEL", "info"));
    }
}
