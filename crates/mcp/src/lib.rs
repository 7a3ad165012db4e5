//! `hoist mcp`: hoist as a Model Context Protocol server on stdio, so an
//! MCP client (kubectl-ai, kagent, an editor's assistant) asks hoist about
//! the stack instead of scraping kubectl output.
//!
//! The protocol is the official Rust SDK's (`rmcp`); this crate only maps
//! its tool calls onto hoist-deploy's entry points and returns their JSON,
//! the same documents the CLI's `--json` prints:
//!
//! | tool | arguments | hoist-deploy | like |
//! |---|---|---|---|
//! | `status` | `services?` | [`hoist_deploy::status`] | `hoist status --json` |
//! | `findings` | none | [`hoist_deploy::doctor`] | the workload part of `hoist doctor --json` |
//! | `logs` | `service`, `tail?` (default 100) | [`hoist_deploy::logs`] | `hoist logs SERVICE --tail N --json` |
//! | `render` | `service?` | [`hoist_deploy::render`] | `hoist render --json` |
//! | `up` | `services?` | [`hoist_deploy::up`] | `hoist up --json` |
//! | `rollback` | `service?`, `to?` | [`hoist_deploy::rollback`] | `hoist rollback --json` |
//!
//! Choices where the issue is silent:
//! - `up` and `rollback` are listed only when the server was started with
//!   `allow_deploy` (`hoist mcp --allow-deploy`); without it, calling them
//!   is a protocol error (invalid request) whose message says to restart
//!   with `--allow-deploy`, so the client never sees a tool it cannot use.
//! - The stack file is read again on every call (the client may stay
//!   connected while the developer edits `hoist.toml`); the CLI reads it
//!   once before serving, so a missing file fails at start.
//! - A hoist error (no cluster, an unknown service) is a tool result with
//!   `isError` and the error's text, cause chain included, as MCP asks for
//!   tool failures; only the protocol's own problems are protocol errors.
//! - Secrets: `render` never shows Secret values (no `--show-secrets`
//!   here), `logs` masks the stack's secret values as `hoist logs` does,
//!   and the findings are masked by the doctor itself.
//! - `logs` never follows: it returns the last `tail` lines of each
//!   container, as one JSON document.
//! - The tools speak to the Kubernetes cluster; a stack on the Docker
//!   engine (`--engine docker`) is not served here.
//! - `up` rolls a failed tier back (no `--no-rollback` here) and takes the
//!   registry and build cache the server was started with (`hoist mcp
//!   --allow-deploy --registry ...`, as for `hoist up`); its progress goes
//!   nowhere: stdout carries the protocol only.

#![deny(missing_docs)]

mod tools;

use std::sync::Arc;

use hoist_config::{EnvInputs, Stack};
use hoist_deploy::{BuildSettings, ClusterOptions};
use rmcp::ServiceExt as _;

pub use tools::{DEPLOY_REFUSED, Server};

/// Reads the stack file, as the CLI's global flags name it.
pub type StackLoader = Arc<dyn Fn() -> Result<Stack, hoist_config::Error> + Send + Sync>;

/// What the server works on.
#[derive(Clone)]
pub struct Options {
    /// Reads the stack file; called on every tool call.
    pub stack: StackLoader,
    /// Where the stack's variables come from (`.env`, the process
    /// environment), for the Secrets and for masking.
    pub env: EnvInputs,
    /// Which cluster (and, for `up`, the registry images go through).
    pub cluster: ClusterOptions,
    /// How `up` builds the images.
    pub build: BuildSettings,
    /// Whether `up` and `rollback` are offered.
    pub allow_deploy: bool,
}

/// What can stop the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client went away before the handshake finished, or the
    /// transport failed.
    #[error("the MCP session on stdio failed: {0}")]
    Session(String),
}

/// Serves the tools on stdin/stdout until the client closes the session.
///
/// # Errors
///
/// [`Error::Session`] when the handshake or the transport fails.
pub async fn serve_stdio(options: Options) -> Result<(), Error> {
    let service = Box::pin(Server::new(options).serve(rmcp::transport::stdio()))
        .await
        .map_err(|e| Error::Session(e.to_string()))?;
    service
        .waiting()
        .await
        .map_err(|e| Error::Session(e.to_string()))?;
    Ok(())
}
