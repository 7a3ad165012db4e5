//! Running external commands with their command line echoed and timed.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

/// The workspace root (the parent of this crate's directory).
pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
}

/// Runs `command`, echoing it first, and fails naming it when it exits non-zero.
pub(crate) fn run(command: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}");
    println!("$ {shown}");
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("failed to start {shown}"))?;
    if !status.success() {
        bail!(
            "{shown} failed ({status}) after {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
