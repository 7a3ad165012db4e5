//! Which kind of cluster a kube context points at, confirmed by probing
//! (Minikube's profile, kind's and k3d's node containers, the Docker daemon's
//! identity, the nodes' runtimes against the pod containers the daemon runs)
//! rather than guessed from the context's name, and how images reach it.
//!
//! The rules, in order: a Minikube profile whose node serves the context's
//! API; a kind or k3d node container publishing it; Docker Desktop's daemon;
//! a cluster whose every node's kubelet runs on the Docker daemon hoist
//! reaches (`DOCKER_HOST` as the docker CLI reads it): the API server says
//! `docker://` for each node, and the daemon runs `k8s_*` containers of pods
//! the API server binds to it (see [`PodContainer`]). Anything else is
//! remote and gets its images from a registry. A multi-node cluster with
//! only some nodes on that daemon is remote too: images loaded there would
//! not reach pods scheduled on the others.
//!
//! [`classify`] decides from [`Facts`] gathered by the caller, so every rule
//! is tested over fixtures; the [`Detection`] carries the evidence for
//! `hoist doctor --json`.

mod detect;
mod docker_node;
mod nodes;

use std::path::PathBuf;

use serde::Serialize;

pub use detect::detect;
pub use docker_node::{
    KubeNode, POD_NAME_LABEL, POD_NAMESPACE_LABEL, POD_UID_LABEL, PodContainer, PodRef, kube_nodes,
    pod_containers, pod_ref,
};
pub use nodes::{NodeContainer, node_containers};

/// Kind's label on its node containers; the value is the cluster name.
pub const KIND_CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// k3d's label on its node containers; the value is the cluster name.
pub const K3D_CLUSTER_LABEL: &str = "k3d.cluster";

/// What a Minikube profile says about its cluster (from
/// `$MINIKUBE_HOME/profiles/<profile>/config.json` and what `minikube
/// docker-env` would print).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MinikubeFacts {
    /// The profile name.
    pub profile: String,
    /// The driver: `docker`, `podman`, `kvm2`, `hyperkit`, `qemu2`, ...
    pub driver: String,
    /// The container runtime: `docker`, `containerd` or `cri-o`.
    pub runtime: String,
    /// The node's IP address.
    pub node_ip: Option<String>,
    /// The Docker endpoint `minikube docker-env` gives (`tcp://IP:2376`).
    pub docker_host: Option<String>,
    /// The directory with `ca.pem`, `cert.pem`, `key.pem` for that endpoint.
    pub cert_dir: Option<PathBuf>,
}

/// Everything detection looks at, gathered by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The kube context's name.
    pub context: String,
    /// Its cluster's API server URL.
    pub server: String,
    /// The Minikube profile named like the context, if one exists.
    pub minikube: Option<MinikubeFacts>,
    /// Containers of the local Docker daemon that carry kind or k3d labels.
    pub nodes: Vec<NodeContainer>,
    /// The local Docker daemon's `OperatingSystem` (`Docker Desktop` there).
    pub docker_os: Option<String>,
    /// The local daemon's TLS directory (`DOCKER_CERT_PATH` when
    /// `DOCKER_TLS_VERIFY` is set).
    pub docker_cert_dir: Option<PathBuf>,
    /// The local daemon's running `k8s_*` containers with dockershim's pod
    /// labels.
    pub pod_containers: Vec<PodContainer>,
    /// The cluster's nodes, gathered only when the local daemon runs pod
    /// containers (empty otherwise, or when the API server did not answer).
    pub kube_nodes: Vec<KubeNode>,
}

/// The kind of cluster detected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Target {
    /// A Minikube profile.
    Minikube(MinikubeFacts),
    /// A kind cluster; `node` is the control-plane container.
    Kind {
        /// The kind cluster's name.
        cluster: String,
        /// The node container images are imported into.
        node: String,
    },
    /// A k3d cluster; `node` is the first server container.
    K3d {
        /// The k3d cluster's name.
        cluster: String,
        /// The node container images are imported into.
        node: String,
    },
    /// Docker Desktop's Kubernetes, which runs images from its daemon.
    DockerDesktop,
    /// A cluster whose nodes' kubelets run their pods on the local Docker
    /// daemon (dockershim): Minikube's `none` driver, kubeadm on this host,
    /// the test cluster's docker mode.
    DockerNode {
        /// The nodes, all of them on that daemon.
        nodes: Vec<String>,
    },
    /// Any other cluster: images go through a registry.
    Remote {
        /// The API server.
        server: String,
    },
}

/// How images reach the detected target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "kebab-case")]
pub enum Delivery {
    /// Load into a Docker daemon.
    Daemon {
        /// Its endpoint (`unix://...` or `tcp://...`).
        host: String,
        /// The TLS files' directory, for TCP daemons.
        cert_dir: Option<PathBuf>,
    },
    /// Import into containerd in a node container of the local daemon.
    Containerd {
        /// The node container.
        node: String,
    },
    /// Hand the archive to `minikube image load`.
    MinikubeCli {
        /// The profile.
        profile: String,
    },
    /// Push to a registry (`--registry`).
    Registry,
}

/// A detected target, with the evidence that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// The kube context examined.
    pub context: String,
    /// What it points at.
    pub target: Target,
    /// How images would be delivered there.
    pub delivery: Delivery,
    /// Each observation that led here, in the order it was made.
    pub evidence: Vec<String>,
}

impl Detection {
    /// One line for people: what the context points at and how images get there.
    #[must_use]
    pub fn summary(&self) -> String {
        let target = match &self.target {
            Target::Minikube(facts) => format!("Minikube profile {}", facts.profile),
            Target::Kind { cluster, .. } => format!("kind cluster {cluster}"),
            Target::K3d { cluster, .. } => format!("k3d cluster {cluster}"),
            Target::DockerDesktop => "Docker Desktop".to_owned(),
            Target::DockerNode { nodes } => format!(
                "a cluster whose node{} {} run{} on the local Docker daemon",
                if nodes.len() == 1 { "" } else { "s" },
                nodes.join(", "),
                if nodes.len() == 1 { "s" } else { "" }
            ),
            Target::Remote { server } => format!("a remote cluster at {server}"),
        };
        let delivery = match &self.delivery {
            Delivery::Daemon { host, .. } => {
                format!("images load into the Docker daemon at {host}")
            }
            Delivery::Containerd { node } => format!("images load into containerd on node {node}"),
            Delivery::MinikubeCli { profile } => {
                format!("images load with `minikube image load -p {profile}` (last resort)")
            }
            Delivery::Registry => "images are pushed to a registry (--registry)".to_owned(),
        };
        format!("context {} is {target}; {delivery}", self.context)
    }
}

/// Decides the target from `facts`: a Minikube profile whose node serves the
/// context's API, a kind or k3d node container of the cluster the context
/// names whose published API port matches, Docker Desktop's daemon, nodes
/// whose kubelets run on the local daemon, or else a remote cluster.
#[must_use]
pub fn classify(facts: &Facts, local_docker_host: &str) -> Detection {
    let mut evidence = Vec::new();
    let found = minikube(facts, &mut evidence)
        .or_else(|| node(facts, NodeKind::Kind, &mut evidence))
        .or_else(|| node(facts, NodeKind::K3d, &mut evidence))
        .or_else(|| docker_desktop(facts, local_docker_host, &mut evidence))
        .or_else(|| docker_node::rule(facts, local_docker_host, &mut evidence));
    let (target, delivery) = found.unwrap_or_else(|| {
        evidence.push(format!(
            "no Minikube profile, kind or k3d node, or Docker Desktop serves {}; images go through a registry",
            facts.server
        ));
        (
            Target::Remote {
                server: facts.server.clone(),
            },
            Delivery::Registry,
        )
    });
    Detection {
        context: facts.context.clone(),
        target,
        delivery,
        evidence,
    }
}

fn minikube(facts: &Facts, evidence: &mut Vec<String>) -> Option<(Target, Delivery)> {
    let minikube = facts.minikube.as_ref()?;
    evidence.push(format!(
        "Minikube profile {:?}: driver {}, runtime {}",
        minikube.profile, minikube.driver, minikube.runtime
    ));
    let host = host_of(&facts.server);
    let serves = minikube.node_ip.as_deref() == Some(host)
        // The docker and podman drivers publish the API server on loopback.
        || (minikube.driver == "docker" || minikube.driver == "podman") && is_loopback(host);
    if !serves {
        evidence.push(format!(
            "but the API server {} is not the profile's node {}",
            facts.server,
            minikube.node_ip.as_deref().unwrap_or("(no IP)")
        ));
        return None;
    }
    evidence.push(format!(
        "the API server {} is the profile's node",
        facts.server
    ));
    let delivery = minikube_delivery(minikube, evidence);
    Some((Target::Minikube(minikube.clone()), delivery))
}

#[derive(Clone, Copy)]
enum NodeKind {
    Kind,
    K3d,
}

fn node(facts: &Facts, kind: NodeKind, evidence: &mut Vec<String>) -> Option<(Target, Delivery)> {
    let (label, prefix) = match kind {
        NodeKind::Kind => (KIND_CLUSTER_LABEL, "kind-"),
        NodeKind::K3d => (K3D_CLUSTER_LABEL, "k3d-"),
    };
    let cluster = facts.context.strip_prefix(prefix).unwrap_or(&facts.context);
    let expected = match kind {
        NodeKind::Kind => format!("{cluster}-control-plane"),
        NodeKind::K3d => format!("k3d-{cluster}-server-0"),
    };
    let node = facts.nodes.iter().find(|n| n.name == expected)?;
    if node.labels.get(label).map(String::as_str) != Some(cluster) {
        evidence.push(format!(
            "container {expected} exists but lacks the label {label}={cluster}"
        ));
        return None;
    }
    evidence.push(format!(
        "container {expected} is running with label {label}={cluster}"
    ));
    // k3d publishes the API from its load balancer container, kind from the
    // node itself: any container of the cluster counts.
    let published = facts
        .nodes
        .iter()
        .filter(|n| n.labels.get(label).map(String::as_str) == Some(cluster))
        .flat_map(|n| n.api_ports.iter().copied())
        .collect::<Vec<_>>();
    if port_of(&facts.server).is_some_and(|port| published.contains(&port)) {
        evidence.push(format!(
            "the API server {} is published by the cluster's containers",
            facts.server
        ));
    } else {
        evidence.push(format!(
            "but the API server {} is on none of its published ports {published:?}",
            facts.server
        ));
        return None;
    }
    let cluster = cluster.to_owned();
    let target = match kind {
        NodeKind::Kind => Target::Kind {
            cluster,
            node: expected.clone(),
        },
        NodeKind::K3d => Target::K3d {
            cluster,
            node: expected.clone(),
        },
    };
    Some((target, Delivery::Containerd { node: expected }))
}

fn docker_desktop(
    facts: &Facts,
    local_docker_host: &str,
    evidence: &mut Vec<String>,
) -> Option<(Target, Delivery)> {
    let host = host_of(&facts.server);
    let is_desktop = facts.docker_os.as_deref() == Some("Docker Desktop");
    if !is_desktop || !(host == "kubernetes.docker.internal" || is_loopback(host)) {
        return None;
    }
    evidence.push(format!(
        "the local Docker daemon is Docker Desktop and serves the API server {}",
        facts.server
    ));
    Some((
        Target::DockerDesktop,
        Delivery::Daemon {
            host: local_docker_host.to_owned(),
            cert_dir: None,
        },
    ))
}

fn minikube_delivery(minikube: &MinikubeFacts, evidence: &mut Vec<String>) -> Delivery {
    match (minikube.runtime.as_str(), &minikube.docker_host) {
        ("docker", Some(host)) => {
            evidence.push(format!("its Docker daemon is at {host}"));
            Delivery::Daemon {
                host: host.clone(),
                cert_dir: minikube.cert_dir.clone(),
            }
        }
        ("containerd", _) if minikube.driver == "docker" => {
            evidence.push(format!(
                "its node is the local container {}",
                minikube.profile
            ));
            Delivery::Containerd {
                node: minikube.profile.clone(),
            }
        }
        _ => {
            evidence.push(format!(
                "no direct path to a {} runtime on a {} node; falling back to `minikube image load`",
                minikube.runtime, minikube.driver
            ));
            Delivery::MinikubeCli {
                profile: minikube.profile.clone(),
            }
        }
    }
}

/// The host of `https://host:port/path` (IPv6 brackets removed).
fn host_of(server: &str) -> &str {
    let rest = server.split_once("://").map_or(server, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

fn port_of(server: &str) -> Option<u16> {
    let rest = server.split_once("://").map_or(server, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_split_into_host_and_port() {
        assert_eq!(host_of("https://192.168.49.2:8443"), "192.168.49.2");
        assert_eq!(port_of("https://192.168.49.2:8443"), Some(8443));
        assert_eq!(host_of("https://[::1]:6443/"), "::1");
        assert_eq!(port_of("https://example.test"), None);
    }
}
