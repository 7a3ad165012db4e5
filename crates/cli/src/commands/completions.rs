//! `hoist completions SHELL`: shell completion scripts.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub(crate) fn run(args: &CompletionsArgs) -> ExitCode {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "hoist",
        &mut std::io::stdout(),
    );
    ExitCode::SUCCESS
}
