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
#[derive(Debug, Clone, Args)]
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
    /// Build, deliver, configure and roll out the stack (or the named
    /// services and what they depend on), doing only what changed.
    Up(UpArgs),
    /// Per service: release revision, image, ready/desired, restarts, age, URL.
    Status(StatusArgs),
    /// The logs of every pod of a service (or of every service), prefixed
    /// with pod and container.
    Logs(LogsArgs),
    /// Remove the stack's releases in reverse dependency order; volumes are
    /// kept unless `--volumes`.
    Down(DownArgs),
    /// Roll a service back to its previous (or a given) revision, gated on
    /// readiness like `up`.
    Rollback(RollbackArgs),
    /// Check the prerequisites (Docker, the cluster, Minikube, Helm,
    /// kubectl), then the deployed stack's workloads: each problem with its
    /// tier, object, cause and fix.
    Doctor(DoctorArgs),
    /// Build the services' images without a Docker daemon (OCI layout + docker-archive).
    Build(BuildArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Show how each service's variables map to its `ConfigMap` and Secret.
    Config(ConfigArgs),
    /// Print everything `up` would apply, as YAML: each service's
    /// `ConfigMap` and Secret, and its chart rendered with hoist's values.
    Render(RenderArgs),
    /// Deliver a built image to the cluster: load it into the node's Docker
    /// daemon or containerd, or push it to a registry, sending only what the
    /// target lacks, and print the by-digest reference to run it by.
    ///
    /// The image is given as files for now (`--layout`, `--archive`,
    /// `--name`); `hoist build` will hand its images over directly.
    Load(LoadArgs),
    /// The inner loop: an `up`, then on every saved file rebuild and roll
    /// only the services it affects, with every service's logs and port
    /// forwards to 127.0.0.1 (the frontend by default). Ctrl-C leaves the
    /// deployment running unless `--cleanup`.
    Dev(DevArgs),
    // hoist mcp (issue 16).
    /// Serve hoist's status, findings, logs and rendered objects to an AI
    /// assistant as a Model Context Protocol server on stdio; `up` and
    /// `rollback` too with `--allow-deploy`.
    Mcp(McpArgs),
}

// hoist mcp (issue 16).
#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    /// Also offer the `up` and `rollback` tools, which change the cluster
    /// (without it the server only reads).
    #[arg(long)]
    pub(crate) allow_deploy: bool,
    /// The build cache for `up` (default `$XDG_CACHE_HOME/hoist` or `~/.cache/hoist`).
    #[arg(long, value_name = "DIR", env = "HOIST_CACHE_DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    /// Where `up` sends the images, as for `hoist up`.
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The kube context to check instead of the kubeconfig's current one.
    #[arg(long, value_name = "NAME")]
    pub(crate) context: Option<String>,
    /// Seconds a Docker daemon or API server gets to answer before it counts as down.
    #[arg(long, value_name = "SECONDS", default_value_t = 3)]
    pub(crate) timeout: u64,
    // hoist doctor on a running stack (issue 16).
    /// Look at this namespace instead of the stack's; without a stack file,
    /// every Helm release there is a tier of its own.
    #[arg(long, value_name = "NAME")]
    pub(crate) namespace: Option<String>,
    /// Send the findings, secrets redacted, to the OpenAI-compatible
    /// endpoint in `OPENAI_BASE_URL` (key `OPENAI_API_KEY`) and stream its
    /// explanation.
    #[arg(long)]
    pub(crate) explain: bool,
    /// With `--explain`: print exactly the request that would be sent
    /// (stdout holds only it; the report goes to stderr), send nothing.
    #[arg(long, requires = "explain")]
    pub(crate) dry_run: bool,
    /// With `--explain`: the model (default `OPENAI_MODEL`, else gpt-4o-mini).
    #[arg(long, value_name = "NAME", requires = "explain")]
    pub(crate) model: Option<String>,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
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
    /// The services to render (default: every service).
    #[arg(value_name = "SERVICE")]
    pub(crate) services: Vec<String>,
    /// Render only one kind of object.
    #[arg(long, value_enum, value_name = "KIND")]
    pub(crate) only: Option<RenderKind>,
    /// Print Secret values (base64, as applied) instead of `<redacted>`.
    #[arg(long)]
    pub(crate) show_secrets: bool,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    /// Name images as this registry would (`HOST[/PREFIX]`), as `up --registry` does.
    #[arg(long, value_name = "HOST[/PREFIX]")]
    pub(crate) registry: Option<String>,
}

/// The kinds of objects `render --only` accepts.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum RenderKind {
    /// `ConfigMaps` and Secrets.
    Config,
    /// The charts' objects.
    Charts,
}

/// The cluster a lifecycle command talks to.
#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    /// The kube context to use instead of the kubeconfig's current one.
    #[arg(long, value_name = "NAME")]
    pub(crate) context: Option<String>,
    /// Seconds the API server gets to answer before it counts as down.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub(crate) timeout: u64,
}

/// Where images go when the cluster pulls from a registry.
#[derive(Debug, Args)]
pub(crate) struct RegistryArgs {
    /// Push images to this registry (and deploy them from it by digest),
    /// instead of `[registry]` in hoist.toml or loading them locally.
    #[arg(long, value_name = "HOST[/PREFIX]")]
    pub(crate) registry: Option<String>,
    /// Talk to the registry over plain HTTP (only for registries you run yourself).
    #[arg(long)]
    pub(crate) insecure_registry: bool,
    /// The registry user; the password is read from `HOIST_REGISTRY_PASSWORD`.
    #[arg(long, value_name = "USER", env = "HOIST_REGISTRY_USER")]
    pub(crate) registry_user: Option<String>,
}

/// Where the stack runs, for `up`, `status`, `logs` and `down`.
#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// Where the stack runs: `kubernetes` (the kube context's cluster) or
    /// `docker` (containers on the Docker engine `DOCKER_HOST` names).
    /// Wins over `engine` in hoist.toml; default kubernetes.
    #[arg(long, value_enum, value_name = "ENGINE", env = "HOIST_ENGINE")]
    pub(crate) engine: Option<EngineChoice>,
}

/// The values `--engine` accepts (hoist.toml's `engine` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EngineChoice {
    /// Helm releases on the Kubernetes cluster of the kube context.
    Kubernetes,
    /// Containers on a private network of the Docker engine at `DOCKER_HOST`.
    Docker,
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// The services to deploy, with what they depend on (default: every service).
    #[arg(value_name = "SERVICE")]
    pub(crate) services: Vec<String>,
    /// Deploy exactly the named services, not what they depend on.
    #[arg(long, requires = "services")]
    pub(crate) only: bool,
    /// Keep a failed rollout as it is, for debugging, instead of rolling it back.
    #[arg(long)]
    pub(crate) no_rollback: bool,
    /// Pack every layer and run every prepare step again.
    #[arg(long)]
    pub(crate) no_cache: bool,
    /// The build cache (default `$XDG_CACHE_HOME/hoist` or `~/.cache/hoist`).
    #[arg(long, value_name = "DIR", env = "HOIST_CACHE_DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The services to show (default: every service).
    #[arg(value_name = "SERVICE")]
    pub(crate) services: Vec<String>,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The service (default: every service).
    #[arg(value_name = "SERVICE")]
    pub(crate) service: Option<String>,
    /// Keep printing new lines (`-F`: `-f` names the stack file in every command).
    #[arg(short = 'F', long)]
    pub(crate) follow: bool,
    /// Only lines newer than this, e.g. `10m`, `1h`, `30s`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) since: Option<std::time::Duration>,
    /// At most this many lines per container to start with.
    #[arg(long, value_name = "LINES")]
    pub(crate) tail: Option<i64>,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DownArgs {
    /// The services to remove (default: every service).
    #[arg(value_name = "SERVICE")]
    pub(crate) services: Vec<String>,
    /// Delete the PersistentVolumeClaims too, and with them the data.
    #[arg(long)]
    pub(crate) volumes: bool,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// The service (default: every service with an earlier revision).
    #[arg(value_name = "SERVICE")]
    pub(crate) service: Option<String>,
    /// The revision to return to (default: the one before the current).
    #[arg(long, value_name = "REVISION", requires = "service")]
    pub(crate) to: Option<u32>,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
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

// `hoist dev` (issue 17).

/// How `hoist dev` prints what happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DevEvents {
    /// Lines for people; logs prefixed by service, coloured on a terminal.
    Human,
    /// One JSON object per line on stdout: the loop's events (`event`),
    /// each step (`"event": "step"`) and each log line (`"event": "log"`).
    Json,
}

#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // Independent command-line flags.
pub(crate) struct DevArgs {
    /// The services to deploy and watch, with what they depend on (default: every service).
    #[arg(value_name = "SERVICE")]
    pub(crate) services: Vec<String>,
    /// Deploy and watch exactly the named services, not what they depend on.
    #[arg(long, requires = "services")]
    pub(crate) only: bool,
    /// Forward SERVICE's first port to 127.0.0.1:PORT (repeatable); adds to
    /// or moves the forwards hoist.toml asks for (`forward`, else `publish`).
    #[arg(long = "port", value_name = "SERVICE=PORT", value_parser = parse_forward)]
    pub(crate) ports: Vec<(String, u16)>,
    /// On Ctrl-C, remove the deployment as `hoist down` does (volumes kept).
    #[arg(long)]
    pub(crate) cleanup: bool,
    /// How to print what happens.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "human")]
    pub(crate) events: DevEvents,
    /// Do not stream the services' logs.
    #[arg(long)]
    pub(crate) no_logs: bool,
    /// Keep a failed rollout as it is, for debugging, instead of rolling it back.
    #[arg(long)]
    pub(crate) no_rollback: bool,
    /// Pack every layer and run every prepare step again on the first cycle.
    #[arg(long)]
    pub(crate) no_cache: bool,
    /// The build cache (default `$XDG_CACHE_HOME/hoist` or `~/.cache/hoist`).
    #[arg(long, value_name = "DIR", env = "HOIST_CACHE_DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

fn parse_forward(text: &str) -> Result<(String, u16), String> {
    let (service, port) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not SERVICE=PORT, e.g. frontend=3000"))?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("`{port}` is not a port; use a number from 1 to 65535"))?;
    Ok((service.to_owned(), port))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
