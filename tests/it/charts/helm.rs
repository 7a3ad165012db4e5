//! The real tools the chart tests drive: helm and kubernetes-validate.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize as _;

/// The tier charts, in dependency order, then the umbrella.
pub(super) const TIERS: [&str; 3] = ["todo-database", "todo-backend", "todo-frontend"];
pub(super) const UMBRELLA: &str = "todo-chatbot";

/// The values files every chart ships; `None` is the chart's own values.yaml.
pub(super) const VALUES: [Option<&str>; 4] = [
    None,
    Some("values-local.yaml"),
    Some("values-production.yaml"),
    Some(DEV),
];

/// What `hoist dev` alone adds (hoist.toml's `chart.dev_values`): fast
/// probes, no drain. Every other values file must keep rollouts lossless.
pub(super) const DEV: &str = "values-dev.yaml";

/// What a Kubernetes 1.20 API server reports for the groups the charts use.
pub(super) const KUBE_1_20_API_VERSIONS: [&str; 8] = [
    "apps/v1",
    "autoscaling/v1",
    "autoscaling/v2beta2",
    "autoscaling/v2beta2/HorizontalPodAutoscaler",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1/Ingress",
    "policy/v1beta1",
    "policy/v1beta1/PodDisruptionBudget",
];

pub(super) fn charts_dir() -> PathBuf {
    hoist_e2e::repo_root().join("charts")
}

pub(super) fn chart_dir(chart: &str) -> PathBuf {
    charts_dir().join(chart)
}

/// helm and kubernetes-validate, found on this machine.
pub(super) struct Tools {
    helm: PathBuf,
    validate: PathBuf,
}

impl Tools {
    /// The tools, or `None` (after saying so) when the test should be skipped.
    ///
    /// # Panics
    ///
    /// When a tool is missing and services are required (CI).
    #[allow(clippy::print_stderr)] // Skipping is reported where cargo test shows it.
    pub(super) fn find() -> Option<Self> {
        let helm = std::env::var_os("HOIST_HELM")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| which::which("helm").ok());
        let validate = which::which("kubernetes-validate").ok();
        let missing = match (&helm, &validate) {
            (Some(_), Some(_)) => None,
            (None, _) => Some("helm ($HOIST_HELM or helm on PATH, e.g. /opt/hoist-tools/bin)"),
            (_, None) => Some("kubernetes-validate on PATH (pip install kubernetes-validate)"),
        };
        if let Some(missing) = missing {
            assert!(
                !hoist_testkit::services_required(),
                "the chart tests need {missing}, and services are required here"
            );
            eprintln!("skipped: needs {missing}");
            return None;
        }
        Some(Self {
            helm: helm?,
            validate: validate?,
        })
    }

    fn helm(&self, args: &[String]) -> Output {
        Command::new(&self.helm)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.helm.display()))
    }

    /// `helm lint --strict CHART [-f FILE]`: Ok(stdout) or Err(stdout and stderr).
    pub(super) fn lint(&self, chart: &str, values: Option<&str>) -> Result<String, String> {
        let mut args = vec!["lint".to_owned(), "--strict".to_owned()];
        args.extend(chart_args(chart, values));
        outcome(&self.helm(&args))
    }

    /// `helm template RELEASE CHART [-f FILE] EXTRA...`: the manifests, or helm's error.
    pub(super) fn template(
        &self,
        release: &str,
        chart: &str,
        values: Option<&str>,
        extra: &[&str],
    ) -> Result<String, String> {
        let mut args = vec!["template".to_owned(), release.to_owned()];
        args.extend(chart_args(chart, values));
        args.extend(
            ["--namespace", "todo"]
                .iter()
                .chain(extra)
                .map(|a| (*a).to_owned()),
        );
        outcome(&self.helm(&args)).map_err(|e| e.trim().to_owned())
    }

    /// Like [`Tools::template`], failing the test on helm's error.
    pub(super) fn render(
        &self,
        release: &str,
        chart: &str,
        values: Option<&str>,
        extra: &[&str],
    ) -> String {
        self.template(release, chart, values, extra)
            .unwrap_or_else(|e| panic!("helm template {chart} with {values:?} {extra:?}: {e}"))
    }

    /// Runs kubernetes-validate (strict) on all `files` at once against `version`.
    pub(super) fn validate(&self, version: &str, files: &[PathBuf]) -> Output {
        Command::new(&self.validate)
            .args(["--strict", "--no-warn", "-k", version])
            .args(files)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.validate.display()))
    }

    /// The newest Kubernetes version kubernetes-validate knows: its default.
    pub(super) fn newest_kubernetes_version(&self) -> String {
        let help = Command::new(&self.validate)
            .arg("--help")
            .output()
            .expect("kubernetes-validate --help");
        let text = String::from_utf8_lossy(&help.stdout);
        let words: Vec<&str> = text.split_whitespace().collect();
        words
            .windows(3)
            .find(|w| w[0] == "Defaults" && w[1] == "to")
            .map_or_else(
                || panic!("no default version in kubernetes-validate --help:\n{text}"),
                |w| w[2].trim_end_matches('.').to_owned(),
            )
    }
}

/// The chart's directory, then `-f FILE` for a values file of that chart.
fn chart_args(chart: &str, values: Option<&str>) -> Vec<String> {
    let dir = chart_dir(chart);
    let path = |p: PathBuf| p.to_str().expect("UTF-8 repository path").to_owned();
    let mut args = vec![path(dir.clone())];
    if let Some(file) = values {
        args.extend(["-f".to_owned(), path(dir.join(file))]);
    }
    args
}

fn outcome(output: &Output) -> Result<String, String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The non-empty YAML documents of a multi-document stream.
pub(super) fn documents(yaml: &str) -> Vec<serde_yaml::Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| serde_yaml::Value::deserialize(doc).expect("helm rendered valid YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

/// `Kind/name` of a document, for messages and comparisons.
pub(super) fn identity(doc: &serde_yaml::Value) -> String {
    format!(
        "{}/{}",
        doc["kind"].as_str().unwrap_or("?"),
        doc["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Writes `yaml` to `dir/name` for kubernetes-validate.
pub(super) fn write(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write rendered manifests");
    path
}
