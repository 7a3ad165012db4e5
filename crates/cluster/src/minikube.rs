//! Minikube profiles, read from the files Minikube keeps under
//! `MINIKUBE_HOME` (or `~/.minikube`), without running `minikube`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::env::Environment;
use crate::kubeconfig::ContextInfo;

/// The `provider` Minikube writes into its kubeconfig contexts.
pub const PROVIDER: &str = "minikube.sigs.k8s.io";

/// Errors reading a Minikube profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MinikubeError {
    /// The profile's config.json cannot be read or parsed.
    #[error("Minikube profile {} is unreadable: {reason}; recreate it with `minikube delete -p {profile} && minikube start -p {profile}`", path.display())]
    Unreadable {
        /// The profile name.
        profile: String,
        /// Its config.json.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// The directory holding Minikube's state: `MINIKUBE_HOME` (with `.minikube`
/// appended unless it already ends so, as Minikube does), else `~/.minikube`.
#[must_use]
pub fn home(env: &Environment) -> PathBuf {
    match env.var("MINIKUBE_HOME") {
        Some(dir)
            if Path::new(&dir)
                .file_name()
                .is_some_and(|n| n == ".minikube") =>
        {
            PathBuf::from(dir)
        }
        Some(dir) => Path::new(&dir).join(".minikube"),
        None => env.home().join(".minikube"),
    }
}

/// What hoist needs to know of a Minikube profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// The profile (and kube context) name.
    pub name: String,
    /// The driver: docker, podman, kvm2, virtualbox, hyperkit, qemu2, none, ...
    pub driver: String,
    /// The node's container runtime: docker, containerd or cri-o.
    pub container_runtime: String,
    /// The control-plane node's IP address.
    pub node_ip: Option<String>,
    /// The Kubernetes version Minikube runs.
    pub kubernetes_version: Option<String>,
    /// The profile's config.json.
    pub config_path: PathBuf,
    /// The TLS material `minikube docker-env` points DOCKER_CERT_PATH at.
    pub certs_dir: PathBuf,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigJson {
    #[serde(default)]
    driver: String,
    #[serde(default)]
    kubernetes_config: KubernetesConfig,
    #[serde(default)]
    nodes: Vec<Node>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct KubernetesConfig {
    #[serde(default)]
    kubernetes_version: Option<String>,
    #[serde(default)]
    container_runtime: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Node {
    #[serde(default, rename = "IP")]
    ip: Option<String>,
    #[serde(default)]
    control_plane: bool,
}

/// The Minikube profile behind `context`, if it is one: the context carries
/// Minikube's provider extension, or its cluster is named like a profile
/// that exists under [`home`].
///
/// # Errors
///
/// [`MinikubeError::Unreadable`] when the profile exists but its
/// config.json cannot be parsed.
pub fn profile_for_context(
    env: &Environment,
    context: &ContextInfo,
) -> Result<Option<Profile>, MinikubeError> {
    let home = home(env);
    let config_path = home
        .join("profiles")
        .join(&context.cluster)
        .join("config.json");
    let marked = context.provider.as_deref() == Some(PROVIDER);
    if !config_path.is_file() {
        if marked {
            return Err(MinikubeError::Unreadable {
                profile: context.cluster.clone(),
                reason: "the kubeconfig says this is a Minikube context but the profile does not exist (MINIKUBE_HOME differs?)".into(),
                path: config_path,
            });
        }
        return Ok(None);
    }
    let unreadable = |reason: String| MinikubeError::Unreadable {
        profile: context.cluster.clone(),
        path: config_path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&config_path).map_err(|e| unreadable(e.to_string()))?;
    let parsed: ConfigJson = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    let node_ip = parsed
        .nodes
        .iter()
        .find(|n| n.control_plane)
        .or(parsed.nodes.first())
        .and_then(|n| n.ip.clone());
    Ok(Some(Profile {
        name: context.cluster.clone(),
        driver: parsed.driver,
        container_runtime: parsed
            .kubernetes_config
            .container_runtime
            .unwrap_or_else(|| "docker".to_owned()),
        node_ip: node_ip.filter(|ip| !ip.is_empty()),
        kubernetes_version: parsed.kubernetes_config.kubernetes_version,
        config_path,
        certs_dir: home.join("certs"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(cluster: &str, provider: Option<&str>) -> ContextInfo {
        ContextInfo {
            name: cluster.into(),
            cluster: cluster.into(),
            server: "https://192.0.2.10:8443".into(),
            namespace: None,
            provider: provider.map(str::to_owned),
        }
    }

    fn write_profile(home: &Path, name: &str, json: &str) {
        let dir = home.join("profiles").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), json).unwrap();
    }

    #[test]
    fn minikube_home_follows_minikubes_rules() {
        let env = Environment::from_pairs([("HOME", "/home/dev")]);
        assert_eq!(home(&env), PathBuf::from("/home/dev/.minikube"));
        assert_eq!(
            home(&env.clone().with("MINIKUBE_HOME", "/data")),
            PathBuf::from("/data/.minikube")
        );
        assert_eq!(
            home(&env.with("MINIKUBE_HOME", "/data/.minikube")),
            PathBuf::from("/data/.minikube")
        );
    }

    #[test]
    fn reads_driver_runtime_and_node_ip() {
        let dir = tempfile::tempdir().unwrap();
        let env = Environment::from_pairs([("HOME", "/nonexistent")])
            .with("MINIKUBE_HOME", &dir.path().display().to_string());
        let home = dir.path().join(".minikube");
        write_profile(
            &home,
            "dev",
            r#"{"Name":"dev","Driver":"kvm2","KubernetesConfig":{"KubernetesVersion":"v1.30.0","ContainerRuntime":"containerd"},
               "Nodes":[{"Name":"m02","IP":"192.0.2.11","ControlPlane":false},{"Name":"","IP":"192.0.2.10","ControlPlane":true}]}"#,
        );
        let profile = profile_for_context(&env, &context("dev", None))
            .unwrap()
            .unwrap();
        assert_eq!(
            profile,
            Profile {
                name: "dev".into(),
                driver: "kvm2".into(),
                container_runtime: "containerd".into(),
                node_ip: Some("192.0.2.10".into()),
                kubernetes_version: Some("v1.30.0".into()),
                config_path: home.join("profiles/dev/config.json"),
                certs_dir: home.join("certs"),
            }
        );
    }

    #[test]
    fn other_clusters_are_not_minikube() {
        let dir = tempfile::tempdir().unwrap();
        let env = Environment::from_pairs([("MINIKUBE_HOME", dir.path().to_str().unwrap())]);
        assert_eq!(
            profile_for_context(&env, &context("kind-dev", None)).unwrap(),
            None
        );
    }

    #[test]
    fn a_marked_context_without_its_profile_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let env = Environment::from_pairs([("MINIKUBE_HOME", dir.path().to_str().unwrap())]);
        let err = profile_for_context(&env, &context("minikube", Some(PROVIDER)))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "Minikube profile {} is unreadable: the kubeconfig says this is a Minikube context but the profile does not exist (MINIKUBE_HOME differs?); recreate it with `minikube delete -p minikube && minikube start -p minikube`",
                dir.path()
                    .join(".minikube/profiles/minikube/config.json")
                    .display()
            )
        );
    }
}
