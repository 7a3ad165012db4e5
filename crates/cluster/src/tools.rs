//! The command-line tools hoist works beside: helm (which it drives) and
//! kubectl (which users reach for); found on `PATH` and asked their version.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::env::Environment;

/// The oldest Helm hoist supports: `helm upgrade --install --wait` with the
/// rollback and status behaviour it relies on.
pub const MIN_HELM: semver::Version = semver::Version::new(3, 12, 0);

/// Errors finding or running a tool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// Not on PATH.
    #[error("{tool} is not on PATH; {fix}")]
    NotFound {
        /// The tool.
        tool: &'static str,
        /// How to install it.
        fix: &'static str,
    },
    /// Running `TOOL version` failed or printed something unexpected.
    #[error("`{} {}` failed: {reason}", path.display(), args.join(" "))]
    Failed {
        /// The binary.
        path: PathBuf,
        /// Its arguments.
        args: Vec<String>,
        /// What went wrong.
        reason: String,
    },
    /// The tool is older than hoist supports.
    #[error("{tool} {found} at {} is older than {required}; {fix}", path.display())]
    TooOld {
        /// The tool.
        tool: &'static str,
        /// Its version.
        found: Box<semver::Version>,
        /// The minimum.
        required: Box<semver::Version>,
        /// Where it is.
        path: PathBuf,
        /// How to upgrade.
        fix: &'static str,
    },
}

/// A tool that was found and answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tool {
    /// Where it is.
    pub path: PathBuf,
    /// Its version, as it printed it (e.g. `v3.17.3`).
    pub version: String,
}

const HELM_FIX: &str = "install Helm 3.12 or newer (https://helm.sh/docs/intro/install/)";
const KUBECTL_FIX: &str =
    "install kubectl (https://kubernetes.io/docs/tasks/tools/) or use `minikube kubectl --`";

fn find(env: &Environment, tool: &'static str, fix: &'static str) -> Result<PathBuf, ToolError> {
    let path = env.var("PATH").unwrap_or_default();
    which::which_in(tool, Some(path), "/").map_err(|_| ToolError::NotFound { tool, fix })
}

async fn output(path: &PathBuf, args: &[&str]) -> Result<String, ToolError> {
    let failed = |reason: String| ToolError::Failed {
        path: path.clone(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        reason,
    };
    let run = tokio::process::Command::new(path)
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .map_err(|_| failed("no answer within 10s".into()))?
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(failed(format!("{}: {}", out.status, stderr.trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Finds helm on `env`'s PATH and checks it is at least [`MIN_HELM`].
///
/// # Errors
///
/// [`ToolError::NotFound`], [`ToolError::Failed`] or [`ToolError::TooOld`].
pub async fn helm(env: &Environment) -> Result<Tool, ToolError> {
    let path = find(env, "helm", HELM_FIX)?;
    let args = ["version", "--template", "{{.Version}}"];
    let version = output(&path, &args).await?;
    let parsed =
        semver::Version::parse(version.trim_start_matches('v')).map_err(|e| ToolError::Failed {
            path: path.clone(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            reason: format!("cannot read version {version:?}: {e}"),
        })?;
    if parsed < MIN_HELM {
        return Err(ToolError::TooOld {
            tool: "helm",
            found: Box::new(parsed),
            required: Box::new(MIN_HELM),
            path,
            fix: HELM_FIX,
        });
    }
    Ok(Tool { path, version })
}

/// Finds kubectl on `env`'s PATH and asks its client version.
///
/// # Errors
///
/// [`ToolError::NotFound`] or [`ToolError::Failed`].
pub async fn kubectl(env: &Environment) -> Result<Tool, ToolError> {
    let path = find(env, "kubectl", KUBECTL_FIX)?;
    let args = ["version", "--client", "-o", "json"];
    let text = output(&path, &args).await?;
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.pointer("/clientVersion/gitVersion")
                .and_then(|g| g.as_str())
                .map(str::to_owned)
        })
        .ok_or_else(|| ToolError::Failed {
            path: path.clone(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            reason: "its output has no clientVersion.gitVersion".into(),
        })?;
    Ok(Tool { path, version })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A stand-in tool on a private PATH: the real ones cannot be made to
    /// print an old or broken version on demand.
    fn fake_tool(dir: &std::path::Path, name: &str, script: &str) {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn env_for(dir: &std::path::Path) -> Environment {
        Environment::from_pairs([("PATH", dir.to_str().unwrap())])
    }

    #[tokio::test]
    async fn old_helm_is_refused_with_the_minimum() {
        let dir = tempfile::tempdir().unwrap();
        fake_tool(dir.path(), "helm", "echo v3.8.2");
        let err = helm(&env_for(dir.path())).await.unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "helm 3.8.2 at {} is older than 3.12.0; install Helm 3.12 or newer (https://helm.sh/docs/intro/install/)",
                dir.path().join("helm").display()
            )
        );
    }

    #[tokio::test]
    async fn missing_tools_say_how_to_install_them() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            kubectl(&env_for(dir.path())).await.unwrap_err().to_string(),
            "kubectl is not on PATH; install kubectl (https://kubernetes.io/docs/tasks/tools/) or use `minikube kubectl --`"
        );
    }

    #[tokio::test]
    async fn failing_tool_shows_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        fake_tool(
            dir.path(),
            "kubectl",
            "echo 'exec format error' >&2; exit 3",
        );
        let err = kubectl(&env_for(dir.path())).await.unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "`{} version --client -o json` failed: exit status: 3: exec format error",
                dir.path().join("kubectl").display()
            )
        );
    }

    /// The real helm that .ci/run installs, when it is on PATH.
    #[tokio::test]
    async fn real_helm_is_recent_enough() {
        let env = Environment::current();
        match helm(&env).await {
            Ok(tool) => assert!(tool.version.starts_with("v3."), "{tool:?}"),
            Err(ToolError::NotFound { .. }) if !hoist_testkit::services_required() => {}
            Err(error) => panic!("{error}"),
        }
    }
}
