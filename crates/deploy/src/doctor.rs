//! `doctor`: the workload checks of a deployed stack, one finding per
//! problem with its tier, object, cause and fix, from the rollout engine's
//! rules ([`hoist_cluster::rollout::inspect`]).
//!
//! Choices made where the issue is silent:
//!
//! - With a stack file, the tiers are its services with a chart, in rollout
//!   order, with their `depends_on`; `namespace` overrides the stack's.
//!   Without one, `namespace` alone: every Helm release owning a workload
//!   there is a tier of its own name, with no dependencies known.
//! - Values masked in findings and log lines: every secret value of the
//!   stack's mapping (when `.env` can be read) and every value of the
//!   namespace's live Secrets of 4 characters or more (shorter ones would
//!   mask ordinary words; Helm's release records excepted, which hold no
//!   value of their own).
//! - Drift is a warning; every other finding is an error.

use hoist_cluster::doctor::{Report, Status};
use hoist_cluster::rollout::{self, Finding, InspectOptions, Severity, Subject, TierState};
use hoist_config::{EnvInputs, Stack};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;
use serde::Serialize;

use crate::cluster::{self, ClusterOptions};
use crate::{Result, plan};

/// The shortest live Secret value that is masked.
const MIN_MASKED: usize = 4;

/// What `doctor` looks at.
#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    /// The namespace instead of the stack's (required without a stack).
    pub namespace: Option<String>,
    /// Where the stack's variables come from, for masking secret values.
    pub env: EnvInputs,
    /// Which cluster.
    pub cluster: ClusterOptions,
}

/// The workload checks' result.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorOutcome {
    /// The project, when a stack file was read.
    pub project: Option<String>,
    /// The namespace looked at.
    pub namespace: String,
    /// The kube context.
    pub context: String,
    /// Every finding, errors and warnings.
    pub findings: Vec<DoctorFinding>,
    /// Per tier: Ready or why not.
    pub tiers: Vec<TierState>,
    /// Findings that are errors.
    pub errors: usize,
    /// Every value masked in the findings, for whoever sends them on
    /// (`--explain`). Never serialized.
    #[serde(skip)]
    pub redact: Vec<String>,
}

/// A finding and how much it matters.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorFinding {
    /// Error or warning.
    pub severity: Severity,
    /// The tier, object, cause, message, fix and log lines.
    #[serde(flatten)]
    pub finding: Finding,
}

/// Looks at the deployed stack (or at `options.namespace` without one).
///
/// # Errors
///
/// [`crate::Error::NoNamespace`] with neither a stack nor a namespace,
/// [`crate::Error::NoCluster`], and API or helm failures.
pub async fn doctor(stack: Option<&Stack>, options: &DoctorOptions) -> Result<DoctorOutcome> {
    let namespace = match (&options.namespace, stack) {
        (Some(ns), _) => ns.clone(),
        (None, Some(stack)) => stack.namespace.clone(),
        (None, None) => return Err(crate::Error::NoNamespace),
    };
    let cluster = cluster::connect_to(&namespace, &options.cluster).await?;
    let mut redact = Vec::new();
    let (subjects, crashloop_restarts): (Vec<Subject>, u32) = if let Some(stack) = stack {
        let mapping = hoist_config::resolve(stack, &options.env).ok();
        let plan = plan::existing(stack, mapping.as_ref())?;
        redact.extend(plan.redact.iter().cloned());
        let subjects = plan
            .releases()
            .map(|r| Subject {
                service: r.service.clone(),
                release: r.release.clone(),
                depends_on: r.depends_on.clone(),
            })
            .collect();
        (subjects, plan.options.crashloop_restarts)
    } else {
        let subjects = rollout::releases(&cluster.target)
            .await?
            .into_iter()
            .map(|release| Subject {
                service: release.clone(),
                release,
                depends_on: Vec::new(),
            })
            .collect();
        (subjects, rollout::Options::default().crashloop_restarts)
    };
    redact.extend(live_secrets(&cluster.target.client, &namespace).await);
    redact.sort();
    redact.dedup();
    let inspection = rollout::inspect(
        &cluster.target,
        &subjects,
        &InspectOptions {
            crashloop_restarts,
            redact: redact.clone(),
        },
    )
    .await?;
    let findings: Vec<DoctorFinding> = inspection
        .findings
        .into_iter()
        .map(|finding| DoctorFinding {
            severity: finding.cause.severity(),
            finding,
        })
        .collect();
    Ok(DoctorOutcome {
        project: stack.map(|s| s.project.clone()),
        namespace,
        context: cluster.context.name.clone(),
        errors: findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count(),
        findings,
        tiers: inspection.tiers,
        redact,
    })
}

/// Every value of the namespace's Secrets (decoded), except Helm's release
/// records; none when they cannot be read.
async fn live_secrets(client: &kube::Client, namespace: &str) -> Vec<String> {
    let Ok(list) = Api::<Secret>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for secret in list.items {
        if secret.type_.as_deref() == Some("helm.sh/release.v1") {
            continue;
        }
        // A service-account token Secret also holds the namespace's name
        // and the cluster's CA certificate, neither secret: masking the
        // name would hide it in every message. Its token is masked.
        let token_only = secret.type_.as_deref() == Some("kubernetes.io/service-account-token");
        for value in secret
            .data
            .into_iter()
            .flatten()
            .filter(|(key, _)| !token_only || key == "token")
            .map(|(_, v)| v.0)
        {
            if let Ok(text) = String::from_utf8(value)
                && text.len() >= MIN_MASKED
            {
                out.push(text);
            }
        }
        for value in secret.string_data.into_iter().flatten().map(|(_, v)| v) {
            if value.len() >= MIN_MASKED {
                out.push(value);
            }
        }
    }
    out
}

/// The report as `hoist doctor` prints it (and `--explain` sends it): the
/// prerequisite checks, then per tier its state and every finding with its
/// fix and log lines. `skipped` says why the workload checks did not run.
#[must_use]
pub fn render_doctor(
    report: &Report,
    workloads: Option<&DoctorOutcome>,
    skipped: Option<&str>,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for check in &report.checks {
        let _ = writeln!(
            out,
            "{:<4} {:<10} {}",
            check.mark(),
            check.name,
            check.summary
        );
        if let (Status::Failed, Some(fix)) = (check.status, &check.fix) {
            let _ = writeln!(out, "     {:<10} fix: {fix}", "");
        }
    }
    if let Some(why) = skipped {
        let _ = writeln!(out, "--   workloads  not checked: {why}");
    }
    if let Some(w) = workloads {
        let _ = writeln!(
            out,
            "\nworkloads in namespace {} (context {}):",
            w.namespace, w.context
        );
        for tier in &w.tiers {
            let _ = writeln!(out, "  {:<10} {}", tier.service, tier.describe());
        }
        for f in &w.findings {
            let d = &f.finding;
            let mark = match f.severity {
                Severity::Error => "FAIL",
                Severity::Warning => "warn",
            };
            let cause = serde_json::to_value(d.cause)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{mark} {} {} [{cause}]: {}",
                d.service, d.object, d.message
            );
            if let Some(fix) = &d.fix {
                let _ = writeln!(out, "     fix: {fix}");
            }
            if !d.logs.is_empty() {
                let _ = writeln!(out, "     last log lines:");
                for line in &d.logs {
                    let _ = writeln!(out, "       {line}");
                }
            }
        }
        if w.findings.is_empty() {
            let _ = writeln!(out, "no workload finding");
        }
    }
    let workload_errors = workloads.map_or(0, |w| w.errors);
    let verdict = if !report.ok {
        "not ready: fix the FAIL lines above"
    } else if workload_errors > 0 {
        "the stack has problems: fix the FAIL lines above"
    } else {
        "ready: every required check passed"
    };
    let _ = writeln!(out, "{verdict}");
    out
}
