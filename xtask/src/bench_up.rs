//! `cargo xtask bench-up`: `hoist up` against the manual Helm procedure,
//! on the test cluster, in one run, with the images already built and in
//! the registry for both:
//! - cold `hoist up` to all Ready against three `helm install --wait` of
//!   the tier charts, one after another (the seeds' manual procedure);
//! - a no-op `hoist up` against a no-op `helm upgrade --wait` of the
//!   umbrella chart;
//! - a backend `.env` change to pods Ready (`hoist up`).
//!
//! Needs the test cluster (`cargo xtask k8s up`, in containerd mode), the
//! registry it pulls from (`HOIST_TEST_REGISTRY`), the mirror of the app's
//! bases (`HOIST_REGISTRY_MIRRORS`), helm and kubectl on PATH. The reference app is copied (rsync) under
//! `target/tmp/bench-up` with its own build cache beside it, so prepared
//! outputs and layers survive between runs (the first run builds them).
//! Prints a Markdown table for BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hoist_cluster::deliver::{self, Destination, RegistryTarget};
use hoist_cluster::env::Environment;
use hoist_config::{EnvInputs, Stack};
use hoist_deploy::{BuildSettings, ClusterOptions, NoReporter, UpOptions, images};

use crate::cmd;

/// The test cluster and the registry it pulls from: the cluster benchmarks' options.
#[derive(Debug, clap::Args)]
pub(crate) struct ClusterArgs {
    /// The test cluster's kubeconfig.
    #[arg(
        long,
        env = "HOIST_E2E_KUBECONFIG",
        default_value = "/var/lib/hoist-k8s/kubeconfig"
    )]
    pub(crate) kubeconfig: PathBuf,
    /// The plain-HTTP registry the cluster pulls from (`HOST:PORT`).
    #[arg(long, env = "HOIST_TEST_REGISTRY", default_value = "127.0.0.1:5000")]
    pub(crate) registry: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// How many times the no-op steps run (the median is reported).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
}

/// The frontend node ports of the two stacks (from this suite's 30085-30089).
const HOIST_PORT: u16 = 30086;
const HELM_PORT: u16 = 30087;

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let work = target_dir().join("tmp/bench-up");
    let pid = std::process::id();
    let (hoist_ns, helm_ns) = (
        format!("hoist-bench-up-{pid}"),
        format!("hoist-bench-helm-{pid}"),
    );
    let app = copy_app(&work, &hoist_ns, HOIST_PORT)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(measure(args, &app, &hoist_ns, &helm_ns));
    for ns in [&hoist_ns, &helm_ns] {
        let _ = kubectl(
            &args.cluster.kubeconfig,
            &["delete", "namespace", ns, "--wait=false"],
        );
    }
    let rows = result?;
    println!();
    println!("| step | `hoist up` | by hand with Helm |");
    println!("|---|---:|---:|");
    for (step, hoist, helm) in rows {
        println!("| {step} | {hoist} | {helm} |");
    }
    Ok(())
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| cmd::root().join("target"), PathBuf::from)
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Copies charts/ and examples/todo-chatbot/ under `work` (prepared outputs
/// kept), writes a `.env` with fake secrets and the benchmark's profile
/// (`bench`: `namespace`, the frontend on `node_port`, small CPU requests),
/// after checking that the app's bases can be pulled here (see
/// [`crate::mirror::check_app_bases`]).
pub(crate) fn copy_app(work: &Path, namespace: &str, node_port: u16) -> anyhow::Result<PathBuf> {
    crate::mirror::check_app_bases(None)?;
    std::fs::create_dir_all(work.join("examples"))?;
    let exclude = [
        "--exclude=node_modules",
        "--exclude=.next",
        "--exclude=.hoist",
        "--exclude=.venv",
        "--exclude=__pycache__",
        "--exclude=.env",
    ];
    for (from, to) in [("charts", "."), ("examples/todo-chatbot", "examples")] {
        cmd::run(
            Command::new("rsync")
                .arg("-a")
                .args(exclude)
                .arg(cmd::root().join(from))
                .arg(work.join(to)),
        )?;
    }
    let dir = work.join("examples/todo-chatbot");
    let seed = u64::from(std::process::id());
    let password = hoist_testkit::fake_secret("pg", 20, seed);
    std::fs::write(
        dir.join(".env"),
        format!(
            "POSTGRES_PASSWORD={password}\nDATABASE_URL=postgresql://todo:{password}@todo-chatbot-database:5432/todo\nJWT_SECRET={}\nLOG_LEVEL=INFO\n",
            hoist_testkit::fake_secret("jwt", 44, seed + 1)
        ),
    )?;
    let stack = dir.join("hoist.toml");
    let mut text = std::fs::read_to_string(&stack)?;
    let _ = write!(
        text,
        r#"
[profiles.bench]
namespace = "{namespace}"
[profiles.bench.services.database.chart.set]
"resources.requests.cpu" = "10m"
[profiles.bench.services.backend.chart.set]
"resources.requests.cpu" = "10m"
"waitForDatabase.resources.requests.cpu" = "10m"
[profiles.bench.services.frontend.chart.set]
"resources.requests.cpu" = "10m"
"service.nodePort" = {node_port}
"#
    );
    std::fs::write(&stack, text)?;
    Ok(dir)
}

/// `kubectl ARGS` against the cluster at `kubeconfig`: its standard output.
pub(crate) fn kubectl(kubeconfig: &Path, rest: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(rest)
        .output()
        .context("failed to run kubectl")?;
    if !output.status.success() {
        bail!(
            "kubectl {rest:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `helm ARGS` against the cluster; its wall time.
fn helm(args: &Args, namespace: &str, rest: &[String]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = Command::new("helm")
        .arg("--kubeconfig")
        .arg(&args.cluster.kubeconfig)
        .args(["--namespace", namespace])
        .args(rest)
        .output()
        .context("failed to run helm")?;
    if !output.status.success() {
        bail!(
            "helm {rest:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(started.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

type Row = (&'static str, String, String);

async fn measure(
    args: &Args,
    app: &Path,
    hoist_ns: &str,
    helm_ns: &str,
) -> anyhow::Result<Vec<Row>> {
    let stack = Stack::load(&app.join("hoist.toml"), Some("bench"))?;
    let registry =
        RegistryTarget::parse(&format!("{}/{hoist_ns}", args.cluster.registry), true, None);

    // The images, built and pushed before anything is timed.
    let loader = deliver::open(Destination::Registry(registry.clone())).await?;
    let mut refs = Vec::new();
    for service in ["database", "backend", "frontend"] {
        let recipe = images::recipe(&stack, service)?.context("an image table")?;
        let built = images::build(
            &stack,
            service,
            &recipe,
            &build_settings(),
            &hoist_imager::NoReporter,
        )?;
        let delivered = images::deliver(
            &stack,
            service,
            &built,
            loader.as_ref(),
            &hoist_imager::NoReporter,
        )
        .await?;
        println!("{service}: {}", delivered.reference);
        refs.push(delivered.reference);
    }
    let (by_hand, helm_noop) = with_helm(args, helm_ns, &refs)?;
    println!(
        "by hand: 3 × helm install --wait {}, no-op helm upgrade --wait {:?}",
        secs(by_hand),
        helm_noop
    );
    let (cold_time, hoist_noop, change_time) = with_hoist(args, app, &stack, registry).await?;
    Ok(vec![
        (
            "cold deploy to all Ready (images built and in the registry)",
            secs(cold_time),
            format!("{} (3 × `helm install --wait`)", secs(by_hand)),
        ),
        (
            "no-op (median)",
            secs(median(hoist_noop)),
            format!(
                "{} (`helm upgrade --wait`, umbrella)",
                secs(median(helm_noop))
            ),
        ),
        (
            "backend `.env` change to pods Ready",
            secs(change_time),
            "—".to_owned(),
        ),
    ])
}

/// The manual procedure: its cold install time and its no-op upgrade times.
fn with_helm(
    args: &Args,
    helm_ns: &str,
    refs: &[String],
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    // By hand: three tier releases, one `helm install --wait` after another.
    kubectl(&args.cluster.kubeconfig, &["create", "namespace", helm_ns])?;
    let mut by_hand = Duration::ZERO;
    for (service, reference) in ["database", "backend", "frontend"].iter().zip(refs) {
        let release = format!("todo-chatbot-{service}");
        let mut set = tier_values(service, reference, &release);
        let mut command = vec![
            "install".to_owned(),
            release,
            cmd::root()
                .join(format!("charts/todo-{service}"))
                .display()
                .to_string(),
            "--wait".to_owned(),
            "--timeout".to_owned(),
            "300s".to_owned(),
        ];
        command.append(&mut set);
        by_hand += helm(args, helm_ns, &command)?;
    }
    for service in ["frontend", "backend", "database"] {
        helm(
            args,
            helm_ns,
            &[
                "uninstall".to_owned(),
                format!("todo-chatbot-{service}"),
                "--wait".to_owned(),
            ],
        )?;
    }
    // The umbrella chart, installed, then upgraded with nothing changed.
    let umbrella = umbrella_values(refs);
    let chart = cmd::root()
        .join("charts/todo-chatbot")
        .display()
        .to_string();
    let umbrella_args = |verb: &str| {
        let mut a = vec![
            verb.to_owned(),
            "todo".to_owned(),
            chart.clone(),
            "--wait".to_owned(),
            "--timeout".to_owned(),
            "300s".to_owned(),
        ];
        a.extend(umbrella.iter().cloned());
        a
    };
    helm(args, helm_ns, &umbrella_args("install"))?;
    let mut helm_noop = Vec::new();
    for _ in 0..args.repeat.max(1) {
        helm_noop.push(helm(args, helm_ns, &umbrella_args("upgrade"))?);
    }
    kubectl(
        &args.cluster.kubeconfig,
        &[
            "delete",
            "namespace",
            helm_ns,
            "--wait=true",
            "--timeout=180s",
        ],
    )?;
    Ok((by_hand, helm_noop))
}

/// hoist: the cold up, the no-op ups and the `.env` change.
async fn with_hoist(
    args: &Args,
    app: &Path,
    stack: &Stack,
    registry: RegistryTarget,
) -> anyhow::Result<(Duration, Vec<Duration>, Duration)> {
    // hoist: cold up (images in the registry already), no-op, .env change.
    let options = up_options(&args.cluster.kubeconfig, registry);
    let started = Instant::now();
    let cold = hoist_deploy::up(stack, &options, &NoReporter).await?;
    let cold_time = started.elapsed();
    if !cold.succeeded {
        bail!("cold hoist up failed: {:?}", cold.findings);
    }
    println!("hoist: cold up {}", secs(cold_time));
    for service in &cold.services {
        if let Some(rollout) = &service.rollout {
            println!(
                "  {}: rollout {} ({:?})",
                service.service,
                secs(rollout.duration),
                rollout.action
            );
        }
    }
    let mut hoist_noop = Vec::new();
    for _ in 0..args.repeat.max(1) {
        let started = Instant::now();
        let outcome = hoist_deploy::up(stack, &options, &NoReporter).await?;
        hoist_noop.push(started.elapsed());
        if !outcome.succeeded {
            bail!("no-op hoist up failed: {:?}", outcome.findings);
        }
    }
    let env = app.join(".env");
    let mut text = std::fs::read_to_string(&env)?;
    text.push_str("OPENAI_MODEL=bench-model\n");
    std::fs::write(&env, text)?;
    let started = Instant::now();
    let changed = hoist_deploy::up(stack, &options, &NoReporter).await?;
    let change_time = started.elapsed();
    if !changed.succeeded {
        bail!(".env change hoist up failed: {:?}", changed.findings);
    }
    hoist_deploy::down(
        stack,
        &hoist_deploy::DownOptions {
            volumes: true,
            cluster: options.cluster.clone(),
            ..hoist_deploy::DownOptions::default()
        },
        &hoist_cluster::rollout::NoReporter,
    )
    .await?;
    Ok((cold_time, hoist_noop, change_time))
}

pub(crate) fn build_settings() -> BuildSettings {
    BuildSettings {
        // Its own cache: the tests' shared one is locked while they build,
        // which would time their builds, not hoist's.
        cache_dir: Some(target_dir().join("tmp/bench-up-cache")),
        no_cache: false,
    }
}

pub(crate) fn up_options(kubeconfig: &Path, registry: RegistryTarget) -> UpOptions {
    UpOptions {
        env: EnvInputs::default(),
        cluster: ClusterOptions {
            env: Environment::current().with("KUBECONFIG", &kubeconfig.to_string_lossy()),
            registry: Some(registry),
            ..ClusterOptions::default()
        },
        build: build_settings(),
        rollback: true,
        ..UpOptions::default()
    }
}

/// What a user passes by hand to one tier chart: the image by digest, the
/// names hoist would give, and the benchmark's small CPU requests. The
/// charts make the database password and the JWT key themselves.
fn tier_values(service: &str, reference: &str, release: &str) -> Vec<String> {
    let (repository, digest) = reference.split_once('@').unwrap_or((reference, ""));
    let mut set = vec![
        format!("fullnameOverride={release}"),
        format!("image.repository={repository}"),
        format!("image.digest={digest}"),
        "resources.requests.cpu=10m".to_owned(),
    ];
    match service {
        "backend" => set.extend([
            "database.fromSecret.name=todo-chatbot-database".to_owned(),
            "waitForDatabase.resources.requests.cpu=10m".to_owned(),
        ]),
        "frontend" => set.extend([
            "backend.serviceName=todo-chatbot-backend".to_owned(),
            format!("service.nodePort={HELM_PORT}"),
        ]),
        _ => {}
    }
    set.into_iter()
        .flat_map(|s| ["--set".to_owned(), s])
        .collect()
}

fn umbrella_values(refs: &[String]) -> Vec<String> {
    let mut set = Vec::new();
    for (tier, reference) in ["todo-database", "todo-backend", "todo-frontend"]
        .iter()
        .zip(refs)
    {
        let (repository, digest) = reference.split_once('@').unwrap_or((reference, ""));
        set.extend([
            format!("{tier}.image.repository={repository}"),
            format!("{tier}.image.digest={digest}"),
            format!("{tier}.resources.requests.cpu=10m"),
        ]);
    }
    set.push("todo-backend.waitForDatabase.resources.requests.cpu=10m".to_owned());
    set.push(format!("todo-frontend.service.nodePort={HELM_PORT}"));
    set.into_iter()
        .flat_map(|s| ["--set".to_owned(), s])
        .collect()
}
