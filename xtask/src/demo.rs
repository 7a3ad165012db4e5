//! `cargo xtask demo`: the main job on a bare Debian bookworm machine, as
//! root, in one command. It installs and starts what hoist needs the way CI
//! does (`.ci/setup.sh`, which also seeds CI's Docker Hub mirror with
//! Debian-built stand-ins of the app's public bases, as this machine reaches
//! no Docker Hub), starts the test cluster (`cargo xtask k8s up`,
//! by default with its kubelet on a Docker daemon of the node's own, as
//! Minikube's default runtime has it), writes `examples/todo-chatbot/.env`
//! with generated secrets when there is none, and runs `hoist up` on the
//! reference app, which prints the URL to open. `cargo xtask demo down`
//! runs `hoist down --volumes` and stops the cluster.
//!
//! On a machine with Minikube (or kind, k3d, Docker Desktop) none of this
//! is needed: `hoist up -f examples/todo-chatbot/hoist.toml` is the command.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::cmd;

/// The test cluster's state directory (see docs/TEST-CLUSTER.md).
const K8S_STATE: &str = "/var/lib/hoist-k8s";
/// Where `.ci/tools.sh` puts helm and kubectl.
const TOOLS_BIN: &str = "/opt/hoist-tools/bin";
/// Where `.ci/services.sh` writes the variables that locate CI's services.
const CI_ENV: &str = "/var/lib/hoist-ci/env";
/// The CI's anonymous registry (`.ci/services.sh`), for a containerd node.
const REGISTRY: &str = "127.0.0.1:5000/hoist-demo";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Option<DemoCommand>,
    /// The test cluster's kubelet runtime when the demo starts it: `docker`
    /// (images load into the node's daemon) or `containerd` (images go
    /// through the local registry). A running cluster is used as it is.
    #[arg(long, value_name = "RUNTIME", default_value = "docker")]
    runtime: String,
}

#[derive(Debug, clap::Subcommand)]
enum DemoCommand {
    /// Set up and deploy (the default).
    Up,
    /// Remove the deployment with its volumes and stop the test cluster.
    Down,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    match args.command {
        None | Some(DemoCommand::Up) => up(&args.runtime),
        Some(DemoCommand::Down) => down(),
    }
}

fn up(runtime: &str) -> anyhow::Result<()> {
    if !matches!(runtime, "docker" | "containerd") {
        bail!("--runtime {runtime}: expected `docker` or `containerd`");
    }
    cmd::run(
        Command::new("bash")
            .arg(cmd::root().join(".ci/setup.sh"))
            .arg("--with-k8s"),
    )?;
    let runtime = if let Some(running) = running_runtime() {
        println!("the test cluster is already running on {running}; using it");
        running
    } else {
        cmd::run(xtask().args(["k8s", "up", "--runtime", runtime]))?;
        runtime.to_owned()
    };
    crate::mirror::check_app_bases(Some(&ci_mirrors()?))?;
    let app = cmd::root().join("examples/todo-chatbot");
    write_env(&app.join(".env"))?;
    let mut up = hoist(&runtime)?;
    up.args(["up", "--profile", "local"]);
    if runtime == "containerd" {
        up.args(["--registry", REGISTRY, "--insecure-registry"]);
    }
    cmd::run(&mut up)?;
    println!("\nremove it all again with `cargo xtask demo down`");
    Ok(())
}

fn down() -> anyhow::Result<()> {
    if let Some(runtime) = running_runtime() {
        cmd::run(hoist(&runtime)?.args(["down", "--volumes"]))?;
        cmd::run(xtask().args(["k8s", "down"]))?;
    } else {
        println!("the test cluster is not running; nothing to remove");
    }
    Ok(())
}

/// `hoist` run on the reference app against the test cluster, with the
/// tools the set-up installed and its Docker Hub mirror, which serves the
/// app's public bases (Debian-built stand-ins) on a machine without Docker
/// Hub. The dev profile, not release: it shares its build with `cargo xtask
/// test`'s and skips release optimisation, while the work that takes time
/// (hashing, compression) is optimised in the dev profile too (the
/// workspace Cargo.toml).
fn hoist(runtime: &str) -> anyhow::Result<Command> {
    let mut command = Command::new("cargo");
    command
        .current_dir(cmd::root())
        .args(["run", "--quiet", "-p", "hoist", "--"])
        .arg("--file")
        .arg(cmd::root().join("examples/todo-chatbot/hoist.toml"))
        .env("KUBECONFIG", Path::new(K8S_STATE).join("kubeconfig"))
        .env(hoist_testkit::mirror::MIRRORS.var, ci_mirrors()?)
        .env(
            "PATH",
            format!("{TOOLS_BIN}:{}", std::env::var("PATH").unwrap_or_default()),
        );
    if runtime == "docker" {
        // The node's own daemon, as `eval $(minikube docker-env)` gives it.
        let host = std::fs::read_to_string(Path::new(K8S_STATE).join("docker-host"))
            .context("the docker-mode test cluster wrote no docker-host file")?;
        command.env("DOCKER_HOST", host.trim());
    }
    Ok(command)
}

/// `HOIST_REGISTRY_MIRRORS` as `.ci/services.sh` wrote it: the mirror that
/// `.ci/setup.sh` seeded.
fn ci_mirrors() -> anyhow::Result<String> {
    let var = hoist_testkit::mirror::MIRRORS.var;
    let text = std::fs::read_to_string(CI_ENV)
        .with_context(|| format!("failed to read {CI_ENV}, which .ci/setup.sh writes"))?;
    text.lines()
        .find_map(|line| {
            line.strip_prefix(&format!("export {var}="))
                .map(str::to_owned)
        })
        .with_context(|| format!("{CI_ENV} sets no {var}; run .ci/setup.sh again"))
}

/// The runtime of the running test cluster, if it is running.
fn running_runtime() -> Option<String> {
    let status = xtask()
        .args(["k8s", "status"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let runtime = std::fs::read_to_string(Path::new(K8S_STATE).join("runtime")).ok()?;
    Some(runtime.trim().to_owned())
}

/// `cargo xtask`, not this executable: `.ci/setup.sh` runs `cargo xtask
/// bases`, which may rebuild (and so replace) the running binary.
fn xtask() -> Command {
    let mut command = Command::new("cargo");
    command.current_dir(cmd::root()).arg("xtask");
    command
}

/// Writes a `.env` for the reference app with fresh random secrets, unless
/// one exists (the user's own values are never replaced). Nothing of it is
/// printed.
fn write_env(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        println!("using the existing {}", path.display());
        return Ok(());
    }
    let password = random_hex(16)?;
    let jwt = random_hex(32)?;
    let mut env = String::from("# Written by `cargo xtask demo` with random values.\n");
    writeln!(env, "POSTGRES_PASSWORD={password}")?;
    writeln!(
        env,
        "DATABASE_URL=postgresql://todo:{password}@todo-chatbot-database:5432/todo"
    )?;
    writeln!(env, "JWT_SECRET={jwt}")?;
    std::fs::write(path, env).with_context(|| format!("failed to write {}", path.display()))?;
    println!("wrote {} with generated secrets", path.display());
    Ok(())
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut buffer))
        .context("failed to read /dev/urandom")?;
    Ok(buffer.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    }))
}
