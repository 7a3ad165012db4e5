//! `cargo run --release -p xtask -- bench-build`: the image-build figures in
//! BENCHMARKS.md, each comparison measured in one run on this machine, in
//! the release profile (a debug xtask refuses to run: its figures would
//! mislead). Needs `HOIST_BASES_DIR` (the offline bases) and a Docker daemon
//! (`DOCKER_HOST` or the local socket); `--packing-only` measures the packing
//! row alone and needs neither, once a whole run has prepared the backend.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hoist_imager::gzip::GzipPlan;
use hoist_imager::{BuildOptions, Built, NoReporter, Recipe, human};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where the build caches and outputs go (default: a temp directory).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Only the packing comparison (needs no Docker daemon and no bases).
    #[arg(long)]
    packing_only: bool,
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn timed<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Duration)> {
    let started = Instant::now();
    let value = f()?;
    Ok((value, started.elapsed()))
}

fn sh(script: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = Command::new("bash")
        .args(["-o", "pipefail", "-c", script])
        .status()
        .with_context(|| format!("failed to run {script}"))?;
    if !status.success() {
        bail!("`{script}` failed ({status})");
    }
    Ok(started.elapsed())
}

fn recipe(example: &Path, service: &str) -> anyhow::Result<Recipe> {
    Ok(Recipe::from_stack_file(
        &example.join("hoist.toml"),
        service,
    )?)
}

fn build(
    recipe: &Recipe,
    service: &str,
    work: &Path,
    cache: &str,
    no_cache: bool,
) -> anyhow::Result<Built> {
    let mut options = BuildOptions::new(service, work.join("out").join(service));
    options.cache_dir = work.join(cache);
    options.no_cache = no_cache;
    Ok(hoist_imager::build(recipe, &options, &NoReporter)?)
}

/// The Dockerfile equivalent of a recipe's layers and config.
fn dockerfile(base: &str, recipe: &Recipe, context: &Path) -> anyhow::Result<()> {
    let mut text = format!("FROM {base}\n");
    for (i, layer) in recipe.layers.iter().enumerate() {
        for (j, copy) in layer.copy.iter().enumerate() {
            let name = format!("l{i}c{j}");
            sh(&format!(
                "cp -a {} {}",
                copy.from.display(),
                context.join(&name).display()
            ))?;
            writeln!(text, "COPY {name} {}", copy.to)?;
        }
    }
    for (k, v) in &recipe.config.env {
        writeln!(text, "ENV {k}={v:?}")?;
    }
    if let Some(user) = &recipe.config.user {
        writeln!(text, "USER {user}")?;
    }
    if let Some(cmd) = &recipe.config.cmd {
        writeln!(text, "CMD {}", serde_json_list(cmd))?;
    }
    std::fs::write(context.join("Dockerfile"), text)?;
    Ok(())
}

fn serde_json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The machine's load average, as `/proc/loadavg` has it (1, 5, 15 minutes).
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// This process's peak resident set size (`VmHWM`), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        bail!(
            "run the benchmark in the release profile: cargo run --release -p xtask -- bench-build"
        );
    }
    let load_before = load_average();
    let temp = std::env::temp_dir().join(format!("hoist-bench-{}", std::process::id()));
    let work = args.work_dir.clone().unwrap_or(temp);
    std::fs::create_dir_all(&work)?;
    let example = crate::cmd::root().join("examples/todo-chatbot");
    let mut rows: Rows = Vec::new();

    if args.packing_only {
        measure_packing(&example, &work, &mut rows)?;
    } else {
        let bases = PathBuf::from(
            std::env::var("HOIST_BASES_DIR").context("set HOIST_BASES_DIR (cargo xtask bases)")?,
        );
        for (service, base) in [("backend", "python"), ("frontend", "node")] {
            measure_service(&example, &bases, &work, service, base, &mut rows)?;
        }
        measure_packing(&example, &work, &mut rows)?;
        measure_push_form(&work, &mut rows)?;
    }
    rows.push((
        "peak RSS of the whole benchmark process (every build above)".to_owned(),
        format!("{:.0} MB", peak_rss_mb()),
        String::new(),
    ));

    let nproc = Command::new("nproc")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let free = Command::new("free")
        .arg("-g")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    println!("machine: nproc {nproc}\n{free}");
    println!(
        "load average before: {load_before}; after: {}",
        load_average()
    );
    println!("| measurement | hoist (native) | comparison |\n|---|---|---|");
    for (what, ours, theirs) in rows {
        println!("| {what} | {ours} | {theirs} |");
    }
    if args.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}

type Rows = Vec<(String, String, String)>;

/// Cold and warm builds of one service, each against `docker build` of the
/// equivalent Dockerfile on the same base and the same prepared inputs.
fn measure_service(
    example: &Path,
    bases: &Path,
    work: &Path,
    service: &str,
    base: &str,
    rows: &mut Rows,
) -> anyhow::Result<()> {
    // Prepare once (pip / npm on the host), outside every measurement.
    // The recipe's public base is replaced by the offline tarball docker
    // imports below, so that both sides start from the same root filesystem.
    let mut full = recipe(example, service)?;
    full.base = hoist_imager::recipe::Base::Rootfs(bases.join(format!("{base}.tar")));
    build(&full, service, work, "prepare-cache", false)?;
    let mut prepared = full.clone();
    prepared.prepare.clear();

    let _ = std::fs::remove_dir_all(work.join(format!("cold-{service}")));
    let (cold, cold_time) =
        timed(|| build(&prepared, service, work, &format!("cold-{service}"), false))?;
    // Both sides start from the same rootfs tar: ours imports it into the
    // cache during the cold build, docker through `docker import`.
    sh(&format!(
        "docker rmi -f hoist-base/{base}:bench >/dev/null 2>&1 || true"
    ))?;
    let docker_import = sh(&format!(
        "docker import {} hoist-base/{base}:bench >/dev/null",
        bases.join(format!("{base}.tar")).display()
    ))?;
    let context = work.join(format!("docker-{service}"));
    let _ = std::fs::remove_dir_all(&context);
    std::fs::create_dir_all(&context)?;
    dockerfile(&format!("hoist-base/{base}:bench"), &prepared, &context)?;
    let docker_cold = sh(&format!(
        "docker build -q --no-cache -t hoist-bench/{service} {} >/dev/null",
        context.display()
    ))?;
    let docker_total = docker_import + docker_cold;
    rows.push((
        format!("{service}: cold build (prepared inputs, base not yet imported)"),
        format!(
            "{} ({:.2}x docker)",
            secs(cold_time),
            cold_time.as_secs_f64() / docker_total.as_secs_f64()
        ),
        format!(
            "docker import + build --no-cache: {} ({} + {})",
            secs(docker_total),
            secs(docker_import),
            secs(docker_cold)
        ),
    ));

    let (warm, warm_time) = timed(|| build(&full, service, work, "prepare-cache", false))?;
    assert_eq!(warm.work.layers_packed, 0, "a warm build packed a layer");
    let docker_warm = sh(&format!(
        "docker build -q -t hoist-bench/{service} {} >/dev/null",
        context.display()
    ))?;
    rows.push((
        format!("{service}: warm no-change rebuild (incl. prepare check)"),
        secs(warm_time),
        format!("cached docker build: {}", secs(docker_warm)),
    ));

    let budget = full.budget_for(service);
    rows.push((
        format!("{service}: image size (layers as written, uncompressed)"),
        human(cold.uncompressed_size),
        format!("budget {}", human(budget.uncompressed)),
    ));
    Ok(())
}

/// The gzip form a registry push sends, made from the backend's build:
/// first on every core, then from the cache.
fn measure_push_form(work: &Path, rows: &mut Rows) -> anyhow::Result<()> {
    let layout = work.join("out/backend/oci");
    let cache = work.join("cold-backend");
    let plan = GzipPlan::new(&layout, &cache)?;
    let pending = plan.pending_bytes();
    let (first, first_time) = timed(|| Ok(plan.run(&std::sync::atomic::AtomicU64::new(0))?))?;
    let compressed: u64 = first.blobs[1..].iter().map(|b| b.descriptor.size()).sum();
    let (again, again_time) =
        timed(|| Ok(GzipPlan::new(&layout, &cache)?.run(&std::sync::atomic::AtomicU64::new(0))?))?;
    assert_eq!(again.layers_compressed, 0, "a second push compressed");
    let pipeline = sh(&format!(
        "cat {}/blobs/sha256/* | gzip -6 | sha256sum >/dev/null",
        layout.display()
    ))?;
    rows.push((
        format!(
            "backend: gzip form for a push, {} -> {} ({} layers, every core)",
            human(pending),
            human(compressed),
            first.layers_compressed
        ),
        format!(
            "{} ({:.0} MB/s)",
            secs(first_time),
            pending as f64 / first_time.as_secs_f64() / 1e6
        ),
        format!(
            "gzip -6 \\| sha256sum of the layout's blobs: {}",
            secs(pipeline)
        ),
    ));
    rows.push((
        "backend: gzip form again (second push)".to_owned(),
        secs(again_time),
        "compresses nothing".to_owned(),
    ));
    Ok(())
}

/// Rounds of the packing measurement, taken in turns with the shell pipeline.
const PACK_ROUNDS: usize = 7;

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Packing throughput on the backend's dependency tree: walk, one read per
/// file (content digests, secret scan, tar), diff_id.
fn measure_packing(example: &Path, work: &Path, rows: &mut Rows) -> anyhow::Result<()> {
    let deps = example.join(".hoist/build/backend-deps");
    if !deps.is_dir() {
        bail!(
            "{} is not prepared yet: run the whole bench-build once (it prepares the backend)",
            deps.display()
        );
    }
    let mut pack = Recipe::from_toml_str(
        &format!(
            "[[layers]]\nname = \"deps\"\ncopy = [{{ from = \"{}\", to = \"/app/deps\" }}]\n[config]\nuser = \"10001\"",
            deps.display()
        ),
        example,
    )?;
    let backend = recipe(example, "backend")?;
    pack.secrets = backend.secrets;
    pack.layers[0]
        .exclude
        .clone_from(&backend.layers[0].exclude);
    // Both sides read the tree once from the page cache first. Then they
    // take turns, each round from an empty cache and output directory, and
    // the medians are compared: one round of either is ~0.1 s, where a
    // neighbour's burst on these shared cores shows.
    let pipeline_script = format!("tar -C {} -c . | sha256sum >/dev/null", deps.display());
    sh(&pipeline_script)?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut packed = None;
    for _ in 0..PACK_ROUNDS {
        let _ = std::fs::remove_dir_all(work.join("throughput-cache"));
        let _ = std::fs::remove_dir_all(work.join("out/throughput"));
        let (built, time) = timed(|| build(&pack, "throughput", work, "throughput-cache", true))?;
        ours.push(time);
        theirs.push(sh(&pipeline_script)?);
        if let Some(first) = &packed {
            let first: &Built = first;
            assert_eq!(
                first.manifest_digest, built.manifest_digest,
                "packing is not reproducible"
            );
        }
        packed = Some(built);
    }
    let packed = packed.context("no packing round ran")?;
    let (pack_time, pipeline) = (median(&mut ours), median(&mut theirs));
    let bytes = packed.uncompressed_size as f64;
    rows.push((
        format!(
            "pack {} ({} files; walk, one read per file for digest, scan and tar; diff_id; median of {PACK_ROUNDS} turns each)",
            human(packed.uncompressed_size),
            packed.work.files_read
        ),
        format!(
            "{} ({:.0} MB/s)",
            secs(pack_time),
            bytes / pack_time.as_secs_f64() / 1e6
        ),
        format!(
            "tar -c \\| sha256sum: {} ({:.0} MB/s)",
            secs(pipeline),
            bytes / pipeline.as_secs_f64() / 1e6
        ),
    ));

    Ok(())
}
