//! A node whose kubelet runs its pods on the Docker daemon hoist reaches
//! (dockershim: Minikube's `none` driver, kubeadm on this host, the test
//! cluster's docker mode): images loaded into that daemon are what the
//! kubelet runs.
//!
//! Decided by probing both sides, never by a name: the API server reports
//! the node's runtime as `docker://...` and the pods bound to it, and the
//! daemon runs those pods' `k8s_*` containers, which dockershim labels with
//! the pod's namespace, name and uid. A matching uid cannot be a coincidence
//! of two clusters with the same pod names.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::Docker;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::ListParams;
use kube::{Api, Client};
use serde::Serialize;

use super::nodes::{container_name, labelled_containers};
use super::{Delivery, Facts, Target};
use crate::deliver::DeliverError;

/// dockershim's label on every container it creates: the pod's namespace.
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
/// dockershim's label: the pod's name.
pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
/// dockershim's label: the pod's uid.
pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";

/// A pod, as the API server or a container's labels name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PodRef {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its uid, when known.
    pub uid: Option<String>,
}

impl PodRef {
    /// The same pod: namespace and name equal, and the uids too when both
    /// sides know one.
    #[must_use]
    pub fn same_pod(&self, other: &Self) -> bool {
        self.namespace == other.namespace
            && self.name == other.name
            && match (&self.uid, &other.uid) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// A node as the API server reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubeNode {
    /// The node's name.
    pub name: String,
    /// `status.nodeInfo.containerRuntimeVersion`: `docker://20.10.24`,
    /// `containerd://1.6.20`, ...
    pub runtime_version: String,
    /// The pods bound to it (`spec.nodeName`); gathered for Docker nodes only.
    pub pods: Vec<PodRef>,
}

/// A running container of the local daemon that dockershim created for a
/// pod (named `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodContainer {
    /// Its name, without Docker's leading `/`.
    pub name: String,
    /// The pod its labels name.
    pub pod: PodRef,
}

/// The running `k8s_*` containers of `docker` that carry dockershim's pod
/// labels.
///
/// # Errors
///
/// [`DeliverError::DaemonUnreachable`] naming `endpoint` when the daemon
/// does not answer.
pub async fn pod_containers(
    docker: &Docker,
    endpoint: &str,
) -> Result<Vec<PodContainer>, DeliverError> {
    let listed =
        labelled_containers(docker, endpoint, &[POD_NAMESPACE_LABEL, POD_NAME_LABEL]).await?;
    Ok(listed
        .into_iter()
        .filter_map(|summary| {
            let name = container_name(&summary);
            if !name.starts_with("k8s_") {
                return None;
            }
            let labels = summary.labels.unwrap_or_default();
            Some(PodContainer {
                name,
                pod: PodRef {
                    namespace: labels.get(POD_NAMESPACE_LABEL)?.clone(),
                    name: labels.get(POD_NAME_LABEL)?.clone(),
                    uid: labels.get(POD_UID_LABEL).cloned(),
                },
            })
        })
        .collect())
}

/// The cluster's nodes with their runtimes, and for each node on Docker the
/// pods bound to it, each request within `timeout`.
///
/// # Errors
///
/// The API error, or a timeout, as text for the evidence.
pub async fn kube_nodes(client: &Client, timeout: Duration) -> Result<Vec<KubeNode>, String> {
    let within =
        |what: &'static str| move |_| format!("listing {what}: no answer within {timeout:?}");
    let nodes = tokio::time::timeout(
        timeout,
        Api::<Node>::all(client.clone()).list(&ListParams::default()),
    )
    .await
    .map_err(within("nodes"))?
    .map_err(|e| format!("listing nodes: {e}"))?;
    let mut found = Vec::new();
    for node in nodes.items {
        let name = node.metadata.name.unwrap_or_default();
        let runtime_version = node
            .status
            .and_then(|s| s.node_info)
            .map(|i| i.container_runtime_version)
            .unwrap_or_default();
        let mut pods = Vec::new();
        if runtime_version.starts_with("docker://") {
            let params = ListParams::default().fields(&format!("spec.nodeName={name}"));
            let listed =
                tokio::time::timeout(timeout, Api::<Pod>::all(client.clone()).list(&params))
                    .await
                    .map_err(within("pods"))?
                    .map_err(|e| format!("listing the pods of node {name}: {e}"))?;
            pods = listed.items.iter().map(pod_ref).collect();
        }
        found.push(KubeNode {
            name,
            runtime_version,
            pods,
        });
    }
    Ok(found)
}

/// The annotation on a static pod's mirror: the uid the kubelet (and so
/// dockershim's labels) knows the pod by, not the mirror object's own.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// `pod` as the kubelet on its node names it: a mirror pod (Minikube's
/// etcd, kube-apiserver, ...) by its static pod's uid.
#[must_use]
pub fn pod_ref(pod: &Pod) -> PodRef {
    let mirror = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MIRROR_ANNOTATION))
        .cloned();
    PodRef {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: mirror.or_else(|| pod.metadata.uid.clone()),
    }
}

/// How many pods [`rule`]'s evidence names before it says "and N more".
const NAMED_PODS: usize = 3;

/// The rule: every node runs on Docker and the local daemon (`host`) runs
/// containers of pods the API server binds to it. Silent when no nodes were
/// gathered (the daemon runs no pod containers, or did not answer).
pub(super) fn rule(
    facts: &Facts,
    host: &str,
    evidence: &mut Vec<String>,
) -> Option<(Target, Delivery)> {
    if facts.kube_nodes.is_empty() {
        return None;
    }
    let mut on_daemon = Vec::new();
    let mut elsewhere = Vec::new();
    for node in &facts.kube_nodes {
        let runtime = &node.runtime_version;
        if !runtime.starts_with("docker://") {
            evidence.push(format!(
                "node {} runs its pods on {runtime}, not Docker",
                node.name
            ));
            elsewhere.push(node.name.clone());
            continue;
        }
        let mut matched = BTreeMap::new();
        for pod in &node.pods {
            let containers = facts
                .pod_containers
                .iter()
                .filter(|c| c.pod.same_pod(pod))
                .count();
            if containers > 0 {
                matched.insert(format!("{}/{}", pod.namespace, pod.name), containers);
            }
        }
        if matched.is_empty() {
            evidence.push(format!(
                "node {} runs its pods on {runtime}, but the Docker daemon at {host} runs no container of its {} pods",
                node.name,
                node.pods.len()
            ));
            elsewhere.push(node.name.clone());
            continue;
        }
        let mut named = matched.keys().take(NAMED_PODS).cloned().collect::<Vec<_>>();
        if matched.len() > NAMED_PODS {
            named.push(format!("{} more", matched.len() - NAMED_PODS));
        }
        evidence.push(format!(
            "node {} runs its pods on {runtime}, and the Docker daemon at {host} runs {} k8s_* containers of {} of its pods ({})",
            node.name,
            matched.values().sum::<usize>(),
            matched.len(),
            named.join(", ")
        ));
        on_daemon.push(node.name.clone());
    }
    if on_daemon.is_empty() {
        return None;
    }
    if !elsewhere.is_empty() {
        evidence.push(format!(
            "but nodes {} do not run on that daemon: images loaded there would not reach their pods",
            elsewhere.join(", ")
        ));
        return None;
    }
    Some((
        Target::DockerNode { nodes: on_daemon },
        Delivery::Daemon {
            host: host.to_owned(),
            cert_dir: facts.docker_cert_dir.clone(),
        },
    ))
}
