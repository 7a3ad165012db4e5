//! The `hoist` command line: parses arguments, calls one library entry point
//! per subcommand, renders the result, and maps failures to exit codes.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::exit)] // The CLI is where output and exit live.

mod cli;
mod commands;
mod deploy;
mod exit;
mod progress;
mod stack;
mod steps;

fn main() -> std::process::ExitCode {
    let cli = <cli::Cli as clap::Parser>::parse();
    commands::run(cli)
}
