//! `hoist doctor`: is this machine ready to deploy? Each check says what it
//! found, and when it fails, what to do about it.
//!
//! Required checks decide the verdict: a kubeconfig, a reachable cluster,
//! Minikube running when the context is a Minikube profile, and Helm 3.12+.
//! Docker and kubectl are reported but optional: hoist builds images without
//! a daemon and talks to the API itself.

use std::time::Duration;

use serde::Serialize;

use crate::docker::DockerEndpoint;
use crate::env::Environment;
use crate::kubeconfig::{self, KubeError};
use crate::{minikube, tools};

/// What to check, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The environment whose DOCKER_HOST, KUBECONFIG, MINIKUBE_HOME and PATH apply.
    pub env: Environment,
    /// The kube context to check instead of the current one.
    pub context: Option<String>,
    /// How long a daemon or API server gets to answer.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            env: Environment::current(),
            context: None,
            timeout: Duration::from_secs(3),
        }
    }
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Found and working.
    Ok,
    /// Missing or broken.
    Failed,
    /// Not applicable here (e.g. Minikube for a kind cluster).
    Skipped,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// A stable identifier: docker, kubeconfig, cluster, minikube, target, helm, kubectl.
    pub name: &'static str,
    /// The outcome.
    pub status: Status,
    /// Whether a failure makes the whole report fail.
    pub required: bool,
    /// What was found, or what is wrong.
    pub summary: String,
    /// The command or step that fixes a failure.
    pub fix: Option<String>,
    /// The facts behind the summary, for `--json`.
    pub facts: serde_json::Value,
}

/// Every check, in a fixed order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Whether every required check passed.
    pub ok: bool,
    /// The checks.
    pub checks: Vec<Check>,
}

impl Check {
    /// The check's mark in a report: `ok`, `FAIL` (required), `warn`
    /// (optional) or `--` (skipped).
    #[must_use]
    pub fn mark(&self) -> &'static str {
        match (self.status, self.required) {
            (Status::Ok, _) => "ok",
            (Status::Failed, true) => "FAIL",
            (Status::Failed, false) => "warn",
            (Status::Skipped, _) => "--",
        }
    }

    fn ok(name: &'static str, required: bool, summary: String, facts: impl Serialize) -> Self {
        Self {
            name,
            status: Status::Ok,
            required,
            summary,
            fix: None,
            facts: to_json(facts),
        }
    }

    fn failed(name: &'static str, required: bool, summary: String, fix: &str) -> Self {
        let fix = Some(fix.to_owned());
        Self {
            name,
            status: Status::Failed,
            required,
            summary,
            fix,
            facts: serde_json::Value::Null,
        }
    }

    fn skipped(name: &'static str, summary: String) -> Self {
        Self {
            name,
            status: Status::Skipped,
            required: false,
            summary,
            fix: None,
            facts: serde_json::Value::Null,
        }
    }
}

fn to_json(facts: impl Serialize) -> serde_json::Value {
    serde_json::to_value(facts).unwrap_or(serde_json::Value::Null)
}

/// Runs every check. Checks that talk to a daemon or server run concurrently,
/// each bounded by `options.timeout`, so a dead endpoint costs seconds.
pub async fn diagnose(options: &Options) -> Report {
    let (docker, cluster, target, helm, kubectl) = tokio::join!(
        check_docker(options),
        check_cluster(options),
        check_target(options),
        check_helm(options),
        check_kubectl(options)
    );
    let mut checks = vec![docker];
    checks.extend(cluster);
    checks.extend([target, helm, kubectl]);
    let ok = checks
        .iter()
        .all(|c| !(c.required && c.status == Status::Failed));
    Report { ok, checks }
}

async fn check_docker(options: &Options) -> Check {
    let endpoint = DockerEndpoint::from_env(&options.env);
    match endpoint.connect(options.timeout).await {
        Ok((_, version)) => Check::ok(
            "docker",
            false,
            format!(
                "Docker {} (API {}) at {}",
                version.version, version.api_version, endpoint.host
            ),
            serde_json::json!({ "endpoint": endpoint, "version": version }),
        ),
        Err(error) => Check::failed(
            "docker",
            false,
            format!("{error} (optional: native builds need no daemon)"),
            "start Docker (`sudo systemctl start docker` or Docker Desktop), or point DOCKER_HOST at a running daemon",
        ),
    }
}

/// The kubeconfig, the cluster and Minikube, which depend on each other.
async fn check_cluster(options: &Options) -> [Check; 3] {
    let loaded = match kubeconfig::load(&options.env) {
        Ok(loaded) => loaded,
        Err(error) => {
            let fix = match error {
                KubeError::NotFound { .. } => "minikube start",
                _ => "fix the kubeconfig file named above",
            };
            return [
                Check::failed("kubeconfig", true, error.to_string(), fix),
                Check::failed(
                    "cluster",
                    true,
                    "no cluster: there is no usable kubeconfig".to_owned(),
                    "minikube start",
                ),
                minikube_without_kubeconfig(&options.env),
            ];
        }
    };
    let paths = loaded
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>();
    let kubeconfig = Check::ok(
        "kubeconfig",
        true,
        paths.join(":"),
        serde_json::json!({ "paths": paths }),
    );
    let context = match loaded.context(options.context.as_deref()) {
        Ok(context) => context,
        Err(error) => {
            let fix = "kubectl config use-context NAME (or minikube start)";
            return [
                kubeconfig,
                Check::failed("cluster", true, error.to_string(), fix),
                Check::skipped("minikube", "no context selected".to_owned()),
            ];
        }
    };
    let profile = minikube::profile_for_context(&options.env, &context);
    let probe = loaded.probe(&context, options.timeout).await;
    let start = match &profile {
        Ok(Some(profile)) => format!("minikube start -p {}", profile.name),
        _ => {
            "start the cluster, or switch context with `kubectl config use-context NAME`".to_owned()
        }
    };
    let cluster = match &probe {
        Ok(version) => Check::ok(
            "cluster",
            true,
            format!(
                "context {} at {} (Kubernetes {})",
                context.name, context.server, version.git_version
            ),
            serde_json::json!({ "context": context, "version": version }),
        ),
        Err(error) => Check::failed("cluster", true, error.to_string(), &start),
    };
    let minikube = match profile {
        Ok(Some(profile)) => {
            let facts = serde_json::json!({ "profile": profile, "running": probe.is_ok() });
            let what = format!(
                "profile {} (driver {}, runtime {}, node {})",
                profile.name,
                profile.driver,
                profile.container_runtime,
                profile.node_ip.as_deref().unwrap_or("unknown")
            );
            if probe.is_ok() {
                Check::ok("minikube", true, format!("{what} is running"), facts)
            } else {
                let mut check =
                    Check::failed("minikube", true, format!("{what} is not running"), &start);
                check.facts = facts;
                check
            }
        }
        Ok(None) => Check::skipped(
            "minikube",
            format!("context {} is not a Minikube profile", context.name),
        ),
        Err(error) => Check::failed("minikube", true, error.to_string(), &start),
    };
    [kubeconfig, cluster, minikube]
}

/// Without a kubeconfig, Minikube's own state still tells whether a profile
/// exists that was merely stopped or deleted from the kubeconfig.
fn minikube_without_kubeconfig(env: &Environment) -> Check {
    let profiles_dir = minikube::home(env).join("profiles");
    let mut profiles: Vec<String> = std::fs::read_dir(&profiles_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().join("config.json").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    profiles.sort();
    match profiles.first() {
        Some(first) => Check::failed(
            "minikube",
            false,
            format!(
                "profiles {} exist under {} but none is in the kubeconfig",
                profiles.join(", "),
                profiles_dir.display()
            ),
            &format!("minikube start -p {first}"),
        ),
        None => Check::skipped(
            "minikube",
            format!("no Minikube profiles under {}", profiles_dir.display()),
        ),
    }
}

/// Where images would go, confirmed by probing, with the evidence.
/// Informational: the cluster check already fails when there is no cluster.
async fn check_target(options: &Options) -> Check {
    match crate::target::detect(&options.env, options.context.as_deref()).await {
        Ok(detection) => Check::ok("target", false, detection.summary(), &detection),
        // The kubeconfig and cluster checks already report these.
        Err(crate::Error::Kube(_)) => Check::skipped(
            "target",
            "no usable kube context to detect a target from".to_owned(),
        ),
        Err(error) => Check::skipped("target", format!("not detected: {error}")),
    }
}

async fn check_helm(options: &Options) -> Check {
    match tools::helm(&options.env).await {
        Ok(tool) => Check::ok(
            "helm",
            true,
            format!("helm {} at {}", tool.version, tool.path.display()),
            &tool,
        ),
        Err(error) => Check::failed(
            "helm",
            true,
            error.to_string(),
            "install Helm 3.12 or newer",
        ),
    }
}

async fn check_kubectl(options: &Options) -> Check {
    match tools::kubectl(&options.env).await {
        Ok(tool) => Check::ok(
            "kubectl",
            false,
            format!("kubectl {} at {}", tool.version, tool.path.display()),
            &tool,
        ),
        Err(error) => Check::failed(
            "kubectl",
            false,
            format!("{error} (optional)"),
            "install kubectl",
        ),
    }
}
