//! The `fuzz` suite: each of hoist-config's cargo-fuzz targets for a bounded
//! time (`HOIST_FUZZ_SECONDS`, default 60 per target).
//!
//! The corpus grows under `target/fuzz/corpus/<target>` from run to run,
//! seeded from the committed `crates/config/fuzz/seeds/<target>`. A failing
//! input lands in `crates/config/fuzz/artifacts/<target>` and fails the suite
//! with the command that reproduces it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{Context, bail};

use crate::cmd::{self, root};

/// The targets in `crates/config/fuzz/fuzz_targets`.
const TARGETS: &[&str] = &["dotenv", "stack"];
/// Overrides [`DEFAULT_SECONDS`].
const SECONDS_VAR: &str = "HOIST_FUZZ_SECONDS";
const DEFAULT_SECONDS: u64 = 60;
/// One input taking this long is a hang worth reporting; libFuzzer's own
/// default (20 minutes) would outlast the whole run.
const INPUT_TIMEOUT_SECONDS: u64 = 10;
/// Relative to the workspace root, so the paths in messages are short.
const FUZZ_DIR: &str = "crates/config/fuzz";

/// How cargo-fuzz gets a compiler that takes its unstable flags
/// (`-Zsanitizer=address`).
#[derive(Clone, Copy)]
enum Toolchain {
    /// rustup's nightly toolchain.
    Nightly,
    /// The default toolchain with `RUSTC_BOOTSTRAP=1`, which lets a stable
    /// rustc take the same flags; for machines without nightly.
    Bootstrap,
}

impl Toolchain {
    fn find() -> Self {
        let nightly = Command::new("rustup")
            .args(["which", "--toolchain", "nightly", "cargo"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if nightly {
            Self::Nightly
        } else {
            Self::Bootstrap
        }
    }

    /// The command as a reader would type it.
    fn shown(self) -> &'static str {
        match self {
            Self::Nightly => "cargo +nightly fuzz",
            Self::Bootstrap => "RUSTC_BOOTSTRAP=1 cargo fuzz",
        }
    }

    /// `cargo fuzz` on this toolchain, from the workspace root. Through
    /// rustup's `cargo` on PATH: `$CARGO` is a toolchain's own binary,
    /// which takes no `+nightly`.
    fn cargo_fuzz(self) -> Command {
        let mut command = Command::new("cargo");
        command.current_dir(root());
        match self {
            Self::Nightly => command.arg("+nightly"),
            Self::Bootstrap => command.env("RUSTC_BOOTSTRAP", "1"),
        };
        command.arg("fuzz");
        command
    }
}

pub(crate) fn suite() -> anyhow::Result<()> {
    let seconds = seconds()?;
    let toolchain = Toolchain::find();
    let installed = toolchain
        .cargo_fuzz()
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        bail!("cargo-fuzz is not installed; install it with `cargo install --locked cargo-fuzz`");
    }
    println!("fuzz: {seconds}s per target with `{}`", toolchain.shown());
    // cargo-fuzz has no `--locked`: refuse a lock file that would change.
    cmd::run(
        Command::new("cargo")
            .current_dir(root())
            .args(["fetch", "--locked", "--manifest-path"])
            .arg(Path::new(FUZZ_DIR).join("Cargo.toml")),
    )?;
    for target in TARGETS {
        fuzz(toolchain, target, seconds)?;
    }
    Ok(())
}

fn seconds() -> anyhow::Result<u64> {
    let Ok(text) = std::env::var(SECONDS_VAR) else {
        return Ok(DEFAULT_SECONDS);
    };
    match text.parse() {
        // libFuzzer reads 0 as no limit at all.
        Ok(seconds) if seconds > 0 => Ok(seconds),
        _ => bail!("{SECONDS_VAR} must be a whole number of seconds above 0, not `{text}`"),
    }
}

fn fuzz(toolchain: Toolchain, target: &str, seconds: u64) -> anyhow::Result<()> {
    let corpus = root().join("target/fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus)
        .with_context(|| format!("failed to create {}", corpus.display()))?;
    let seeds = Path::new(FUZZ_DIR).join("seeds").join(target);
    let started = SystemTime::now();
    let mut command = toolchain.cargo_fuzz();
    command
        .args(["run", "--fuzz-dir", FUZZ_DIR, target])
        // libFuzzer writes new inputs to the first directory and only reads
        // the others, so the committed seeds stay as they are.
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        // A line per new input is thousands of lines a run; the totals at
        // the end and any failure's report still print.
        .args(["-verbosity=0", "-print_funcs=0", "-print_final_stats=1"]);
    let Err(error) = cmd::run(&mut command) else {
        return Ok(());
    };
    let found = artifacts_since(target, started)?;
    if found.is_empty() {
        // Not a finding: the build or libFuzzer itself failed.
        return Err(error);
    }
    let found: Vec<String> = found
        .iter()
        .map(|artifact| {
            let artifact = artifact.display();
            format!(
                "{artifact} (reproduce with `{} run --fuzz-dir {FUZZ_DIR} {target} {artifact}`)",
                toolchain.shown()
            )
        })
        .collect();
    bail!("fuzz target {target} failed on {}", found.join("; "))
}

/// The inputs libFuzzer saved (crash, timeout, leak, out of memory) since
/// `started`, relative to the workspace root.
fn artifacts_since(target: &str, started: SystemTime) -> anyhow::Result<Vec<PathBuf>> {
    let dir = Path::new(FUZZ_DIR).join("artifacts").join(target);
    let Ok(entries) = std::fs::read_dir(root().join(&dir)) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to read {}", dir.display()))?;
        let modified = entry.metadata().and_then(|meta| meta.modified());
        if modified.is_ok_and(|modified| modified >= started) {
            found.push(dir.join(entry.file_name()));
        }
    }
    found.sort();
    Ok(found)
}
