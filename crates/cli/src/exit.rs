//! Exit codes, documented in `hoist --help` and the README.

use std::process::ExitCode;

/// Everything asked for was done, or every required check passed.
pub(crate) const SUCCESS: u8 = 0;
/// The command ran and something failed (a check, a build, a rollout).
pub(crate) const FAILURE: u8 = 1;
/// The command line was wrong (clap's own usage errors use this code too).
#[allow(dead_code)] // clap exits with 2 itself; the constant documents it.
pub(crate) const USAGE: u8 = 2;

/// Interrupted (Ctrl-C, 128 + SIGINT as shells report it): what was in
/// progress finished or was rolled back, nothing after it started.
pub(crate) const INTERRUPTED: u8 = 130;

pub(crate) const HELP: &str = "\
Exit codes:
  0    success: the work was done, or every required check passed
  1    failure: a check, build, load or rollout failed (the message says which and how to fix it)
  2    usage error: the command line or a named file could not be used
  130  interrupted (Ctrl-C): `up` finished or rolled back the tier in progress and started nothing after it";

/// Prints an error with its causes, the way every subcommand reports failure.
pub(crate) fn report(error: &anyhow::Error, code: u8) -> ExitCode {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    ExitCode::from(code)
}
