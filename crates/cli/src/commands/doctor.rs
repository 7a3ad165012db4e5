//! `hoist doctor`: prerequisite checks, rendered for people or as JSON.

use std::process::ExitCode;

use hoist_cluster::doctor::{self, Report, Status};

use crate::cli::{DoctorArgs, Global};

pub(crate) async fn run(global: &Global, args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let options = doctor::Options {
        context: args.context.clone(),
        timeout: std::time::Duration::from_secs(args.timeout),
        ..doctor::Options::default()
    };
    let report = doctor::diagnose(&options).await;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(ExitCode::from(if report.ok {
        crate::exit::SUCCESS
    } else {
        crate::exit::FAILURE
    }))
}

fn render(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for check in &report.checks {
        let mark = match (check.status, check.required) {
            (Status::Ok, _) => "ok  ",
            (Status::Failed, true) => "FAIL",
            (Status::Failed, false) => "warn",
            (Status::Skipped, _) => "--  ",
        };
        let _ = writeln!(out, "{mark} {:<10} {}", check.name, check.summary);
        if let (Status::Failed, Some(fix)) = (check.status, &check.fix) {
            let _ = writeln!(out, "     {:<10} fix: {fix}", "");
        }
    }
    let verdict = if report.ok {
        "ready: every required check passed"
    } else {
        "not ready: fix the FAIL lines above"
    };
    let _ = writeln!(out, "{verdict}");
    out
}
