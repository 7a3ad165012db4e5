//! `cargo xtask bench-load`: image delivery, hoist against the usual tools.
//!
//! Builds a ~60 MB (compressed) image from `$HOIST_BASES_DIR/python.tar` with
//! umoci and skopeo (never hoist's imager), then times, with `/usr/bin/time
//! -v` for peak memory, a release build of hoist (`--debug` for the debug
//! one):
//! - `hoist load --target docker` against `docker load` of the same archive,
//!   first and again unchanged;
//! - `hoist load --target kind` into real containerd 1.6 in a node container
//!   (from `$HOIST_BASES_DIR/containerd-node.tar`, as the tests start it)
//!   against `ctr images import` of the same archive through `docker exec`,
//!   first and again;
//! - `hoist load --target registry` against `skopeo copy` of the same layout,
//!   first and again.
//!
//! Needs dockerd (`DOCKER_HOST`) and a plain-HTTP registry
//! (`HOIST_TEST_REGISTRY`, default 127.0.0.1:5000), as `.ci/services.sh`
//! starts them. Prints the load average and a Markdown table for BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::cmd;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The root filesystem tar to build the image from.
    #[arg(long, env = "HOIST_BASES_DIR", value_name = "DIR")]
    bases: PathBuf,
    /// The registry to push to (`HOST:PORT`, plain HTTP).
    #[arg(long, env = "HOIST_TEST_REGISTRY", default_value = "127.0.0.1:5000")]
    registry: String,
    /// Measure the debug build of hoist instead of the release build.
    #[arg(long)]
    debug: bool,
    /// Measure this hoist binary instead of building one (a target
    /// directory shared by several checkouts may hold another's build).
    #[arg(long, value_name = "FILE")]
    hoist: Option<PathBuf>,
    /// Rounds of each local load; the table shows the median. Five left
    /// the dockerd row's median anywhere between 0.7x and 1.2x of the other
    /// tool's (BENCHMARKS.md).
    #[arg(long, default_value_t = 9)]
    rounds: usize,
}

/// One measured command.
struct Row {
    what: &'static str,
    tool: &'static str,
    seconds: f64,
    peak_mb: f64,
    sent: String,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let rootfs = args.bases.join("python.tar");
    if !rootfs.is_file() {
        bail!(
            "{} is missing; build it with `cargo xtask bases`",
            rootfs.display()
        );
    }
    let hoist = match &args.hoist {
        Some(hoist) => hoist.clone(),
        None => build_hoist(!args.debug)?,
    };
    let load_before = crate::bench_build::load_average();
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let dir = std::env::temp_dir().join(format!("hoist-bench-load-{nonce}"));
    std::fs::create_dir_all(&dir)?;
    let result = measure(args, &hoist, &rootfs, &dir, nonce);
    let _ = std::fs::remove_dir_all(&dir);
    let rows = result?;
    println!();
    println!(
        "load average before: {load_before}; after: {}",
        crate::bench_build::load_average()
    );
    println!("| operation | tool | wall time (s) | peak RSS (MB) | bytes sent |");
    println!("|---|---|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {:.2} | {:.0} | {} |",
            row.what, row.tool, row.seconds, row.peak_mb, row.sent
        );
    }
    Ok(())
}

fn build_hoist(release: bool) -> anyhow::Result<PathBuf> {
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(cmd::root())
        .args(["build", "-p", "hoist"]);
    if release {
        build.arg("--release");
    }
    cmd::run(&mut build)?;
    let profile = if release { "release" } else { "debug" };
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| cmd::root().join("target"), PathBuf::from);
    Ok(target.join(profile).join("hoist"))
}

fn measure(
    args: &Args,
    hoist: &Path,
    rootfs: &Path,
    dir: &Path,
    nonce: u64,
) -> anyhow::Result<Vec<Row>> {
    let name = format!("bench/python-{nonce}");
    let (layout, tagged, archive) = build_image(rootfs, dir, &name)?;

    let hoist_load = |target: &[&str]| {
        let mut command = Command::new(hoist);
        command
            .args(["--json", "load", "--layout"])
            .arg(&layout)
            .arg("--archive")
            .arg(&archive)
            .args(["--name", &name])
            .args(target);
        command
    };
    let docker_target = ["--target", "docker"];
    let registry = format!("{}/bench-hoist-{nonce}", args.registry);
    let registry_target = [
        "--target",
        "registry",
        "--registry",
        &registry,
        "--insecure-registry",
    ];
    let skopeo_push = || {
        let mut command = Command::new("skopeo");
        command
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{tagged}"))
            .arg(format!(
                "docker://{}/bench-skopeo-{nonce}/python:bench",
                args.registry
            ));
        command
    };
    let archive_mb = format!("{} (whole archive)", std::fs::metadata(&archive)?.len());
    let docker_load = || {
        let mut command = Command::new("docker");
        command.arg("load").arg("-i").arg(&archive);
        command
    };

    let mut rows = Vec::new();
    let hoist_docker = || hoist_load(&docker_target);
    rows.extend(in_turns(
        args.rounds,
        &|| remove_images(&name),
        ["load into dockerd (cold)", "load again, unchanged"],
        &[
            Tool {
                name: "docker load",
                command: &docker_load,
                input: None,
                sent: Some(archive_mb.clone()),
            },
            Tool {
                name: "hoist load",
                command: &hoist_docker,
                input: None,
                sent: None,
            },
        ],
    )?);
    let node_rootfs = args.bases.join("containerd-node.tar");
    if node_rootfs.is_file() {
        rows.extend(measure_containerd(
            args.rounds,
            &hoist_load,
            &archive,
            &node_rootfs,
            nonce,
        )?);
    } else {
        println!("{} is missing: no containerd rows", node_rootfs.display());
    }
    for what in ["push to registry", "push again, unchanged"] {
        let (seconds, peak_mb, out) = timed(&mut hoist_load(&registry_target))?;
        rows.push(Row {
            what,
            tool: "hoist load",
            seconds,
            peak_mb,
            sent: bytes_sent(&out)?,
        });
        let (seconds, peak_mb, _) = timed(&mut skopeo_push())?;
        rows.push(Row {
            what,
            tool: "skopeo copy",
            seconds,
            peak_mb,
            sent: "n/a".to_owned(),
        });
    }
    remove_images(&name)?;
    Ok(rows)
}

/// `ctr images import` against `hoist load --target kind` into real
/// containerd in a node container named `bench<nonce>-control-plane`.
fn measure_containerd(
    rounds: usize,
    hoist_load: &dyn Fn(&[&str]) -> Command,
    archive: &Path,
    node_rootfs: &Path,
    nonce: u64,
) -> anyhow::Result<Vec<Row>> {
    let cluster = format!("bench{nonce}");
    let node = format!("{cluster}-control-plane");
    let image = format!("hoist-bench/containerd-node:{nonce}");
    cmd::run(
        Command::new("docker")
            .args([
                "import",
                "-c",
                "ENV CONTAINERD_SNAPSHOTTER=native",
                "-c",
                r#"CMD ["/usr/bin/containerd"]"#,
            ])
            .arg(node_rootfs)
            .arg(&image),
    )?;
    cmd::run(Command::new("docker").args([
        "run",
        "-d",
        "--name",
        &node,
        "--cap-add=SYS_ADMIN",
        "--security-opt=apparmor=unconfined",
        "--security-opt=seccomp=unconfined",
        &image,
    ]))?;
    let result = (|| {
        let ctr = |args: &[&str]| {
            let mut command = Command::new("docker");
            command
                .args(["exec", "-i", &node, "ctr", "-n", "k8s.io"])
                .args(args);
            command
        };
        for _ in 0..50 {
            if ctr(&["version"]).output()?.status.success() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let clear = || -> anyhow::Result<()> {
            let listed = ctr(&["images", "ls", "-q"]).output()?;
            let names: Vec<String> = String::from_utf8_lossy(&listed.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            if !names.is_empty() {
                let mut rm = ctr(&["images", "rm", "--sync"]);
                rm.args(&names);
                cmd::run(&mut rm)?;
            }
            Ok(())
        };
        let archive_bytes = std::fs::metadata(archive)?.len().to_string();
        let ctr_import = || ctr(&["images", "import", "-"]);
        let hoist_kind = || hoist_load(&["--target", "kind", "--cluster", &cluster]);
        let rows = in_turns(
            rounds,
            &clear,
            ["load into containerd (cold)", "load into containerd again"],
            &[
                Tool {
                    name: "ctr images import",
                    command: &ctr_import,
                    input: Some(archive),
                    sent: Some(archive_bytes),
                },
                Tool {
                    name: "hoist load",
                    command: &hoist_kind,
                    input: None,
                    sent: None,
                },
            ],
        )?;
        Ok(rows)
    })();
    let _ = Command::new("docker").args(["rm", "-f", &node]).output();
    let _ = Command::new("docker").args(["rmi", &image]).output();
    result
}

/// The benchmark image as an OCI layout (umoci) and a docker-archive (skopeo).
fn build_image(
    rootfs: &Path,
    dir: &Path,
    name: &str,
) -> anyhow::Result<(PathBuf, String, PathBuf)> {
    let layout = dir.join("oci");
    let tagged = format!("{}:bench", layout.display());
    let archive = dir.join("image.tar");
    cmd::run(
        Command::new("umoci")
            .args(["init", "--layout"])
            .arg(&layout),
    )?;
    cmd::run(Command::new("umoci").args(["new", "--image", &tagged]))?;
    cmd::run(
        Command::new("umoci")
            .args(["raw", "add-layer", "--image", &tagged])
            .arg(rootfs),
    )?;
    cmd::run(Command::new("umoci").args([
        "config",
        "--image",
        &tagged,
        "--config.cmd=/usr/bin/python3",
        "--config.cmd=-c",
        "--config.cmd=print('bench')",
    ]))?;
    cmd::run(
        Command::new("skopeo")
            .arg("copy")
            .arg(format!("oci:{tagged}"))
            .arg(format!("docker-archive:{}:{name}:bench", archive.display())),
    )?;
    println!(
        "image: {} MB of layout blobs, archive {} MB",
        dir_size(&layout.join("blobs"))? / 1_000_000,
        std::fs::metadata(&archive)?.len() / 1_000_000
    );

    Ok((layout, tagged, archive))
}

/// Removes every tag of the benchmark image so the next load starts cold.
fn remove_images(name: &str) -> anyhow::Result<()> {
    let listed = Command::new("docker")
        .args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()?;
    let tags: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|line| line.contains(name))
        .map(str::to_owned)
        .collect();
    if !tags.is_empty() {
        let removed = Command::new("docker")
            .args(["image", "rm", "--force"])
            .args(&tags)
            .output()?;
        if !removed.status.success() {
            bail!(
                "docker image rm failed: {}",
                String::from_utf8_lossy(&removed.stderr)
            );
        }
    }
    Ok(())
}

/// A command measured against another.
struct Tool<'a> {
    name: &'static str,
    command: &'a dyn Fn() -> Command,
    /// A file for its standard input.
    input: Option<&'a Path>,
    /// What it sends; `None`: the `bytes_sent` hoist reports.
    sent: Option<String>,
}

/// Each tool's first and second load (`whats`), in `rounds` rounds that
/// take turns at going first, each load starting from a cleared target
/// (`clear`) and from clean page cache (`sync`: one tool's writes, still
/// being flushed, would otherwise slow the other's). One row per tool and
/// load: the median wall time, the highest peak RSS.
fn in_turns(
    rounds: usize,
    clear: &dyn Fn() -> anyhow::Result<()>,
    whats: [&'static str; 2],
    tools: &[Tool<'_>; 2],
) -> anyhow::Result<Vec<Row>> {
    let mut samples: Vec<[Vec<(f64, f64)>; 2]> = vec![[Vec::new(), Vec::new()]; 2];
    let mut sent: Vec<[String; 2]> = tools
        .iter()
        .map(|tool| {
            let sent = tool.sent.clone().unwrap_or_default();
            [sent.clone(), sent]
        })
        .collect();
    for round in 0..rounds.max(1) {
        for turn in 0..2 {
            let which = (round + turn) % 2;
            let tool = &tools[which];
            clear()?;
            cmd::run(&mut Command::new("sync"))?;
            for (load, samples) in samples[which].iter_mut().enumerate() {
                let (seconds, peak_mb, out) = timed_with_input(&mut (tool.command)(), tool.input)?;
                samples.push((seconds, peak_mb));
                if tool.sent.is_none() {
                    sent[which][load] = bytes_sent(&out)?;
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (load, what) in whats.into_iter().enumerate() {
        for (which, tool) in tools.iter().enumerate() {
            let mut times: Vec<f64> = samples[which][load].iter().map(|s| s.0).collect();
            times.sort_by(f64::total_cmp);
            let seconds = times[times.len() / 2];
            let peak_mb = samples[which][load].iter().map(|s| s.1).fold(0.0, f64::max);
            println!("{what} / {}: {times:.2?}", tool.name);
            rows.push(Row {
                what,
                tool: tool.name,
                seconds,
                peak_mb,
                sent: sent[which][load].clone(),
            });
        }
    }
    Ok(rows)
}

fn timed(command: &mut Command) -> anyhow::Result<(f64, f64, Output)> {
    timed_with_input(command, None)
}

/// [`timed`], with `input`'s content on the command's standard input.
fn timed_with_input(
    command: &mut Command,
    input: Option<&Path>,
) -> anyhow::Result<(f64, f64, Output)> {
    let program = command.get_program().to_owned();
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped.arg("-v").arg(&program).args(command.get_args());
    if let Some(input) = input {
        wrapped.stdin(std::fs::File::open(input)?);
    }
    println!("$ {wrapped:?}");
    let started = Instant::now();
    let output = wrapped
        .output()
        .with_context(|| format!("failed to run {wrapped:?} (apt-get install time)"))?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("{wrapped:?} failed: {stderr}");
    }
    let peak_kb: f64 = stderr
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .context("/usr/bin/time printed no maximum resident set size")?
        .trim()
        .parse()?;
    Ok((seconds, peak_kb / 1024.0, output))
}

/// The `bytes_sent` of `hoist --json load`'s report.
fn bytes_sent(output: &Output) -> anyhow::Result<String> {
    let text = String::from_utf8_lossy(&output.stdout);
    let start = text
        .find("\"bytes_sent\": ")
        .context("hoist printed no bytes_sent")?
        + "\"bytes_sent\": ".len();
    Ok(text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect())
}

fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
