//! `hoist render --only config`: each service's `ConfigMap` and Secret as
//! YAML (or a JSON `List` with `--json`), Secret values redacted unless
//! `--show-secrets`.

use std::process::ExitCode;

use crate::cli::{Global, RenderArgs, RenderKind};

pub(crate) fn run(global: &Global, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let RenderKind::Config = args.only;
    let stack = match crate::stack::load(global) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let mapping = match crate::stack::mapping(&stack, &args.env) {
        Ok(mapping) => mapping,
        Err(code) => return Ok(code),
    };
    let mut objects = Vec::new();
    for name in stack.rollout_levels().into_iter().flatten() {
        let Some(env) = mapping.services.get(&name) else {
            continue;
        };
        objects.push(serde_json::to_value(env.config_map())?);
        let secret = if args.show_secrets {
            env.secret()
        } else {
            env.redacted_secret()
        };
        objects.push(serde_json::to_value(secret)?);
    }
    if global.json {
        let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": objects });
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for object in &objects {
            print!("---\n{}", serde_yaml::to_string(object)?);
        }
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}
