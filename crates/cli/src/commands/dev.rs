//! `hoist dev [SERVICE...]`: the inner loop. Human output: the loop's lines
//! on stdout (watching, each cycle and its timings, findings, the forwarded
//! URLs), each service's log lines prefixed `service |` (coloured when
//! stdout is a terminal), step lines on stderr. `--events json`: one JSON
//! object per line on stdout, for scripts and tests.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use hoist_cluster::engine;
use hoist_cluster::rollout::{self, Action};
use hoist_config::Engine;
use hoist_deploy::dev::{CycleOutcome, DevEvent, DevOptions, DevReporter, Timings};
use hoist_deploy::{BuildSettings, LogLine, LogSink, Step, StepState, UpOptions};
use hoist_imager::TaskId;
use serde_json::json;

use crate::cli::{DevArgs, DevEvents, Global};
use crate::deploy;
use crate::steps::Steps;

pub(crate) async fn run(global: &Global, args: &DevArgs) -> anyhow::Result<ExitCode> {
    let stack = match deploy::stack(global) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let options = DevOptions {
        up: UpOptions {
            services: args.services.clone(),
            only: args.only,
            env: deploy::env_inputs(&args.env),
            cluster: deploy::cluster(&args.cluster, deploy::registry(&args.registry)?),
            build: BuildSettings {
                cache_dir: args.cache_dir.clone(),
                no_cache: args.no_cache,
            },
            rollback: !args.no_rollback,
            // Ctrl-C ends the loop (its own shutdown), not a cycle's tiers.
            interrupt: None,
        },
        forwards: args.ports.clone(),
        cleanup: args.cleanup,
        logs: !args.no_logs,
        engine: Some(if super::engine::docker(&stack, &args.engine) {
            Engine::Docker
        } else {
            Engine::Kubernetes
        }),
        ..DevOptions::default()
    };
    if options.engine == Some(Engine::Docker)
        && let Some(code) = super::engine::refuse_registry(&options.up)
    {
        return Ok(code);
    }
    let json = global.json || args.events == DevEvents::Json;
    let printer = Printer {
        steps: if json {
            Steps::new(true)
        } else {
            Steps::plain()
        },
        json,
        colour: !json && std::io::IsTerminal::is_terminal(&std::io::stdout()),
        root: std::path::absolute(stack.dir()).unwrap_or_else(|_| stack.dir().to_path_buf()),
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match Box::pin(hoist_deploy::dev(stack, &options, &printer, shutdown)).await {
        Ok(outcome) => {
            if json {
                emit(&json!({ "event": "stopped", "outcome": outcome }));
            } else if !outcome.removed.is_empty() {
                out(&format!("removed: {}", outcome.removed.join(", ")));
            } else {
                out("stopped; the deployment keeps running (`hoist down` removes it)");
            }
            Ok(ExitCode::from(crate::exit::SUCCESS))
        }
        Err(error) => Ok(deploy::fail(error, "hoist dev failed")),
    }
}

struct Printer {
    steps: Steps,
    json: bool,
    colour: bool,
    /// The stack's directory: changed paths are shown relative to it.
    root: std::path::PathBuf,
}

/// ANSI colours for service prefixes, in turn.
const COLOURS: [u8; 6] = [36, 33, 35, 32, 34, 31];

fn emit(value: &serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{value}");
}

fn out(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
}

impl Printer {
    fn relative(&self, path: &std::path::Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn human(&self, event: &DevEvent) -> String {
        match event {
            DevEvent::Watching { roots } => format!("watching {} path(s) for changes", roots.len()),
            DevEvent::CycleStarted {
                cycle,
                changed,
                rebuild,
                roll,
            } => {
                let mut line = if *cycle == 0 {
                    format!("cycle 0: deploying {}", roll.join(", "))
                } else {
                    let shown: Vec<String> =
                        changed.iter().take(3).map(|p| self.relative(p)).collect();
                    let more = changed.len().saturating_sub(shown.len());
                    let mut line = format!("cycle {cycle}: changed {}", shown.join(", "));
                    if more > 0 {
                        let _ = write!(line, " and {more} more");
                    }
                    line
                };
                let _ = write!(
                    line,
                    "; rebuilding {}; rolling {}",
                    list(rebuild),
                    list(roll)
                );
                line
            }
            DevEvent::CycleFinished {
                cycle,
                outcome,
                timings,
            } => finished(*cycle, outcome, timings),
            DevEvent::CycleFailed { cycle, error } => {
                format!(
                    "cycle {cycle} FAILED: {error}; the previous version still serves; watching"
                )
            }
            DevEvent::Forwarding { service, url, port } => {
                format!("forwarding {service}: {url} -> pod port {port}")
            }
            DevEvent::Published { service, url } => {
                format!("{service}: {url} (published by the Docker engine)")
            }
            DevEvent::ForwardingTo { service, pod } => {
                format!("forwarding {service} to pod {pod}")
            }
            DevEvent::ForwardFailed { service, error } => {
                format!("forward to {service}: {error}")
            }
            DevEvent::Stopping { cleanup } => if *cleanup {
                "stopping: removing the deployment"
            } else {
                "stopping"
            }
            .to_owned(),
        }
    }
}

/// A finished cycle: its findings, then one line with the time and what rolled.
fn finished(cycle: u32, outcome: &CycleOutcome, timings: &Timings) -> String {
    let (mut out, rolled, still_serves) = match outcome {
        CycleOutcome::Kubernetes(outcome) => (
            super::up::findings(&outcome.findings),
            outcome
                .services
                .iter()
                .filter_map(|s| {
                    let r = s.rollout.as_ref()?;
                    (r.action != Action::Unchanged)
                        .then(|| format!("{} {}", s.service, action(r.action)))
                })
                .collect::<Vec<_>>(),
            "the previous version still serves",
        ),
        CycleOutcome::Docker(outcome) => (
            super::engine::findings(&outcome.findings),
            outcome
                .services
                .iter()
                .filter_map(|s| {
                    let run = s.run.as_ref()?;
                    let changed = run
                        .containers
                        .iter()
                        .any(|c| c.action != engine::Action::Unchanged);
                    changed.then(|| {
                        let state = if run.ready { "replaced" } else { "not ready" };
                        format!("{} {state}", s.service)
                    })
                })
                .collect::<Vec<_>>(),
            "the failed container is kept stopped with its logs",
        ),
    };
    let succeeded = outcome.succeeded();
    let _ = write!(
        out,
        "cycle {cycle} {} in {} ({}){}",
        if succeeded { "ready" } else { "FAILED" },
        seconds(timings.total),
        breakdown(timings),
        if rolled.is_empty() {
            "; nothing to roll".to_owned()
        } else {
            format!(": {}", rolled.join(", "))
        }
    );
    if !succeeded {
        let _ = write!(out, "; {still_serves}; watching");
    }
    out
}

fn list(services: &[String]) -> String {
    if services.is_empty() {
        "nothing".to_owned()
    } else {
        services.join(", ")
    }
}

fn action(action: Action) -> &'static str {
    match action {
        Action::Installed => "installed",
        Action::Upgraded => "upgraded",
        Action::Unchanged => "unchanged",
        Action::RolledBack => "rolled back",
        Action::Removed => "removed",
        Action::Failed => "left failed",
        Action::NotStarted => "not started",
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn breakdown(t: &Timings) -> String {
    format!(
        "build {}, deliver {}, rollout {}",
        seconds(t.build),
        seconds(t.deliver),
        seconds(t.rollout)
    )
}

impl hoist_imager::Reporter for Printer {
    fn on_start(&self, what: &str, total: Option<u64>) -> TaskId {
        self.steps.on_start(what, total)
    }
    fn on_progress(&self, id: TaskId, done: u64) {
        self.steps.on_progress(id, done);
    }
    fn on_finish(&self, id: TaskId, outcome: &str) {
        self.steps.on_finish(id, outcome);
    }
}

impl rollout::Reporter for Printer {
    fn on_event(&self, event: &rollout::Event) {
        if self.json {
            emit(&json!({ "event": "rollout", "rollout": event }));
        } else {
            self.steps.on_event(event);
        }
    }
}

impl hoist_deploy::Reporter for Printer {
    fn on_step(&self, service: &str, step: Step, state: &StepState) {
        if self.json {
            emit(&json!({ "event": "step", "service": service, "step": step, "state": state }));
        } else {
            self.steps.on_step(service, step, state);
        }
    }
}

impl LogSink for Printer {
    fn on_line(&self, line: &LogLine) {
        if self.json {
            emit(&json!({ "event": "log", "line": line }));
            return;
        }
        let prefix = format!("{:<10}|", line.service);
        if self.colour {
            let index = line.service.bytes().map(usize::from).sum::<usize>() % COLOURS.len();
            out(&format!(
                "\x1b[{}m{prefix}\x1b[0m {}",
                COLOURS[index], line.line
            ));
        } else {
            out(&format!("{prefix} {}", line.line));
        }
    }
}

impl DevReporter for Printer {
    fn on_dev(&self, event: &DevEvent) {
        if self.json {
            emit(&serde_json::to_value(event).unwrap_or_default());
        } else {
            let text = self.human(event);
            if !text.is_empty() {
                out(&text);
            }
        }
    }
}
