//! `cargo xtask test`: every suite in order, with a pass/fail line per suite.

use std::process::Command;
use std::time::Instant;

use crate::cmd::{self, root};
use crate::fuzz;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run only the suites whose name contains this text.
    #[arg(long)]
    only: Option<String>,
    /// Go on after a failing suite and report all failures at the end.
    #[arg(long)]
    keep_going: bool,
}

type Suite = (&'static str, fn() -> anyhow::Result<()>);

/// The suites, in the order they run: cheap static checks first.
const SUITES: &[Suite] = &[
    ("fmt", fmt),
    ("clippy", clippy),
    ("rust", rust),
    // After the Rust suite, which has built the `hoist` binary it runs.
    ("env-example", env_example),
    ("app", app),
    // Last: it takes a fixed time by design and is the only suite that needs
    // cargo-fuzz, so every other suite has reported before it runs.
    ("fuzz", fuzz::suite),
];

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

fn fmt() -> anyhow::Result<()> {
    cmd::run(cargo().args(["fmt", "--all", "--", "--check"]))
}

fn clippy() -> anyhow::Result<()> {
    cmd::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))
}

/// The reference app's `.env.example` documents every variable its stack
/// uses and holds nothing that looks like a real secret.
fn env_example() -> anyhow::Result<()> {
    cmd::run(
        cargo()
            .args([
                "run", "--quiet", "--locked", "-p", "hoist", "--", "config", "--lint", "-f",
            ])
            .arg(root().join("examples/todo-chatbot/hoist.toml")),
    )
}

/// The reference app's own suites: pytest against PostgreSQL, the Next.js
/// build, and the Chromium browser test.
fn app() -> anyhow::Result<()> {
    let scripts = root().join("examples/todo-chatbot/scripts");
    cmd::run(Command::new("bash").arg(scripts.join("setup.sh")))?;
    cmd::run(Command::new("bash").arg(scripts.join("test.sh")))
}

fn rust() -> anyhow::Result<()> {
    cmd::run(cargo().args([
        "nextest",
        "run",
        "--workspace",
        "--locked",
        "--no-fail-fast",
    ]))?;
    cmd::run(cargo().args(["test", "--workspace", "--locked", "--doc"]))
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    let mut passed = 0usize;
    for (name, suite) in SUITES
        .iter()
        .filter(|(name, _)| args.only.as_deref().is_none_or(|only| name.contains(only)))
    {
        println!("==> suite {name}");
        let started = Instant::now();
        match suite() {
            Ok(()) => {
                passed += 1;
                println!(
                    "==> suite {name} passed in {:.1}s",
                    started.elapsed().as_secs_f64()
                );
            }
            Err(error) => {
                println!(
                    "==> suite {name} FAILED in {:.1}s: {error:#}",
                    started.elapsed().as_secs_f64()
                );
                failed.push(*name);
                if !args.keep_going {
                    break;
                }
            }
        }
    }
    println!("suites: {passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("failed suites: {}", failed.join(", "))
    }
}
