//! `hoist up [SERVICE...]`: build, deliver, configure and roll out; then
//! the findings (on failure), the report's path, what was rolled back, and
//! a table of the services with the URL to open.

use std::fmt::Write as _;
use std::process::ExitCode;

use hoist_cluster::rollout::{Action, Finding};
use hoist_deploy::{BuildSettings, UpOptions, UpOutcome};

use crate::cli::{Global, UpArgs};
use crate::deploy;
use crate::steps::Steps;

pub(crate) async fn run(global: &Global, args: &UpArgs) -> anyhow::Result<ExitCode> {
    let stack = match deploy::stack(global) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let options = UpOptions {
        services: args.services.clone(),
        only: args.only,
        env: deploy::env_inputs(&args.env),
        cluster: deploy::cluster(&args.cluster, deploy::registry(&args.registry)?),
        build: BuildSettings {
            cache_dir: args.cache_dir.clone(),
            no_cache: args.no_cache,
        },
        rollback: !args.no_rollback,
    };
    let steps = Steps::new(global.json);
    let outcome = match hoist_deploy::up(&stack, &options, &steps).await {
        Ok(outcome) => outcome,
        Err(error) => return Ok(deploy::fail(error, "hoist up failed")),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", human(&outcome));
    }
    Ok(ExitCode::from(if outcome.succeeded {
        crate::exit::SUCCESS
    } else {
        crate::exit::FAILURE
    }))
}

/// The findings, the report, what was rolled back, then the table.
pub(crate) fn human(outcome: &UpOutcome) -> String {
    let mut out = findings(&outcome.findings);
    if let Some(report) = &outcome.report {
        let _ = writeln!(out, "report: {}", report.display());
    }
    for service in &outcome.services {
        let Some(rollout) = &service.rollout else {
            continue;
        };
        let what = match rollout.action {
            Action::RolledBack => format!(
                "rolled back: {} (to revision {})",
                service.service,
                rollout
                    .revision
                    .map_or_else(|| "?".to_owned(), |r| r.to_string())
            ),
            Action::Removed => format!(
                "removed: {} (its first install failed; volumes kept)",
                service.service
            ),
            Action::Failed => format!("left failed: {} (--no-rollback)", service.service),
            Action::NotStarted => format!(
                "not started: {} (a service it depends on failed)",
                service.service
            ),
            Action::Installed | Action::Upgraded | Action::Unchanged => continue,
        };
        let _ = writeln!(out, "{what}");
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let mut rows = vec![
        ["SERVICE", "IMAGE", "REVISION", "READY", "RESTARTS", "URL"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for service in &outcome.services {
        let rollout = service.rollout.as_ref();
        rows.push(vec![
            service.service.clone(),
            service.image.clone().unwrap_or_else(|| "-".to_owned()),
            rollout
                .and_then(|r| r.revision)
                .map_or_else(|| "-".to_owned(), |r| r.to_string()),
            rollout.map_or_else(|| "-".to_owned(), |r| format!("{}/{}", r.ready, r.desired)),
            rollout.map_or_else(|| "-".to_owned(), |r| r.restarts.to_string()),
            service
                .access
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ]);
    }
    out.push_str(&deploy::columns(&rows));
    let _ = writeln!(
        out,
        "{} in namespace {} ({})",
        if outcome.succeeded { "ready" } else { "FAILED" },
        outcome.namespace,
        outcome.target
    );
    out
}

/// Findings for people: service, object, cause, message, fix, log tail.
pub(crate) fn findings(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        let cause = serde_json::to_value(finding.cause)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut object = finding.object.clone();
        if let Some(container) = &finding.container {
            let _ = write!(object, " container {container}");
        }
        let _ = writeln!(
            out,
            "FAIL {} {object}: {cause}: {}",
            finding.service, finding.message
        );
        if let Some(fix) = &finding.fix {
            let _ = writeln!(out, "     fix: {fix}");
        }
        for line in &finding.logs {
            let _ = writeln!(out, "     | {line}");
        }
    }
    out
}
