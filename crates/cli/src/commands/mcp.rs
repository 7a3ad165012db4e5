//! `hoist mcp [--allow-deploy]`: hoist-mcp's server on stdio, over the
//! stack file the global flags name (read again on every tool call).
//!
//! Stdout carries the protocol only; errors before the session go to
//! stderr with the usual exit codes.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{Global, McpArgs};
use crate::deploy;

pub(crate) async fn run(global: &Global, args: &McpArgs) -> anyhow::Result<ExitCode> {
    // A missing or invalid stack file fails here, before the session.
    if let Err(code) = deploy::stack(global) {
        return Ok(code);
    }
    let files = global.clone();
    let options = hoist_mcp::Options {
        stack: Arc::new(move || crate::stack::read(&files)),
        env: deploy::env_inputs(&args.env),
        cluster: deploy::cluster(&args.cluster, deploy::registry(&args.registry)?),
        build: hoist_deploy::BuildSettings {
            cache_dir: args.cache_dir.clone(),
            no_cache: false,
        },
        allow_deploy: args.allow_deploy,
    };
    hoist_mcp::serve_stdio(options).await?;
    Ok(ExitCode::from(crate::exit::SUCCESS))
}
