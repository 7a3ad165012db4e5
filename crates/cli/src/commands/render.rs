//! `hoist render [SERVICE...]`: everything `up` would apply, as YAML (or a
//! JSON `List` with `--json`): each service's `ConfigMap` and Secret, then
//! its chart rendered through `helm template` with hoist's values. Secret
//! values are redacted unless `--show-secrets`.

use std::process::ExitCode;

use hoist_deploy::{RenderOnly, RenderOptions};

use crate::cli::{Global, RenderArgs, RenderKind};
use crate::deploy;

pub(crate) async fn run(global: &Global, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let stack = match crate::stack::load(global) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    // The configuration's own errors keep the exit codes `hoist config` uses.
    if let Err(code) = crate::stack::mapping(&stack, &args.env) {
        return Ok(code);
    }
    let options = RenderOptions {
        services: args.services.clone(),
        only: match args.only {
            None => RenderOnly::All,
            Some(RenderKind::Config) => RenderOnly::Config,
            Some(RenderKind::Charts) => RenderOnly::Charts,
        },
        show_secrets: args.show_secrets,
        env: deploy::env_inputs(&args.env),
        registry: deploy::registry_target(args.registry.as_deref(), false, None)?,
        environment: None,
    };
    let objects = match hoist_deploy::render(&stack, &options).await {
        Ok(objects) => objects,
        Err(error) => return Ok(deploy::fail(error, "hoist render failed")),
    };
    if global.json {
        let items: Vec<_> = objects.into_iter().map(|o| o.object).collect();
        let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items });
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for object in &objects {
            print!("---\n{}", serde_yaml::to_string(&object.object)?);
        }
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}
