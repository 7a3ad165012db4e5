//! Helpers shared by hoist's cross-crate end-to-end tests.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
#[must_use]
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs `command` and returns its stdout.
///
/// # Panics
///
/// When it cannot start or exits non-zero; the message shows the command,
/// its status and both outputs.
#[allow(clippy::must_use_candidate)] // Commands are run for their effect as often as for their output.
pub fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("failed to start {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
