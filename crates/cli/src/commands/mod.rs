//! One module per subcommand; each calls one library entry point and renders
//! the result.

mod build;
mod completions;
mod config;
mod dev;
mod doctor;
mod down;
mod engine;
mod load;
mod logs;
mod mcp;
mod render;
mod rollback;
mod status;
mod up;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the parsed command line and returns the process exit code.
pub(crate) fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            return crate::exit::report(
                &anyhow::Error::new(error).context("failed to start the async runtime"),
                crate::exit::FAILURE,
            );
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Doctor(args) => doctor::run(&cli.global, &args).await,
            Command::Completions(args) => Ok(completions::run(&args)),
            Command::Config(args) => config::run(&cli.global, &args),
            Command::Render(args) => render::run(&cli.global, &args).await,
            Command::Up(args) => up::run(&cli.global, &args).await,
            Command::Status(args) => status::run(&cli.global, &args).await,
            Command::Logs(args) => logs::run(&cli.global, &args).await,
            Command::Down(args) => down::run(&cli.global, &args).await,
            Command::Rollback(args) => rollback::run(&cli.global, &args).await,
            Command::Build(args) => build::run(&cli.global, &args),
            Command::Load(args) => load::run(&cli.global, &args).await,
            Command::Dev(args) => Box::pin(dev::run(&cli.global, &args)).await,
            Command::Mcp(args) => mcp::run(&cli.global, &args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => crate::exit::report(&error, crate::exit::FAILURE),
    }
}
