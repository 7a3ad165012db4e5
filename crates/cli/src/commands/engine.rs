//! `up`, `status`, `logs` and `down` on the Docker engine: each command
//! builds the same options for both engines and comes here when the
//! engine is docker (`--engine docker`, `HOIST_ENGINE=docker`, or
//! `engine = "docker"` in hoist.toml; the flag wins).

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use futures::StreamExt as _;
use hoist_cluster::engine::{DownOutcome, EngineStatus, Finding};
use hoist_config::{Engine, Stack};
use hoist_deploy::engine::EngineUpOutcome;
use hoist_deploy::{DownOptions, LogsOptions, StatusOptions, UpOptions};

use crate::cli::{EngineArgs, EngineChoice, Global};
use crate::steps::Steps;
use crate::{deploy, exit};

/// Whether the command runs on the Docker engine: the flag, else hoist.toml.
pub(crate) fn docker(stack: &Stack, args: &EngineArgs) -> bool {
    let engine = match args.engine {
        Some(EngineChoice::Docker) => Engine::Docker,
        Some(EngineChoice::Kubernetes) => Engine::Kubernetes,
        None => stack.engine,
    };
    engine == Engine::Docker
}

fn usage(message: &str) -> ExitCode {
    exit::report(&anyhow::anyhow!("{message}"), exit::USAGE)
}

pub(crate) async fn up(
    global: &Global,
    stack: &Stack,
    options: &UpOptions,
) -> anyhow::Result<ExitCode> {
    if let Some(code) = refuse_registry(options) {
        return Ok(code);
    }
    let steps = Steps::new(global.json);
    let result = hoist_deploy::engine::up(stack, options, &steps).await;
    steps.finish();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => return Ok(deploy::fail(error, "hoist up --engine docker failed")),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", human_up(&outcome));
    }
    Ok(ExitCode::from(if outcome.succeeded {
        exit::SUCCESS
    } else {
        exit::FAILURE
    }))
}

/// `--registry` is for clusters: the usage error, when it was given.
pub(crate) fn refuse_registry(options: &UpOptions) -> Option<ExitCode> {
    options.cluster.registry.is_some().then(|| {
        usage(
            "--registry is for clusters that pull images; the Docker engine runs the images hoist loads into its daemon: leave --registry out, or use --engine kubernetes",
        )
    })
}

/// The findings first, what was not started, then the table.
pub(crate) fn human_up(outcome: &EngineUpOutcome) -> String {
    let mut out = findings(&outcome.findings);
    if !outcome.not_started.is_empty() {
        let _ = writeln!(
            out,
            "not started: {} (a service it depends on failed)",
            outcome.not_started.join(", ")
        );
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let mut rows = vec![
        ["SERVICE", "IMAGE", "READY", "URL"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for service in &outcome.services {
        rows.push(vec![
            service.service.clone(),
            service.image.clone().unwrap_or_else(|| "-".to_owned()),
            if service.run.is_some() {
                format!("{}/{}", service.ready, service.desired)
            } else {
                "-".to_owned()
            },
            service.url.clone().unwrap_or_default(),
        ]);
    }
    out.push_str(&deploy::columns(&rows));
    let _ = writeln!(
        out,
        "{} on the Docker engine at {} (network {}{})",
        if outcome.succeeded { "ready" } else { "FAILED" },
        outcome.endpoint,
        outcome.network,
        if outcome.changed {
            ""
        } else {
            "; nothing changed"
        }
    );
    out
}

/// Findings for people: service, container, cause, message, fix, log tail.
pub(crate) fn findings(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        deploy::finding(
            &mut out,
            &finding.service,
            &finding
                .container
                .as_ref()
                .map_or_else(String::new, |c| format!("container {c}")),
            finding.cause,
            &finding.message,
            Some(&finding.fix),
            &finding.logs,
        );
    }
    out
}

pub(crate) async fn status(
    global: &Global,
    stack: &Stack,
    options: &StatusOptions,
) -> anyhow::Result<ExitCode> {
    let status = match hoist_deploy::engine::status(stack, options).await {
        Ok(status) => status,
        Err(error) => return Ok(deploy::fail(error, "hoist status --engine docker failed")),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", human_status(&status));
    }
    Ok(ExitCode::from(exit::SUCCESS))
}

fn human_status(status: &EngineStatus) -> String {
    let mut rows = vec![
        [
            "SERVICE",
            "CONTAINER",
            "STATE",
            "IMAGE",
            "RESTARTS",
            "PUBLISHED",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for c in &status.containers {
        let mut state = c.state.clone();
        if let Some(health) = &c.health {
            let _ = write!(state, " ({health})");
        }
        if let Some(code) = c.exit_code.filter(|_| c.state != "running") {
            let _ = write!(state, " (exit {code})");
        }
        rows.push(vec![
            c.service.clone(),
            c.name.clone(),
            state,
            c.image.clone(),
            c.restarts.to_string(),
            c.published.join(","),
        ]);
    }
    let mut out = deploy::columns(&rows);
    let _ = writeln!(
        out,
        "project {} on the Docker engine: {}; volumes: {}",
        status.project,
        status
            .network
            .as_ref()
            .map_or_else(|| "no network".to_owned(), |n| format!("network {n}")),
        if status.volumes.is_empty() {
            "none".to_owned()
        } else {
            status.volumes.join(", ")
        }
    );
    out
}

pub(crate) async fn logs(
    global: &Global,
    stack: &Stack,
    options: &LogsOptions,
) -> anyhow::Result<ExitCode> {
    if options.since.is_some() {
        return Ok(usage(
            "--since works with the kubernetes engine only; with --engine docker use --tail LINES",
        ));
    }
    let mut stream = match hoist_deploy::engine::logs(stack, options).await {
        Ok(stream) => Box::pin(stream),
        Err(error) => return Ok(deploy::fail(error, "hoist logs --engine docker failed")),
    };
    let mut lines = 0_usize;
    while let Some(item) = stream.next().await {
        let line = match item {
            Ok(line) => line,
            Err(error) => {
                return Ok(exit::report(
                    &anyhow::Error::new(error).context("hoist logs --engine docker failed"),
                    exit::FAILURE,
                ));
            }
        };
        lines += 1;
        let mut stdout = std::io::stdout().lock();
        let written = if global.json {
            writeln!(stdout, "{}", serde_json::to_string(&line)?)
        } else {
            writeln!(stdout, "{} | {}", line.container, line.line)
        };
        if written.is_err() {
            break; // The reader went away (`| head`).
        }
    }
    if lines == 0 && !global.json {
        eprintln!(
            "no containers of {} for project {} on the Docker engine; start them with `hoist up --engine docker`",
            options.service.as_deref().unwrap_or("any service"),
            stack.project
        );
    }
    Ok(ExitCode::from(exit::SUCCESS))
}

pub(crate) async fn down(
    global: &Global,
    stack: &Stack,
    options: &DownOptions,
) -> anyhow::Result<ExitCode> {
    let removed = match hoist_deploy::engine::down(stack, options).await {
        Ok(removed) => removed,
        Err(error) => return Ok(deploy::fail(error, "hoist down --engine docker failed")),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&removed)?);
    } else {
        print!("{}", human_down(&removed));
    }
    Ok(ExitCode::from(exit::SUCCESS))
}

fn human_down(removed: &DownOutcome) -> String {
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    let mut out = format!("containers removed: {}\n", list(&removed.containers));
    let _ = writeln!(
        out,
        "network removed: {}",
        if removed.network_removed { "yes" } else { "no" }
    );
    let _ = writeln!(out, "volumes removed: {}", list(&removed.volumes_removed));
    if !removed.volumes_kept.is_empty() {
        let _ = writeln!(
            out,
            "volumes kept: {} (remove them with `hoist down --engine docker --volumes`)",
            list(&removed.volumes_kept)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use hoist_cluster::engine::{Action, ContainerOutcome, PublishedUrl, ServiceOutcome};
    use hoist_deploy::engine::EngineServiceSummary;

    use super::*;

    fn service(name: &str, url: Option<&str>) -> EngineServiceSummary {
        EngineServiceSummary {
            service: name.to_owned(),
            build: None,
            deliver: None,
            image: Some(format!("sha256:{}", name.len().to_string().repeat(12))),
            run: Some(ServiceOutcome {
                service: name.to_owned(),
                containers: vec![ContainerOutcome {
                    name: format!("shop-{name}-1"),
                    id: "0123456789ab".to_owned(),
                    action: Action::Unchanged,
                }],
                check: "TCP 5432".to_owned(),
                ready: true,
                elapsed_ms: 40,
            }),
            ready: 1,
            desired: 1,
            url: url.map(str::to_owned),
            skipped: Vec::new(),
        }
    }

    #[test]
    fn the_table_names_image_readiness_and_url_and_says_when_nothing_changed() {
        let url = "http://127.0.0.1:3000/";
        let outcome = EngineUpOutcome {
            project: "shop".to_owned(),
            engine: Engine::Docker,
            endpoint: "unix:///var/run/docker.sock".to_owned(),
            network: "shop-net".to_owned(),
            succeeded: true,
            changed: false,
            services: vec![service("db", None), service("web", Some(url))],
            not_started: Vec::new(),
            findings: Vec::new(),
            urls: vec![PublishedUrl {
                service: "web".to_owned(),
                url: url.to_owned(),
            }],
        };
        assert_eq!(
            human_up(&outcome),
            "SERVICE  IMAGE                READY  URL\n\
             db       sha256:222222222222  1/1\n\
             web      sha256:333333333333  1/1    http://127.0.0.1:3000/\n\
             ready on the Docker engine at unix:///var/run/docker.sock (network shop-net; nothing changed)\n"
        );
    }
}
