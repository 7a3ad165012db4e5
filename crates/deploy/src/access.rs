//! How to reach a service from this machine: a URL that works on the
//! detected target, or the exact command that makes one.
//!
//! - NodePort on Minikube (Linux: the docker driver and the VM drivers put
//!   the node on a host-reachable address): `http://<minikube ip>:<port>`;
//!   elsewhere `minikube service -n NS NAME --url`.
//! - NodePort on Docker Desktop: `http://localhost:<port>`.
//! - NodePort on a cluster whose API server is on loopback (it runs on this
//!   machine, as the test cluster does): `http://127.0.0.1:<port>`.
//! - A LoadBalancer with an address: `http://<address>:<port>`.
//! - Anything else (kind and k3d, whose node ports are not published; a
//!   remote node): `kubectl port-forward -n NS svc/NAME PORT:PORT`, then
//!   `http://127.0.0.1:PORT`.

use hoist_cluster::target::{Detection, Target};
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::ListParams;
use serde::Serialize;

use crate::{Error, Result};

/// How to open a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Open this URL.
    Url(String),
    /// Run this command; it prints or serves the URL.
    Command(String),
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(url) => f.write_str(url),
            Self::Command(command) => write!(f, "run `{command}`"),
        }
    }
}

/// The exposed port of one Service, as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exposed {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) port: i32,
    pub(crate) node_port: Option<i32>,
    pub(crate) load_balancer: Option<String>,
}

/// Where the host reaches a node port of `detection`'s cluster.
pub(crate) fn access(
    detection: &Detection,
    server: &str,
    namespace: &str,
    exposed: &Exposed,
) -> Access {
    let forward = || {
        Access::Command(format!(
            "kubectl port-forward -n {namespace} svc/{name} {port}:{port}",
            name = exposed.name,
            port = exposed.port
        ))
    };
    if let Some(address) = &exposed.load_balancer {
        return Access::Url(format!("http://{address}:{}", exposed.port));
    }
    let Some(node_port) = exposed.node_port.filter(|_| exposed.kind != "ClusterIP") else {
        return forward();
    };
    // The wildcard arms cover remote clusters and any target added later.
    #[allow(clippy::match_wildcard_for_single_variants)]
    match &detection.target {
        Target::Minikube(facts) => match &facts.node_ip {
            Some(ip) if cfg!(target_os = "linux") || facts.driver != "docker" => {
                Access::Url(format!("http://{ip}:{node_port}"))
            }
            _ => Access::Command(format!(
                "minikube service -p {} -n {namespace} {} --url",
                facts.profile, exposed.name
            )),
        },
        Target::DockerDesktop => Access::Url(format!("http://localhost:{node_port}")),
        Target::Kind { .. } | Target::K3d { .. } => forward(),
        _ if is_loopback(server) => Access::Url(format!("http://127.0.0.1:{node_port}")),
        _ => forward(),
    }
}

/// Whether the API server URL `server` is on this machine's loopback.
fn is_loopback(server: &str) -> bool {
    let authority = server.split_once("://").map_or(server, |(_, rest)| rest);
    authority.starts_with("127.")
        || authority.starts_with("localhost")
        || authority.starts_with("[::1]")
}

/// The Services of `release` that are reachable from outside the cluster
/// (NodePort or LoadBalancer).
pub(crate) async fn exposed(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> Result<Vec<Exposed>> {
    let services = Api::<Service>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={release}")))
        .await
        .map_err(|cause| Error::Kube {
            action: format!("listing the Services of release {release}"),
            namespace: namespace.to_owned(),
            cause,
        })?;
    let mut found = Vec::new();
    for service in services.items {
        let Some(spec) = service.spec else { continue };
        let kind = spec.type_.unwrap_or_else(|| "ClusterIP".to_owned());
        if kind != "NodePort" && kind != "LoadBalancer" {
            continue;
        }
        let load_balancer = service
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .and_then(|ingress| ingress.into_iter().next())
            .and_then(|i| i.ip.or(i.hostname));
        for port in spec.ports.unwrap_or_default() {
            found.push(Exposed {
                name: service.metadata.name.clone().unwrap_or_default(),
                kind: kind.clone(),
                port: port.port,
                node_port: port.node_port,
                load_balancer: load_balancer.clone(),
            });
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use hoist_cluster::target::{Delivery, MinikubeFacts};

    use super::*;

    fn detection(target: Target) -> Detection {
        Detection {
            context: "ctx".to_owned(),
            target,
            delivery: Delivery::Registry,
            evidence: Vec::new(),
        }
    }

    const LOCAL: &str = "https://127.0.0.1:6443";
    const REMOTE: &str = "https://k8s.example:6443";

    fn node_port() -> Exposed {
        Exposed {
            name: "shop-web".to_owned(),
            kind: "NodePort".to_owned(),
            port: 3000,
            node_port: Some(30085),
            load_balancer: None,
        }
    }

    #[test]
    fn each_target_gets_a_url_that_works_there_or_the_command() {
        let minikube = Target::Minikube(MinikubeFacts {
            profile: "minikube".to_owned(),
            driver: "docker".to_owned(),
            runtime: "docker".to_owned(),
            node_ip: Some("192.168.49.2".to_owned()),
            docker_host: None,
            cert_dir: None,
        });
        assert_eq!(
            access(&detection(minikube), LOCAL, "shop", &node_port()),
            Access::Url("http://192.168.49.2:30085".to_owned())
        );
        let local = detection(Target::Remote {
            server: LOCAL.to_owned(),
        });
        assert_eq!(
            access(&local, LOCAL, "shop", &node_port()),
            Access::Url("http://127.0.0.1:30085".to_owned())
        );
        let kind = detection(Target::Kind {
            cluster: "kind".to_owned(),
            node: "kind-control-plane".to_owned(),
        });
        assert_eq!(
            access(&kind, LOCAL, "shop", &node_port()).to_string(),
            "run `kubectl port-forward -n shop svc/shop-web 3000:3000`"
        );
        let remote = detection(Target::Remote {
            server: REMOTE.to_owned(),
        });
        assert!(matches!(
            access(&remote, REMOTE, "shop", &node_port()),
            Access::Command(_)
        ));
        let mut lb = node_port();
        lb.kind = "LoadBalancer".to_owned();
        lb.load_balancer = Some("203.0.113.7".to_owned());
        assert_eq!(
            access(&remote, REMOTE, "shop", &lb),
            Access::Url("http://203.0.113.7:3000".to_owned())
        );
    }
}
