//! `hoist down [SERVICE...] [--volumes]`: releases removed, dependents first.

use std::process::ExitCode;

use hoist_deploy::DownOptions;

use crate::cli::{DownArgs, Global};
use crate::deploy;
use crate::steps::Steps;

pub(crate) async fn run(global: &Global, args: &DownArgs) -> anyhow::Result<ExitCode> {
    let stack = match deploy::stack(global) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let options = DownOptions {
        services: args.services.clone(),
        volumes: args.volumes,
        env: deploy::env_inputs(&args.env),
        cluster: deploy::cluster(&args.cluster, None),
    };
    if super::engine::docker(&stack, &args.engine) {
        return super::engine::down(global, &stack, &options).await;
    }
    let steps = Steps::new(global.json);
    let result = hoist_deploy::down(&stack, &options, &steps).await;
    steps.finish();
    let removed = match result {
        Ok(removed) => removed,
        Err(error) => return Ok(deploy::fail(error, "hoist down failed")),
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&removed)?);
    } else {
        let list = |items: &[String]| {
            if items.is_empty() {
                "none".to_owned()
            } else {
                items.join(", ")
            }
        };
        println!("releases removed: {}", list(&removed.releases));
        println!("config objects removed: {}", list(&removed.config));
        if args.volumes {
            println!("volumes removed: {}", list(&removed.volumes));
        } else {
            println!(
                "volumes kept, with their services' config objects: {} (remove them with `hoist down --volumes`)",
                list(&removed.kept)
            );
        }
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}
