//! `hoist doctor`: prerequisite checks, then (with a stack file or
//! `--namespace`) the deployed stack's workload checks, rendered for
//! people or as JSON; `--explain` sends them to a model.
//!
//! Exit codes: 0 when every required check passed and no workload finding
//! is an error; 1 otherwise (or when the explanation failed); 2 for
//! `--explain` with no endpoint configured (nothing is sent) and for
//! unusable input.

use std::io::Write as _;
use std::process::ExitCode;

use hoist_cluster::doctor::{self, Report, Status};
use hoist_deploy::explain::{self, Endpoint, Explained};
use hoist_deploy::{DoctorOptions, DoctorOutcome};
use serde::Serialize;

use crate::cli::{ClusterArgs, DoctorArgs, Global};
use crate::deploy;

/// `--json`: the prerequisite report, with the workload checks and the
/// explanation when there are some.
#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    report: &'a Report,
    workloads: Option<&'a DoctorOutcome>,
    /// Why the workload checks did not run, when they did not.
    workloads_skipped: Option<String>,
    explanation: Option<&'a Explained>,
}

pub(crate) async fn run(global: &Global, args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let endpoint = Endpoint::from_vars(|v| std::env::var(v).ok(), args.model.clone());
    if args.explain && !args.dry_run && endpoint.is_none() {
        eprintln!(
            "error: --explain has no model endpoint: OPENAI_BASE_URL is not set, so nothing was sent. Fixes: set OPENAI_BASE_URL to an OpenAI-compatible API (e.g. http://127.0.0.1:11434/v1 for a local Ollama, https://api.openai.com/v1 with OPENAI_API_KEY), pick the model with OPENAI_MODEL or --model, or see what would be sent with --explain --dry-run"
        );
        return Ok(ExitCode::from(crate::exit::USAGE));
    }
    let options = doctor::Options {
        context: args.context.clone(),
        timeout: std::time::Duration::from_secs(args.timeout),
        ..doctor::Options::default()
    };
    let report = doctor::diagnose(&options).await;
    let (workloads, skipped) = match workloads(global, args, &report).await {
        Ok(Some(outcome)) => (Some(outcome), None),
        Ok(None) => (None, None),
        Err(Skip::Why(why)) => (None, Some(why)),
        Err(Skip::Exit(code)) => return Ok(code),
    };
    let failed = !report.ok || workloads.as_ref().is_some_and(|w| w.errors > 0);
    let code = |failed: bool| {
        ExitCode::from(if failed {
            crate::exit::FAILURE
        } else {
            crate::exit::SUCCESS
        })
    };
    if args.explain {
        let model = endpoint.as_ref().map_or_else(
            || {
                args.model
                    .clone()
                    .or_else(|| std::env::var("OPENAI_MODEL").ok().filter(|m| !m.is_empty()))
                    .unwrap_or_else(|| explain::DEFAULT_MODEL.to_owned())
            },
            |e| e.model.clone(),
        );
        let body = explain::request(&report, workloads.as_ref(), &model);
        if args.dry_run {
            eprint!(
                "{}",
                hoist_deploy::render_doctor(&report, workloads.as_ref(), skipped.as_deref())
            );
            println!("{body}");
            return Ok(code(failed));
        }
        let endpoint = endpoint.expect("checked above");
        if !global.json {
            print!(
                "{}",
                hoist_deploy::render_doctor(&report, workloads.as_ref(), skipped.as_deref())
            );
            println!(
                "\nexplanation from {} ({}):",
                endpoint.url(),
                endpoint.model
            );
        }
        let json = global.json;
        let mut sink = |text: &str| {
            if !json {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
        };
        return match explain::explain(&endpoint, body, &mut sink).await {
            Ok(explained) => {
                if json {
                    print_json(&report, workloads.as_ref(), skipped, Some(&explained))?;
                } else {
                    println!("\n\nanswered by model {}", explained.model);
                }
                Ok(code(failed))
            }
            Err(error) => {
                if json {
                    print_json(&report, workloads.as_ref(), skipped, None)?;
                }
                Ok(crate::exit::report(
                    &anyhow::Error::new(error).context("hoist doctor --explain got no answer"),
                    crate::exit::FAILURE,
                ))
            }
        };
    }
    if global.json {
        print_json(&report, workloads.as_ref(), skipped, None)?;
    } else {
        print!(
            "{}",
            hoist_deploy::render_doctor(&report, workloads.as_ref(), skipped.as_deref())
        );
    }
    Ok(code(failed))
}

fn print_json(
    report: &Report,
    workloads: Option<&DoctorOutcome>,
    skipped: Option<String>,
    explanation: Option<&Explained>,
) -> anyhow::Result<()> {
    let document = Document {
        report,
        workloads,
        workloads_skipped: skipped,
        explanation,
    };
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}

enum Skip {
    /// The checks did not run, for this reason (printed, not an error).
    Why(String),
    /// Stop with this code (the error was reported).
    Exit(ExitCode),
}

/// The workload checks, when there is a stack file or `--namespace`, and
/// the cluster answered.
async fn workloads(
    global: &Global,
    args: &DoctorArgs,
    report: &Report,
) -> Result<Option<DoctorOutcome>, Skip> {
    let stack = match crate::stack::read(global) {
        Ok(stack) => Some(stack),
        Err(hoist_config::Error::StackFileNotFound { .. }) if global.file.is_none() => None,
        Err(error) => {
            return Err(Skip::Exit(crate::stack::fail(
                error,
                "failed to load the stack file",
            )));
        }
    };
    if stack.is_none() && args.namespace.is_none() {
        return Ok(None);
    }
    if report
        .checks
        .iter()
        .any(|c| c.name == "cluster" && c.status != Status::Ok)
    {
        return Err(Skip::Why(
            "the cluster did not answer (see the cluster check)".to_owned(),
        ));
    }
    let options = DoctorOptions {
        namespace: args.namespace.clone(),
        env: deploy::env_inputs(&args.env),
        cluster: deploy::cluster(
            &ClusterArgs {
                context: args.context.clone(),
                timeout: args.timeout.max(5),
            },
            None,
        ),
    };
    match hoist_deploy::doctor(stack.as_ref(), &options).await {
        Ok(outcome) => Ok(Some(outcome)),
        Err(error) => Err(Skip::Exit(deploy::fail(
            error,
            "hoist doctor's workload checks failed",
        ))),
    }
}
