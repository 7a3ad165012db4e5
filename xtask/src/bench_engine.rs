//! `cargo xtask bench-engine`: the reference app on the Docker engine,
//! hoist's `engine::up` against docker-compose with an equivalent file.
//!
//! Builds the three images of a copy of `examples/todo-chatbot` with
//! hoist-imager (the tests' shared cache), loads them with the
//! DaemonLoader, writes a `.env` of fake secrets, then per round, from
//! nothing running:
//! - hoist: `engine::up` until every service is ready (cold: network,
//!   volume, database initialisation), then `engine::up` again (no-op),
//!   then `engine::down --volumes`;
//! - compose: a `docker-compose.yml` this task writes with the same images,
//!   environment, dependency order (`condition: service_healthy`),
//!   healthchecks (the same checks run inside the containers, every 500ms)
//!   and volume; `docker-compose up -d` and a wait until every container
//!   is healthy, then the same again (no-op), then `down -v`.
//!
//! Debian bookworm's docker-compose is 1.29, which has no `up --wait`;
//! the task waits for `healthy` itself, which is what `--wait` does. It is
//! installed here with apt-get, never by the product.
//!
//! Needs dockerd (`DOCKER_HOST`, default the local socket) and the mirror of
//! the app's bases (`HOIST_REGISTRY_MIRRORS`). Prints a Markdown table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hoist_cluster::deliver::{DaemonLoader, Delivered, ImageSource, Loader};
use hoist_cluster::docker::DockerEndpoint;
use hoist_cluster::engine::{self, EnginePlan};
use hoist_cluster::env::Environment;
use hoist_config::{EnvInputs, Stack};
use hoist_imager::{BuildOptions, NoReporter, Recipe};

use crate::cmd;

const PROJECT: &str = "hoist-bench-engine";
const COMPOSE_PROJECT: &str = "hoist-bench-compose";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How many rounds of each; the table shows the median and the fastest.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    crate::mirror::check_app_bases(None)?;
    install_compose()?;
    let dir = tempfile_dir()?;
    let result = tokio::runtime::Runtime::new()?.block_on(measure(args, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    let rows = result?;
    println!();
    println!(
        "| step (reference app, {} rounds) | tool | median (s) | fastest (s) |",
        args.rounds
    );
    println!("|---|---|---:|---:|");
    for (step, tool, times) in rows {
        println!(
            "| {step} | {tool} | {:.2} | {:.2} |",
            median(&times),
            fastest(&times)
        );
    }
    Ok(())
}

fn install_compose() -> anyhow::Result<()> {
    if which_ok("docker-compose") {
        return Ok(());
    }
    let install =
        || cmd::run(Command::new("apt-get").args(["install", "-y", "-q", "docker-compose"]));
    if install().is_err() {
        cmd::run(Command::new("apt-get").arg("update"))?;
        install().context("installing Debian's docker-compose for the comparison")?;
    }
    Ok(())
}

fn which_ok(program: &str) -> bool {
    Command::new(program)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hoist-bench-engine-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

type Rows = Vec<(&'static str, &'static str, Vec<f64>)>;

async fn measure(args: &Args, dir: &Path) -> anyhow::Result<Rows> {
    let app = dir.join("app");
    copy_tree(&cmd::root().join("examples/todo-chatbot"), &app)?;
    let port = free_port()?;
    let stack_file = app.join("hoist.toml");
    let text = std::fs::read_to_string(&stack_file)?
        .replace(
            "project = \"todo-chatbot\"",
            &format!("project = \"{PROJECT}\""),
        )
        .replace("publish = true ", &format!("publish = {port} "));
    std::fs::write(&stack_file, text)?;
    let password = hoist_testkit::fake_secret("pg-", 24, 1);
    let jwt = hoist_testkit::fake_secret("jwt-", 48, 2);
    std::fs::write(
        app.join(".env"),
        format!(
            "POSTGRES_PASSWORD={password}\nDATABASE_URL=postgresql://todo:{password}@{PROJECT}-database:5432/todo\nJWT_SECRET={jwt}\nBACKEND_URL=http://{PROJECT}-backend:8000\n"
        ),
    )?;
    let stack = Stack::load(&stack_file, None)?;
    let mapping = hoist_config::resolve(&stack, &EnvInputs::default())?;
    let endpoint = DockerEndpoint::from_env(&Environment::current());
    let images = build_and_load(&stack, &stack_file, &endpoint).await?;
    let plan = EnginePlan::new(&stack, &mapping, &images, endpoint)?;
    write_compose(&plan, dir, free_port()?)?;

    let mut hoist_cold = Vec::new();
    let mut hoist_noop = Vec::new();
    let mut compose_cold = Vec::new();
    let mut compose_noop = Vec::new();
    engine::down(&plan.project, true).await?;
    compose(dir, &["down", "-v"])?;
    for round in 1..=args.rounds {
        println!("round {round}: hoist");
        for times in [&mut hoist_cold, &mut hoist_noop] {
            let started = Instant::now();
            let outcome = engine::up(&plan, &NoReporter).await?;
            times.push(started.elapsed().as_secs_f64());
            if !outcome.is_healthy() {
                bail!(
                    "hoist up did not get the app ready: {:#?}",
                    outcome.findings
                );
            }
        }
        engine::down(&plan.project, true).await?;
        println!("round {round}: docker-compose");
        for times in [&mut compose_cold, &mut compose_noop] {
            let started = Instant::now();
            compose(dir, &["up", "-d", "--quiet-pull"])?;
            wait_healthy()?;
            times.push(started.elapsed().as_secs_f64());
        }
        compose(dir, &["down", "-v"])?;
    }
    Ok(vec![
        ("cold up to all healthy", "hoist engine::up", hoist_cold),
        (
            "cold up to all healthy",
            "docker-compose up -d + wait healthy",
            compose_cold,
        ),
        ("up again, nothing changed", "hoist engine::up", hoist_noop),
        (
            "up again, nothing changed",
            "docker-compose up -d + wait healthy",
            compose_noop,
        ),
    ])
}

async fn build_and_load(
    stack: &Stack,
    stack_file: &Path,
    endpoint: &DockerEndpoint,
) -> anyhow::Result<BTreeMap<String, Delivered>> {
    let (docker, _) = endpoint.connect(Duration::from_secs(10)).await?;
    let loader = DaemonLoader::new(docker, endpoint.host.clone());
    let cache = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| cmd::root().join("target"), PathBuf::from)
        .join("tmp/imager-app-cache");
    let mut images = BTreeMap::new();
    for service in stack.services.keys() {
        let recipe = Recipe::from_stack_file(stack_file, service)?;
        let mut options =
            BuildOptions::new(service, stack.dir().join(".hoist/images").join(service));
        options.cache_dir.clone_from(&cache);
        println!("building {service}");
        let built = hoist_imager::build(&recipe, &options, &NoReporter)?;
        let image = ImageSource {
            layout: built.layout,
            archive: built.archive,
            name: format!("{PROJECT}/{service}"),
        }
        .open()?;
        images.insert(service.clone(), loader.deliver(&image, &NoReporter).await?);
    }
    Ok(images)
}

/// The same stack for docker-compose: images, environment, order,
/// readiness checks (inside the containers), volume and port.
fn write_compose(plan: &EnginePlan, dir: &Path, port: u16) -> anyhow::Result<()> {
    let check = |service: &str| -> &str {
        match service {
            "database" => r#"["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432"]"#,
            "backend" => {
                r#"["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready')"]"#
            }
            _ => {
                r#"["CMD", "node", "-e", "fetch('http://127.0.0.1:3000/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]"#
            }
        }
    };
    let mut yaml = String::from("version: \"2.4\"\nservices:\n");
    for service in plan.levels.iter().flatten() {
        let s = &plan.services[service];
        writeln!(yaml, "  {service}:\n    image: {}", s.image)?;
        yaml.push_str("    environment:\n");
        for var in &s.env {
            // The compose file stays in a private temporary directory.
            writeln!(yaml, "      {}: {:?}", var.key, var.value.expose())?;
        }
        writeln!(
            yaml,
            "    healthcheck:\n      test: {}\n      interval: 500ms\n      timeout: 5s\n      retries: 240",
            check(service)
        )?;
        if !s.depends_on.is_empty() {
            yaml.push_str("    depends_on:\n");
            for dependency in &s.depends_on {
                writeln!(
                    yaml,
                    "      {dependency}:\n        condition: service_healthy"
                )?;
            }
        }
        // The Kubernetes-style names hoist's network answers to, too.
        writeln!(
            yaml,
            "    networks:\n      default:\n        aliases: [{}]",
            engine::aliases(&plan.project.name, service).join(", ")
        )?;
        if let Some((_, container)) = s.publish {
            // Another host port than hoist's, so the two never collide.
            writeln!(yaml, "    ports: [\"127.0.0.1:{port}:{container}\"]")?;
        }
        if !s.volumes.is_empty() {
            yaml.push_str("    volumes:\n");
            for v in &s.volumes {
                writeln!(yaml, "      - {}:{}", v.name, v.path)?;
            }
        }
    }
    yaml.push_str("volumes:\n  data: {}\n");
    std::fs::write(dir.join("docker-compose.yml"), yaml)?;
    Ok(())
}

fn compose(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("docker-compose")
        .current_dir(dir)
        .args(["-p", COMPOSE_PROJECT])
        .args(args)
        .output()
        .context("running docker-compose")?;
    if !output.status.success() {
        bail!(
            "docker-compose {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// What `docker compose up --wait` does: every container healthy.
fn wait_healthy() -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let ids = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={COMPOSE_PROJECT}"),
        ])?;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.len() == 3 {
            let mut inspect = vec!["inspect", "--format", "{{.State.Health.Status}}"];
            inspect.extend(&ids);
            let states = docker(&inspect)?;
            if states.lines().all(|s| s.trim() == "healthy") {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("the compose project was not healthy within 300s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn docker(args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("docker").args(args).output()?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if ["node_modules", ".next", ".hoist", "browser-test"].contains(&name.as_str())
            || (name.starts_with(".env") && name != ".env.example")
        {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &to.join(&name))?;
        } else {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn median(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn fastest(times: &[f64]) -> f64 {
    times.iter().copied().fold(f64::INFINITY, f64::min)
}
