//! Driving the helm binary: `upgrade --install` (never `--wait`: the rollout
//! engine watches readiness itself), `rollback`, `uninstall`, `history`,
//! `status`, `get manifest` and `template`.
//!
//! Only non-secret values reach a helm command line: the plan's `set` pairs
//! and the *names* of the ConfigMap and Secret hoist applied
//! (`config.existingConfigMap`, `secret.existingSecret`) with their hash
//! (`configHash`). The Secret's values never do.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::env::Environment;
use crate::rollout::ReleasePlan;
use crate::tools::ToolError;

/// How long one helm command may take: helm itself never waits for
/// readiness here, so only a stuck API server makes it slow.
const HELM_TIMEOUT: Duration = Duration::from_secs(120);

/// Errors running helm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HelmError {
    /// helm could not be started or gave no answer in time.
    #[error("`helm {command}` could not run: {reason}")]
    Spawn {
        /// The helm subcommand and release, e.g. `upgrade todo-backend`.
        command: String,
        /// What went wrong.
        reason: String,
    },
    /// helm ran and failed.
    #[error("`helm {command}` failed: {stderr}")]
    Failed {
        /// The helm subcommand and release.
        command: String,
        /// What helm printed on stderr.
        stderr: String,
    },
    /// helm's output could not be read.
    #[error("cannot read the output of `helm {command}`: {reason}")]
    Output {
        /// The helm subcommand and release.
        command: String,
        /// What was wrong with it.
        reason: String,
    },
}

/// One revision in `helm history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// The revision number.
    pub revision: u32,
    /// `deployed`, `superseded`, `failed`, `pending-install`, ...
    pub status: String,
    /// The chart, `name-version`.
    #[serde(default)]
    pub chart: String,
    /// helm's description of the revision.
    #[serde(default)]
    pub description: String,
}

/// What `helm upgrade --install` made: the parts of helm's release JSON
/// that hoist reads (never its `config`, the values given).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Released {
    /// The revision number.
    #[serde(rename = "version")]
    pub revision: u32,
    /// The objects it applied, as YAML documents (`helm get manifest`).
    #[serde(default)]
    pub manifest: String,
}

/// The helm binary with the cluster it talks to.
#[derive(Debug, Clone)]
pub struct Helm {
    binary: PathBuf,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    calls: Arc<AtomicU64>,
}

impl Helm {
    /// helm at `binary`, talking to `kubeconfig` (helm's default when
    /// `None`) and `context` (the kubeconfig's current one when `None`).
    #[must_use]
    pub fn new(binary: PathBuf, kubeconfig: Option<PathBuf>, context: Option<String>) -> Self {
        Self {
            binary,
            kubeconfig,
            context,
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// helm found on `env`'s PATH. Its version is checked by `doctor`
    /// ([`crate::tools::helm`]), not here.
    ///
    /// # Errors
    ///
    /// [`ToolError::NotFound`] when helm is not on PATH.
    pub fn find(
        env: &Environment,
        kubeconfig: Option<PathBuf>,
        context: Option<String>,
    ) -> Result<Self, ToolError> {
        let path = env.var("PATH").unwrap_or_default();
        let binary = which::which_in("helm", Some(path), "/").map_err(|_| ToolError::NotFound {
            tool: "helm",
            fix: "install Helm 3.12 or newer (https://helm.sh/docs/intro/install/)",
        })?;
        Ok(Self::new(binary, kubeconfig, context))
    }

    /// How many helm commands this value (and its clones) ran: the no-op
    /// pass of a rollout runs none.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// `helm template` with the same values `upgrade` would pass (for
    /// `hoist render`).
    ///
    /// # Errors
    ///
    /// [`HelmError`] when helm fails, e.g. on a chart error.
    pub async fn template(
        &self,
        release: &ReleasePlan,
        namespace: &str,
    ) -> Result<String, HelmError> {
        let mut args = strings(&["template", &release.release]);
        args.push(release.chart.to_string_lossy().into_owned());
        args.extend(release_args(release, namespace));
        self.run(&format!("template {}", release.release), args)
            .await
    }

    /// `helm upgrade --install` of `release` into `namespace`, without
    /// `--wait`: the revision it made and the objects it applied, read from
    /// its `--output json` (no `helm get manifest` after it).
    ///
    /// # Errors
    ///
    /// [`HelmError`] when helm refuses the chart or the values, or prints
    /// something else than a release.
    pub async fn upgrade(
        &self,
        release: &ReleasePlan,
        namespace: &str,
    ) -> Result<Released, HelmError> {
        let mut args = strings(&["upgrade", "--install", &release.release]);
        args.push(release.chart.to_string_lossy().into_owned());
        args.extend(release_args(release, namespace));
        args.extend(strings(&["--history-max", "10", "--output", "json"]));
        let command = format!("upgrade {}", release.release);
        let out = self.run(&command, args).await?;
        serde_json::from_str(&out).map_err(|e| HelmError::Output {
            command,
            reason: e.to_string(),
        })
    }

    /// `helm rollback RELEASE REVISION`, without `--wait`.
    ///
    /// # Errors
    ///
    /// [`HelmError`] when helm fails.
    pub async fn rollback(
        &self,
        release: &str,
        namespace: &str,
        revision: u32,
    ) -> Result<(), HelmError> {
        let args = strings(&[
            "rollback",
            release,
            &revision.to_string(),
            "--namespace",
            namespace,
            "--history-max",
            "10",
        ]);
        self.run(&format!("rollback {release}"), args)
            .await
            .map(drop)
    }

    /// `helm uninstall RELEASE`, waiting for its objects to go.
    ///
    /// # Errors
    ///
    /// [`HelmError`] when helm fails.
    pub async fn uninstall(&self, release: &str, namespace: &str) -> Result<(), HelmError> {
        let args = strings(&["uninstall", release, "--namespace", namespace, "--wait"]);
        self.run(&format!("uninstall {release}"), args)
            .await
            .map(drop)
    }

    /// `helm history RELEASE`, oldest first; empty when there is no such
    /// release.
    ///
    /// # Errors
    ///
    /// [`HelmError`] when helm fails otherwise or prints something else.
    pub async fn history(
        &self,
        release: &str,
        namespace: &str,
    ) -> Result<Vec<Revision>, HelmError> {
        let command = format!("history {release}");
        let args = strings(&[
            "history",
            release,
            "--namespace",
            namespace,
            "--max",
            "20",
            "-o",
            "json",
        ]);
        match self.run(&command, args).await {
            Ok(out) => serde_json::from_str(&out).map_err(|e| HelmError::Output {
                command,
                reason: e.to_string(),
            }),
            Err(HelmError::Failed { stderr, .. }) if stderr.contains("release: not found") => {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// The status of the release's current revision (`deployed`,
    /// `failed`, ...), or `None` when there is no such release.
    ///
    /// # Errors
    ///
    /// [`HelmError`] when helm fails otherwise.
    pub async fn status(
        &self,
        release: &str,
        namespace: &str,
    ) -> Result<Option<Revision>, HelmError> {
        Ok(self.history(release, namespace).await?.pop())
    }

    /// `helm get manifest RELEASE [--revision N]`: the objects it owns, as
    /// YAML documents.
    ///
    /// # Errors
    ///
    /// [`HelmError`] when helm fails.
    pub async fn manifest(
        &self,
        release: &str,
        namespace: &str,
        revision: Option<u32>,
    ) -> Result<String, HelmError> {
        let mut args = strings(&["get", "manifest", release, "--namespace", namespace]);
        if let Some(revision) = revision {
            args.extend(["--revision".to_owned(), revision.to_string()]);
        }
        self.run(&format!("get manifest {release}"), args).await
    }

    async fn run(&self, command: &str, mut args: Vec<String>) -> Result<String, HelmError> {
        if let Some(kubeconfig) = &self.kubeconfig {
            args.push("--kubeconfig".to_owned());
            args.push(kubeconfig.to_string_lossy().into_owned());
        }
        if let Some(context) = &self.context {
            args.extend(["--kube-context".to_owned(), context.clone()]);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let spawn = |reason: String| HelmError::Spawn {
            command: command.to_owned(),
            reason,
        };
        let run = tokio::process::Command::new(&self.binary)
            .args(&args)
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(HELM_TIMEOUT, run)
            .await
            .map_err(|_| spawn(format!("no answer within {}s", HELM_TIMEOUT.as_secs())))?
            .map_err(|e| spawn(format!("{}: {e}", self.binary.display())))?;
        if !out.status.success() {
            return Err(HelmError::Failed {
                command: command.to_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// `--namespace`, the values files and every `--set` of `release`: its own
/// pairs, then the names of its configuration objects and their hash.
fn release_args(release: &ReleasePlan, namespace: &str) -> Vec<String> {
    let mut args = strings(&["--namespace", namespace]);
    for file in &release.values_files {
        args.push("--values".to_owned());
        args.push(file.to_string_lossy().into_owned());
    }
    for (key, value) in release.helm_values() {
        // --set-string: a digest or a hash must not be read as a number.
        args.push("--set-string".to_owned());
        args.push(format!("{key}={}", escape_set(&value)));
    }
    args
}

/// Escapes the characters `--set` gives meaning to in a value.
fn escape_set(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, ',' | '\\' | '=' | '[' | ']' | '{' | '}') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upgrades_json_gives_its_revision_and_manifest() {
        let json = r#"{"name":"api","info":{"status":"deployed"},"config":{"a":1},"manifest":"---\nkind: Service\n","version":7,"namespace":"shop"}"#;
        assert_eq!(
            serde_json::from_str::<Released>(json).unwrap(),
            Released {
                revision: 7,
                manifest: "---\nkind: Service\n".to_owned()
            }
        );
    }

    #[test]
    fn set_values_escape_commas_and_backslashes() {
        assert_eq!(escape_set(r"a,b\c=d"), r"a\,b\\c\=d");
    }
}
