//! `cargo xtask bench-dev`: `hoist dev` (release build) on the test
//! cluster; the time from a saved backend source file to the forwarded URL
//! serving the change, for several edits, with each cycle's build, deliver
//! and rollout times from `hoist dev --events json`. Prints a Markdown
//! table for BENCHMARKS.md; the median row is the figure.
//!
//! Needs what `bench-up` needs (the test cluster in containerd mode, the
//! registry `HOIST_TEST_REGISTRY`, `HOIST_BASES_DIR`, helm on PATH). The
//! app is copied under `target/tmp/bench-dev` with its own build cache
//! beside it; the first run builds everything, later runs start warm.

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::bench_up::{copy_app, target_dir};
use crate::cmd;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The test cluster's kubeconfig.
    #[arg(
        long,
        env = "HOIST_E2E_KUBECONFIG",
        default_value = "/var/lib/hoist-k8s/kubeconfig"
    )]
    kubeconfig: PathBuf,
    /// The plain-HTTP registry the cluster pulls from (`HOST:PORT`).
    #[arg(long, env = "HOIST_TEST_REGISTRY", default_value = "127.0.0.1:5000")]
    registry: String,
    /// How many edits are measured (the median is reported).
    #[arg(long, default_value_t = 5)]
    edits: usize,
    /// Where the app is copied (default `target/tmp/bench-dev`); an
    /// existing copy's prepared outputs (wheels, `node_modules`, `.next`) are kept.
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// The build cache (default `target/tmp/bench-dev-cache`).
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
}

/// The frontend's node port (from `hoist dev`'s 30105-30109).
const NODE_PORT: u16 = 30106;

/// The marker the backend's /health answers after edit `n`.
fn marker(run: u32, n: usize) -> String {
    format!("bench-{run}-{n}")
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    cmd::run(Command::new(env!("CARGO")).args(["build", "--release", "-p", "hoist"]))?;
    let hoist = target_dir().join("release/hoist");
    let pid = std::process::id();
    let namespace = format!("hoist-bench-dev-{pid}");
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| target_dir().join("tmp/bench-dev"));
    let cache = args
        .cache
        .clone()
        .unwrap_or_else(|| target_dir().join("tmp/bench-dev-cache"));
    let app = copy_app(&work, &namespace, NODE_PORT)?;
    let source = app.join("backend/todo_api/app.py");
    let original = std::fs::read_to_string(&source)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(&hoist)
        .current_dir(&app)
        .env("KUBECONFIG", &args.kubeconfig)
        .env("HOIST_CACHE_DIR", &cache)
        .args(["--profile", "bench", "dev", "--events", "json", "--no-logs"])
        .args(["--registry", &format!("{}/{namespace}", args.registry)])
        .arg("--insecure-registry")
        .args(["--port", &format!("backend={port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("failed to start {}", hoist.display()))?;
    let (tx, events) = mpsc::channel::<Value>();
    let stdout = child.stdout.take().context("no stdout")?;
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(value) = serde_json::from_str(&line) {
                let _ = tx.send(value);
            }
        }
    });
    let result = measure(args, &events, &source, &original, port);
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    std::fs::write(&source, &original)?;
    let _ = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&args.kubeconfig)
        .args(["delete", "namespace", &namespace, "--wait=false"])
        .output();
    let rows = result?;
    println!();
    println!("| edit | saved → served | build | deliver | rollout | cycle |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (i, row) in rows.iter().enumerate() {
        println!("| {} | {} |", i + 1, cells(row));
    }
    let median = |column: usize| {
        let mut values: Vec<Duration> = rows.iter().map(|r| r[column]).collect();
        values.sort();
        values[values.len() / 2]
    };
    let medians: Vec<Duration> = (0..5).map(median).collect();
    println!("| **median** | {} |", cells(&medians));
    Ok(())
}

fn cells(row: &[Duration]) -> String {
    row.iter()
        .map(|d| format!("{:.2} s", d.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Per edit: saved → served, build, deliver, rollout, cycle.
fn measure(
    args: &Args,
    events: &mpsc::Receiver<Value>,
    source: &std::path::Path,
    original: &str,
    port: u16,
) -> anyhow::Result<Vec<Vec<Duration>>> {
    let first = next_cycle(events, Duration::from_secs(1800))?;
    if first["outcome"]["succeeded"] != true {
        bail!("the first up failed: {first}");
    }
    let run = std::process::id();
    let mut rows = Vec::new();
    for n in 0..args.edits {
        let text = marker(run, n);
        let edited = original.replace(
            "return {\"status\": \"ok\"}\n\n    @app.get(\"/ready\")",
            &format!(
                "return {{\"status\": \"ok\", \"dev\": \"{text}\"}}\n\n    @app.get(\"/ready\")"
            ),
        );
        if edited == original {
            bail!("the backend's /health handler moved: update bench-dev");
        }
        std::fs::write(source, edited)?;
        let saved = Instant::now();
        loop {
            if health(port).is_some_and(|body| body.contains(&text)) {
                break;
            }
            if saved.elapsed() > Duration::from_secs(300) {
                bail!("edit {n} not served within 300 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let served = saved.elapsed();
        let cycle = next_cycle(events, Duration::from_secs(60))?;
        if cycle["outcome"]["succeeded"] != true {
            bail!("edit {n}'s cycle failed: {cycle}");
        }
        let ms = |key: &str| Duration::from_millis(cycle["timings"][key].as_u64().unwrap_or(0));
        rows.push(vec![
            served,
            ms("build"),
            ms("deliver"),
            ms("rollout"),
            ms("total"),
        ]);
        // Let the old pod go before the next edit, as a person would.
        std::thread::sleep(Duration::from_secs(2));
    }
    Ok(rows)
}

/// The next `cycle-finished` (or `cycle-failed`, an error) event.
fn next_cycle(events: &mpsc::Receiver<Value>, within: Duration) -> anyhow::Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = events
            .recv_timeout(left)
            .context("hoist dev reported no cycle in time (or exited)")?;
        match event["event"].as_str() {
            Some("cycle-finished") => return Ok(event),
            Some("cycle-failed") => bail!("a cycle failed: {event}"),
            _ => {}
        }
    }
}

/// GET /health on 127.0.0.1:`port`: the body when it answers.
fn health(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.starts_with("HTTP/1.1 200").then(|| {
        response
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, b)| b.to_owned())
    })
}
