//! `hoist rollback [SERVICE] [--to REVISION]`: back to an earlier
//! revision, waiting for readiness and diagnosing a failure as `up` does.

use std::fmt::Write as _;
use std::process::ExitCode;

use hoist_deploy::RollbackOptions;

use crate::cli::{Global, RollbackArgs};
use crate::deploy;
use crate::steps::Steps;

pub(crate) async fn run(global: &Global, args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let stack = match deploy::stack(global) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let options = RollbackOptions {
        service: args.service.clone(),
        to: args.to,
        env: deploy::env_inputs(&args.env),
        cluster: deploy::cluster(&args.cluster, None),
    };
    let steps = Steps::new(global.json);
    let result = hoist_deploy::rollback(&stack, &options, &steps).await;
    steps.finish();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => return Ok(deploy::fail(error, "hoist rollback failed")),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        let mut out = String::new();
        for run in &outcome.rollbacks {
            out.push_str(&super::up::findings(&run.findings));
            if let Some(report) = &run.report {
                let _ = writeln!(out, "report: {}", report.display());
            }
            for service in &run.services {
                let _ = writeln!(
                    out,
                    "{}: revision {}, {}/{} ready, {} restarts",
                    service.service,
                    service
                        .revision
                        .map_or_else(|| "-".to_owned(), |r| r.to_string()),
                    service.ready,
                    service.desired,
                    service.restarts
                );
            }
        }
        for service in &outcome.unchanged {
            let _ = writeln!(out, "{service}: no earlier revision, left as it is");
        }
        print!("{out}");
    }
    Ok(ExitCode::from(if outcome.succeeded {
        crate::exit::SUCCESS
    } else {
        crate::exit::FAILURE
    }))
}
