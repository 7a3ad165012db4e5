//! `cargo xtask k8s`: a real single-node Kubernetes 1.20 for the end-to-end
//! suites, built from Debian's `kubernetes` source package.
//!
//! The work is done by the shell scripts in `xtask/k8s/` (they drive apt,
//! openssl, iptables and a dozen daemons, which shell says most plainly);
//! this module is their entry point. docs/TEST-CLUSTER.md describes the
//! cluster, its limits and what CI runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;

use crate::cmd;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: K8sCommand,
}

/// The kubelet's container runtime.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Runtime {
    /// containerd's CRI plugin; images come from the registry or `import`.
    Containerd,
    /// dockershim on a Docker daemon of the node's own (as Minikube's node
    /// has); images loaded into that daemon run as they are.
    Docker,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Self::Containerd => "containerd",
            Self::Docker => "docker",
        }
    }
}

#[derive(Debug, clap::Subcommand)]
enum K8sCommand {
    /// Build (once per source version) and start the cluster; quick when it is up.
    Up {
        /// The kubelet's runtime; a cluster running on the other one must be
        /// stopped with `down` first.
        #[arg(long, value_enum, default_value_t = Runtime::Containerd)]
        runtime: Runtime,
    },
    /// Stop the cluster and undo every host change it made.
    Down,
    /// Show components, node readiness and the kubeconfig path; fails unless up.
    Status,
    /// Print `export` lines for the end-to-end suites: HOIST_E2E_KUBECONFIG,
    /// and HOIST_E2E_DOCKER_HOST (the node's daemon) in docker mode.
    Env,
    /// Import an image archive into the kubelet's runtime: a docker-archive or
    /// OCI-layout tar into containerd, a docker-archive into the node's dockerd.
    Import {
        /// The image archive.
        archive: PathBuf,
        /// Repository for an OCI archive whose index names images by tag only
        /// (`org.opencontainers.image.ref.name=TAG` becomes `BASE_NAME:TAG`).
        #[arg(long)]
        base_name: Option<String>,
    },
    /// Fail, listing them, if processes, mounts, network namespaces, routes,
    /// iptables rules or cgroups of the cluster remain (run after `down`).
    CheckClean,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    if !Path::new("/proc/self/ns/net").exists() {
        bail!("the test cluster needs Linux");
    }
    match &args.command {
        K8sCommand::Up { runtime } => script("up.sh", &["--runtime", runtime.name()]),
        K8sCommand::Env => {
            // Not echoed like the others: the output is for `eval`.
            let status = Command::new("bash")
                .arg(cmd::root().join("xtask/k8s/env.sh"))
                .status()?;
            if !status.success() {
                bail!("xtask/k8s/env.sh failed ({status})");
            }
            Ok(())
        }
        K8sCommand::Down => script("down.sh", &[]),
        K8sCommand::Status => script("status.sh", &[]),
        K8sCommand::CheckClean => script("check-clean.sh", &[]),
        K8sCommand::Import { archive, base_name } => {
            let archive = archive.to_string_lossy().into_owned();
            let mut script_args = vec![archive.as_str()];
            script_args.extend(base_name.as_deref());
            script("import.sh", &script_args)
        }
    }
}

fn script(name: &str, args: &[&str]) -> anyhow::Result<()> {
    let path = cmd::root().join("xtask/k8s").join(name);
    cmd::run(Command::new("bash").arg(path).args(args))
}
