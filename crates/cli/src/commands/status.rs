//! `hoist status [SERVICE...]`: what the cluster runs, per service.

use std::fmt::Write as _;
use std::process::ExitCode;

use hoist_deploy::{StatusOptions, StatusOutcome};

use crate::cli::{Global, StatusArgs};
use crate::deploy;

pub(crate) async fn run(global: &Global, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let stack = match deploy::stack(global) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let options = StatusOptions {
        services: args.services.clone(),
        cluster: deploy::cluster(&args.cluster, None),
    };
    if super::engine::docker(&stack, &args.engine) {
        return super::engine::status(global, &stack, &options).await;
    }
    let outcome = match hoist_deploy::status(&stack, &options).await {
        Ok(outcome) => outcome,
        Err(error) => return Ok(deploy::fail(error, "hoist status failed")),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", human(&outcome));
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}

fn human(outcome: &StatusOutcome) -> String {
    let mut rows = vec![
        [
            "SERVICE", "REVISION", "STATUS", "IMAGE", "READY", "RESTARTS", "AGE", "URL",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    let dash = || "-".to_owned();
    for row in &outcome.services {
        let s = &row.status;
        rows.push(vec![
            s.service.clone(),
            s.revision.map_or_else(dash, |r| r.to_string()),
            s.status
                .clone()
                .unwrap_or_else(|| "not installed".to_owned()),
            if s.image.is_empty() {
                dash()
            } else {
                s.image
                    .iter()
                    .map(|i| short_image(i))
                    .collect::<Vec<_>>()
                    .join(",")
            },
            format!("{}/{}", s.ready, s.desired),
            s.restarts.to_string(),
            s.age.map_or_else(dash, deploy::age),
            row.access
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ]);
    }
    let mut out = deploy::columns(&rows);
    let _ = writeln!(
        out,
        "namespace {} on context {} ({})",
        outcome.namespace, outcome.context, outcome.target
    );
    out
}

/// `repo@sha256:<64 hex>` or `repo:tag` shortened to the digest's first 12 hex.
fn short_image(image: &str) -> String {
    match image.rsplit_once("sha256:") {
        Some((_, hex)) => hoist_deploy::images::short_digest(hex),
        None => image.to_owned(),
    }
}
