//! `hoist up [SERVICE...]`: build, deliver, configure and roll out; then
//! the findings (on failure), the report's path, what was rolled back, and
//! a table of the services with the URL to open.

use std::fmt::Write as _;
use std::process::ExitCode;

use hoist_cluster::rollout::{Action, Finding};
use hoist_deploy::{BuildSettings, UpOptions, UpOutcome};
use tokio_util::sync::CancellationToken;

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
        interrupt: Some(CancellationToken::new()),
    };
    if super::engine::docker(&stack, &args.engine) {
        return super::engine::up(global, &stack, &options).await;
    }
    let steps = Steps::new(global.json);
    let watcher = tokio::spawn(on_interrupt(options.interrupt.clone().unwrap_or_default()));
    let result = hoist_deploy::up(&stack, &options, &steps).await;
    watcher.abort();
    steps.finish();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => return Ok(deploy::fail(error, "hoist up failed")),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", human(&outcome));
    }
    Ok(ExitCode::from(if outcome.interrupted {
        crate::exit::INTERRUPTED
    } else if outcome.succeeded {
        crate::exit::SUCCESS
    } else {
        crate::exit::FAILURE
    }))
}

/// The first Ctrl-C cancels `token` (the tier in progress finishes or rolls
/// back, nothing after it starts, the Lease is released); a second one
/// stops at once, leaving the Lease to expire or be taken over by the next
/// run on this machine.
async fn on_interrupt(token: CancellationToken) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    token.cancel();
    eprintln!(
        "interrupted: finishing what is in progress (the build, or the tier being rolled out, which finishes or rolls back), starting nothing after it; Ctrl-C again to stop at once"
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!(
            "stopped at once: what was being applied is left as it is; the next `hoist up` takes over the Lease and converges"
        );
        std::process::exit(i32::from(crate::exit::INTERRUPTED));
    }
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
                "rolled back: {} (revision {} serves the previous version)",
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
            Action::NotStarted if outcome.interrupted => {
                format!("not started: {} (interrupted)", service.service)
            }
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
        if outcome.interrupted {
            "INTERRUPTED"
        } else if outcome.succeeded {
            "ready"
        } else {
            "FAILED"
        },
        outcome.namespace,
        outcome.target
    );
    out
}

/// Findings for people: service, object, cause, message, fix, log tail.
pub(crate) fn findings(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        let mut object = finding.object.clone();
        if let Some(container) = &finding.container {
            let _ = write!(object, " container {container}");
        }
        deploy::finding(
            &mut out,
            &finding.service,
            &object,
            finding.cause,
            &finding.message,
            finding.fix.as_deref(),
            &finding.logs,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hoist_cluster::rollout::{Cause, ServiceOutcome};
    use hoist_cluster::target::Delivery;
    use hoist_deploy::{Access, ServiceSummary};

    use super::*;

    fn service(
        name: &str,
        action: Action,
        revision: u32,
        access: Option<Access>,
    ) -> ServiceSummary {
        ServiceSummary {
            service: name.to_owned(),
            build: None,
            deliver: None,
            rollout: Some(ServiceOutcome {
                service: name.to_owned(),
                action,
                revision: Some(revision),
                ready: 1,
                desired: 1,
                restarts: u32::from(action == Action::RolledBack) * 3,
                duration: Duration::from_secs(4),
            }),
            image: Some(format!("sha256:{}", name.len().to_string().repeat(12))),
            access,
            skipped: Vec::new(),
        }
    }

    fn outcome(succeeded: bool) -> UpOutcome {
        let backend = if succeeded {
            Action::Upgraded
        } else {
            Action::RolledBack
        };
        UpOutcome {
            project: "todo-chatbot".to_owned(),
            namespace: "todo".to_owned(),
            context: "hoist".to_owned(),
            target: "context hoist is a remote cluster at https://127.0.0.1:6443; images are pushed to a registry (--registry)".to_owned(),
            delivery: Delivery::Registry,
            succeeded,
            interrupted: false,
            run_id: "20261201-170000-1".to_owned(),
            report: (!succeeded).then(|| ".hoist/runs/20261201-170000-1/report.json".into()),
            services: vec![
                service("database", Action::Unchanged, 1, None),
                service("backend", backend, 2, None),
                service(
                    "frontend",
                    if succeeded {
                        Action::Unchanged
                    } else {
                        Action::NotStarted
                    },
                    1,
                    Some(Access::Url("http://127.0.0.1:30080".to_owned())),
                ),
            ],
            findings: if succeeded {
                Vec::new()
            } else {
                vec![Finding {
                    service: "backend".to_owned(),
                    object: "Pod/todo-chatbot-backend-5d9c-x2".to_owned(),
                    pod: Some("todo-chatbot-backend-5d9c-x2".to_owned()),
                    container: Some("backend".to_owned()),
                    cause: Cause::CrashLoop,
                    message: "exited with code 2 after 3 restarts".to_owned(),
                    fix: Some("fix the start-up error in the log below".to_owned()),
                    logs: vec!["todo-api: JWT_SECRET must be at least 32 characters long".to_owned()],
                }]
            },
        }
    }

    #[test]
    fn the_table_and_the_failure_report_read_as_documented() {
        insta::assert_snapshot!("up-ready", human(&outcome(true)));
        insta::assert_snapshot!("up-failed", human(&outcome(false)));
    }
}
