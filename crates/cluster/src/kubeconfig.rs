//! Reading kubeconfig files the way kubectl does (`KUBECONFIG`, a
//! colon-separated list, else `~/.kube/config`) and asking the selected
//! context's API server whether it is there, quickly.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Serialize;

use crate::env::Environment;

/// Errors finding, reading or reaching a cluster through a kubeconfig.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeError {
    /// No kubeconfig file exists.
    #[error(
        "no kubeconfig at {}; start a local cluster with `minikube start` (it writes one) or set KUBECONFIG",
        join(paths)
    )]
    NotFound {
        /// The places looked at.
        paths: Vec<PathBuf>,
    },
    /// A kubeconfig file could not be read or parsed.
    #[error("kubeconfig {} is malformed: {reason}; fix the file or point KUBECONFIG at a valid one", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, in the parser's words.
        reason: String,
    },
    /// Neither `--context` nor the kubeconfig names a context.
    #[error(
        "kubeconfig {} has no current context; choose one with `kubectl config use-context NAME` or pass --context",
        join(paths)
    )]
    NoCurrentContext {
        /// The files read.
        paths: Vec<PathBuf>,
    },
    /// The named context is not in the kubeconfig.
    #[error("context {name:?} is not in kubeconfig {}; the contexts there are: {}", join(paths), if available.is_empty() { "(none)".to_owned() } else { available.join(", ") })]
    UnknownContext {
        /// The context asked for.
        name: String,
        /// The files read.
        paths: Vec<PathBuf>,
        /// The contexts that exist.
        available: Vec<String>,
    },
    /// The context points at a cluster entry that is missing or has no server.
    #[error(
        "context {context:?} refers to cluster {cluster:?}, which has no server in kubeconfig {}",
        join(paths)
    )]
    NoServer {
        /// The context.
        context: String,
        /// The cluster entry it names.
        cluster: String,
        /// The files read.
        paths: Vec<PathBuf>,
    },
    /// The kubeconfig is readable but kube-rs cannot build a client from it.
    #[error("context {context:?} cannot be used: {reason}")]
    Unusable {
        /// The context.
        context: String,
        /// kube-rs's words.
        reason: String,
    },
    /// The API server did not answer.
    #[error(
        "the API server {server} of context {context:?} is unreachable: {reason}; start the cluster (`minikube start`) or switch context (`kubectl config use-context NAME`)"
    )]
    Unreachable {
        /// The context.
        context: String,
        /// Its server URL.
        server: String,
        /// Why.
        reason: String,
    },
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// The kubeconfig files in effect: `KUBECONFIG`'s list, else `~/.kube/config`.
#[must_use]
pub fn locate(env: &Environment) -> Vec<PathBuf> {
    match env.var("KUBECONFIG") {
        Some(list) => list
            .split(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect(),
        None => vec![env.home().join(".kube").join("config")],
    }
}

/// The merged kubeconfig and the files it came from.
#[derive(Debug, Clone)]
pub struct LoadedKubeconfig {
    /// The files that existed and were merged, in order.
    pub paths: Vec<PathBuf>,
    /// Their merged content.
    pub config: Kubeconfig,
}

/// The facts of one context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextInfo {
    /// The context's name.
    pub name: String,
    /// The cluster entry it uses.
    pub cluster: String,
    /// The API server URL.
    pub server: String,
    /// The default namespace, if set.
    pub namespace: Option<String>,
    /// The `provider` of a context extension, such as `minikube.sigs.k8s.io`.
    pub provider: Option<String>,
}

/// What the API server said about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerVersion {
    /// e.g. `v1.30.0`.
    pub git_version: String,
    /// e.g. `linux/amd64`.
    pub platform: String,
}

/// Reads and merges the kubeconfig files in effect in `env`. Files named in
/// `KUBECONFIG` that do not exist are passed over, as kubectl does.
///
/// # Errors
///
/// [`KubeError::NotFound`] when none exists, [`KubeError::Malformed`]
/// naming the first file that cannot be parsed.
pub fn load(env: &Environment) -> Result<LoadedKubeconfig, KubeError> {
    let candidates = locate(env);
    let mut merged: Option<Kubeconfig> = None;
    let mut paths = Vec::new();
    for path in candidates.iter().filter(|p| p.exists()) {
        let malformed = |reason: String| KubeError::Malformed {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| malformed(e.to_string()))?;
        let config = Kubeconfig::from_yaml(&text).map_err(|e| malformed(error_chain(&e)))?;
        merged = Some(match merged {
            Some(previous) => previous
                .merge(config)
                .map_err(|e| malformed(error_chain(&e)))?,
            None => config,
        });
        paths.push(path.clone());
    }
    let config = merged.ok_or(KubeError::NotFound { paths: candidates })?;
    Ok(LoadedKubeconfig { paths, config })
}

/// An error and its sources on one line, each source's text once: kube-rs
/// puts the parser's position in the source, not in the top-level message.
#[must_use]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Makes ring rustls's process-wide default unless one is set already. With
/// both ring (kube, bollard) and aws-lc-rs (oci-client's reqwest) linked in,
/// rustls refuses to guess and kube-rs's client would panic on first use.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl LoadedKubeconfig {
    /// The context named `name`, or the current one.
    ///
    /// # Errors
    ///
    /// [`KubeError::NoCurrentContext`], [`KubeError::UnknownContext`] or
    /// [`KubeError::NoServer`].
    pub fn context(&self, name: Option<&str>) -> Result<ContextInfo, KubeError> {
        let name = match name
            .map(str::to_owned)
            .or_else(|| self.config.current_context.clone())
        {
            Some(name) if !name.is_empty() => name,
            _ => {
                return Err(KubeError::NoCurrentContext {
                    paths: self.paths.clone(),
                });
            }
        };
        let named = self
            .config
            .contexts
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| KubeError::UnknownContext {
                name: name.clone(),
                paths: self.paths.clone(),
                available: self
                    .config
                    .contexts
                    .iter()
                    .map(|c| c.name.clone())
                    .collect(),
            })?;
        let context = named.context.clone().unwrap_or_default();
        let server = self
            .config
            .clusters
            .iter()
            .find(|c| c.name == context.cluster)
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.clone())
            .ok_or_else(|| KubeError::NoServer {
                context: name.clone(),
                cluster: context.cluster.clone(),
                paths: self.paths.clone(),
            })?;
        let provider = context.extensions.iter().flatten().find_map(|ext| {
            ext.extension
                .get("provider")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        });
        Ok(ContextInfo {
            name,
            cluster: context.cluster,
            server,
            namespace: context.namespace,
            provider,
        })
    }

    /// A kube-rs client for `context` whose connection attempts give up
    /// after `timeout`, so that a dead server fails fast.
    ///
    /// # Errors
    ///
    /// [`KubeError::Unusable`] when kube-rs rejects the context (bad
    /// certificates, an unsupported auth plugin).
    pub async fn client(
        &self,
        context: &ContextInfo,
        timeout: Duration,
    ) -> Result<kube::Client, KubeError> {
        install_crypto_provider();
        let unusable = |reason: String| KubeError::Unusable {
            context: context.name.clone(),
            reason,
        };
        let options = KubeConfigOptions {
            context: Some(context.name.clone()),
            ..KubeConfigOptions::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(self.config.clone(), &options)
            .await
            .map_err(|e| unusable(error_chain(&e)))?;
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        kube::Client::try_from(config).map_err(|e| unusable(error_chain(&e)))
    }

    /// Asks `context`'s API server for its version, within `timeout`.
    ///
    /// # Errors
    ///
    /// As [`LoadedKubeconfig::client`], and [`KubeError::Unreachable`] when
    /// the server does not answer in time or answers with an error.
    pub async fn probe(
        &self,
        context: &ContextInfo,
        timeout: Duration,
    ) -> Result<ServerVersion, KubeError> {
        let client = self.client(context, timeout).await?;
        let unreachable = |reason: String| KubeError::Unreachable {
            context: context.name.clone(),
            server: context.server.clone(),
            reason,
        };
        let silent = || format!("no answer within {}s", timeout.as_secs());
        let info = tokio::time::timeout(timeout, client.apiserver_version())
            .await
            .map_err(|_| unreachable(silent()))?
            .map_err(|e| {
                // The connect timeout and ours are the same wait; say so the same way.
                let reason = error_chain(&e);
                unreachable(if reason.contains("deadline has elapsed") {
                    silent()
                } else {
                    reason
                })
            })?;
        Ok(ServerVersion {
            git_version: info.git_version,
            platform: info.platform,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_CONTEXTS: &str = "\
apiVersion: v1
kind: Config
current-context: minikube
clusters:
- name: minikube
  cluster: {server: 'https://192.0.2.10:8443'}
- name: remote
  cluster: {server: 'https://k8s.example.invalid'}
contexts:
- name: minikube
  context:
    cluster: minikube
    user: minikube
    namespace: todo
    extensions:
    - name: context_info
      extension: {provider: minikube.sigs.k8s.io, version: v1.33.0}
- name: remote
  context: {cluster: remote, user: remote}
- name: broken
  context: {cluster: nowhere, user: remote}
users:
- name: minikube
  user: {token: not-a-real-token}
- name: remote
  user: {token: not-a-real-token}
";

    fn env_with(dir: &std::path::Path, files: &[(&str, &str)]) -> Environment {
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let list = files
            .iter()
            .map(|(n, _)| dir.join(n).display().to_string())
            .collect::<Vec<_>>()
            .join(":");
        Environment::from_pairs([("HOME", "/nonexistent")]).with("KUBECONFIG", &list)
    }

    #[test]
    fn locates_kubeconfig_like_kubectl() {
        let env = Environment::from_pairs([("HOME", "/home/dev")]);
        assert_eq!(locate(&env), vec![PathBuf::from("/home/dev/.kube/config")]);
        let env = env.with("KUBECONFIG", "/a:/b::/c");
        assert_eq!(locate(&env), ["/a", "/b", "/c"].map(PathBuf::from).to_vec());
    }

    #[test]
    fn reads_the_current_context_and_its_provider() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(&env_with(dir.path(), &[("config", TWO_CONTEXTS)])).unwrap();
        let current = loaded.context(None).unwrap();
        assert_eq!(
            current,
            ContextInfo {
                name: "minikube".into(),
                cluster: "minikube".into(),
                server: "https://192.0.2.10:8443".into(),
                namespace: Some("todo".into()),
                provider: Some("minikube.sigs.k8s.io".into()),
            }
        );
        assert_eq!(loaded.context(Some("remote")).unwrap().provider, None);
    }

    #[test]
    fn unknown_context_lists_the_ones_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(&env_with(dir.path(), &[("config", TWO_CONTEXTS)])).unwrap();
        assert_eq!(
            loaded.context(Some("kind-dev")).unwrap_err().to_string(),
            format!(
                "context \"kind-dev\" is not in kubeconfig {}; the contexts there are: minikube, remote, broken",
                dir.path().join("config").display()
            )
        );
        assert_eq!(
            loaded.context(Some("broken")).unwrap_err().to_string(),
            format!(
                "context \"broken\" refers to cluster \"nowhere\", which has no server in kubeconfig {}",
                dir.path().join("config").display()
            )
        );
    }

    #[test]
    fn missing_kubeconfig_names_the_path_and_the_fix() {
        let env = Environment::from_pairs([("HOME", "/home/nobody-here")]);
        assert_eq!(
            load(&env).unwrap_err().to_string(),
            "no kubeconfig at /home/nobody-here/.kube/config; start a local cluster with `minikube start` (it writes one) or set KUBECONFIG"
        );
    }

    #[test]
    fn malformed_kubeconfig_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_with(
            dir.path(),
            &[("good", TWO_CONTEXTS), ("bad", "clusters: [unterminated\n")],
        );
        let err = load(&env).unwrap_err().to_string();
        let expected_prefix = format!(
            "kubeconfig {} is malformed: ",
            dir.path().join("bad").display()
        );
        assert!(err.starts_with(&expected_prefix), "{err}");
        assert!(
            err.ends_with("; fix the file or point KUBECONFIG at a valid one"),
            "{err}"
        );
    }

    #[test]
    fn no_current_context_says_how_to_pick_one() {
        let dir = tempfile::tempdir().unwrap();
        let text = TWO_CONTEXTS.replace("current-context: minikube\n", "");
        let loaded = load(&env_with(dir.path(), &[("config", &text)])).unwrap();
        assert_eq!(
            loaded.context(None).unwrap_err().to_string(),
            format!(
                "kubeconfig {} has no current context; choose one with `kubectl config use-context NAME` or pass --context",
                dir.path().join("config").display()
            )
        );
    }
}
