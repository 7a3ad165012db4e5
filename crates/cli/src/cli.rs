//! The command-line surface: clap types only, no behaviour.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// hoist: from a multi-service app's source to a healthy deployment on local
/// Kubernetes (Minikube, kind, k3d, Docker Desktop) in one command.
#[derive(Debug, Parser)]
#[command(name = "hoist", version, about, after_long_help = crate::exit::HELP, after_help = crate::exit::HELP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The stack file; by default `hoist.toml` in this directory or the nearest parent.
    #[arg(short = 'f', long = "file", global = true, value_name = "PATH")]
    pub(crate) file: Option<PathBuf>,
    /// The profile (local, production, ...) whose overrides apply.
    #[arg(long, global = true, value_name = "NAME", env = "HOIST_PROFILE")]
    pub(crate) profile: Option<String>,
    /// Print machine-readable JSON on stdout instead of human output.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check the prerequisites: Docker, the cluster, Minikube, Helm, kubectl.
    Doctor(DoctorArgs),
    /// Build the services' images without a Docker daemon (OCI layout + docker-archive).
    Build(BuildArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Show how each service's variables map to its `ConfigMap` and Secret.
    Config(ConfigArgs),
    /// Print the Kubernetes objects hoist would apply, as YAML.
    Render(RenderArgs),
    /// Deliver a built image to the cluster: load it into the node's Docker
    /// daemon or containerd, or push it to a registry, sending only what the
    /// target lacks, and print the by-digest reference to run it by.
    ///
    /// The image is given as files for now (`--layout`, `--archive`,
    /// `--name`); `hoist build` will hand its images over directly.
    Load(LoadArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The kube context to check instead of the kubeconfig's current one.
    #[arg(long, value_name = "NAME")]
    pub(crate) context: Option<String>,
    /// Seconds a Docker daemon or API server gets to answer before it counts as down.
    #[arg(long, value_name = "SECONDS", default_value_t = 3)]
    pub(crate) timeout: u64,
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The services to build (default: every service with an image table).
    #[arg(value_name = "SERVICE")]
    pub(crate) services: Vec<String>,
    /// Pack every layer and run every prepare step again.
    #[arg(long)]
    pub(crate) no_cache: bool,
    /// The build cache (default `$XDG_CACHE_HOME/hoist` or `~/.cache/hoist`).
    #[arg(long, value_name = "DIR", env = "HOIST_CACHE_DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// Where variables come from besides `.env` and `.env.<profile>`.
#[derive(Debug, Args)]
pub(crate) struct EnvFileArgs {
    /// An extra `.env` file: above `.env` and `.env.<profile>`, below the
    /// process environment. Repeatable; later files win.
    #[arg(long = "env-file", value_name = "PATH")]
    pub(crate) env_files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// Lint `.env.example` instead: every variable the stack uses must be
    /// documented there, and nothing in it may look like a real secret.
    #[arg(long)]
    pub(crate) lint: bool,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// Which objects to render. Only `config` (each service's `ConfigMap` and
    /// Secret) is rendered so far; the charts' objects are not yet.
    #[arg(long, value_enum, value_name = "KIND")]
    pub(crate) only: RenderKind,
    /// Print Secret values (base64, as applied) instead of `<redacted>`.
    #[arg(long)]
    pub(crate) show_secrets: bool,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
}

/// The kinds of objects `render --only` accepts.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum RenderKind {
    /// `ConfigMaps` and Secrets.
    Config,
}

/// Where `hoist load` delivers images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LoadTarget {
    /// The Docker daemon `DOCKER_HOST` names (the Docker CLI's own settings).
    Docker,
    /// The kube context's Minikube profile: its Docker daemon, its node's
    /// containerd, or `minikube image load` as a last resort.
    Minikube,
    /// containerd in a kind cluster's control-plane node container.
    Kind,
    /// containerd in a k3d cluster's first server node container.
    K3d,
    /// An OCI registry (`--registry`).
    Registry,
}

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// The image's OCI layout directory (as `hoist build` writes it).
    #[arg(long, value_name = "DIR")]
    pub(crate) layout: PathBuf,
    /// The same image as a docker-archive tar.
    #[arg(long, value_name = "FILE")]
    pub(crate) archive: PathBuf,
    /// The image's repository name, e.g. `todo/backend`.
    #[arg(long, value_name = "NAME")]
    pub(crate) name: String,
    /// Where to deliver; by default, what the kube context points at
    /// (detected by probing; see `hoist doctor`).
    #[arg(long, value_enum)]
    pub(crate) target: Option<LoadTarget>,
    /// The kube context to detect the target from, instead of the current one.
    #[arg(long, value_name = "NAME")]
    pub(crate) context: Option<String>,
    /// The kind or k3d cluster name (default: `kind`, or `k3s-default` for k3d).
    #[arg(long, value_name = "NAME")]
    pub(crate) cluster: Option<String>,
    /// The registry and optional repository prefix, for `--target registry`.
    #[arg(
        long,
        value_name = "HOST[/PREFIX]",
        required_if_eq("target", "registry")
    )]
    pub(crate) registry: Option<String>,
    /// Talk to the registry over plain HTTP (only for registries you run yourself).
    #[arg(long)]
    pub(crate) insecure_registry: bool,
    /// The registry user; the password is read from `HOIST_REGISTRY_PASSWORD`.
    #[arg(long, value_name = "USER", env = "HOIST_REGISTRY_USER")]
    pub(crate) registry_user: Option<String>,
}
