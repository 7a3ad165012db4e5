//! `cargo xtask bench-stack`: the reference app under 100 concurrent users
//! on the test cluster (SC-2), measured with a real load generator.
//!
//! After `hoist up` of a copy of the reference app (its own namespace, the
//! frontend on node port 30111, small CPU requests as every run on the
//! shared node), it signs up one app user per connection, then runs Debian's
//! `wrk` from this machine against the frontend's loopback URL for
//! `--duration` seconds: every connection a user taking turns through the
//! page, the task list, a new task, a chat message and now and then a login
//! (`mix.lua`). Meanwhile it samples every container's CPU and working-set
//! memory from the kubelet's `/stats/summary` (through the API server's node
//! proxy: the test cluster has no metrics-server) every two seconds.
//!
//! Prints requests, errors by kind (socket errors and HTTP statuses),
//! p50/p95/p99 latency, pod restarts during the run, and each container's
//! peak CPU and memory against its requests and limits, as Markdown tables
//! for BENCHMARKS.md. Needs the test cluster (`cargo xtask k8s up`), the
//! registry it pulls from (`HOIST_TEST_REGISTRY`), the mirror of the app's
//! bases (`HOIST_REGISTRY_MIRRORS`), helm and kubectl on PATH, and `wrk`
//! (installed with apt-get when missing, as root).

mod stats;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use hoist_cluster::deliver::RegistryTarget;
use hoist_config::Stack;
use hoist_deploy::NoReporter;

use crate::bench_up::{ClusterArgs, copy_app, target_dir, up_options};

fn kubectl(args: &Args, rest: &[&str]) -> anyhow::Result<String> {
    crate::bench_up::kubectl(&args.cluster.kubeconfig, rest)
}
use crate::cmd;

/// The request mix, one connection per user.
const MIX: &str = include_str!("mix.lua");
/// The frontend's node port (30110-30114 are the load suite's).
const NODE_PORT: u16 = 30111;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Concurrent simulated users (wrk connections).
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// How long the load runs, in seconds.
    #[arg(long, default_value_t = 60)]
    duration: u64,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    ensure_wrk()?;
    let work = target_dir().join("tmp/bench-stack");
    let namespace = format!("hoist-loadbench-{}", std::process::id());
    let app = copy_app(&work, &namespace, NODE_PORT)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let result = measure(args, &runtime, &app, &work, &namespace);
    let _ = kubectl(args, &["delete", "namespace", &namespace, "--wait=false"]);
    let report = result?;
    println!();
    println!("{report}");
    Ok(())
}

/// wrk from Debian, installed when missing (the benchmark's one extra tool).
fn ensure_wrk() -> anyhow::Result<()> {
    if Command::new("wrk").arg("-v").output().is_ok() {
        return Ok(());
    }
    println!(
        "bench-stack: wrk is missing; installing Debian's package with `apt-get install -y wrk`"
    );
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y", "wrk"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("wrk is missing and could not be installed: run `apt-get install -y wrk` as root")
}

fn measure(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    app: &Path,
    work: &Path,
    namespace: &str,
) -> anyhow::Result<String> {
    let stack = Stack::load(&app.join("hoist.toml"), Some("bench"))?;
    let registry = RegistryTarget::parse(
        &format!("{}/{namespace}", args.cluster.registry),
        true,
        None,
    );
    let options = up_options(&args.cluster.kubeconfig, registry);
    println!("bench-stack: hoist up into {namespace}");
    let up = runtime.block_on(hoist_deploy::up(&stack, &options, &NoReporter))?;
    if !up.succeeded {
        bail!("hoist up failed: {:?}", up.findings);
    }
    let url = format!("http://127.0.0.1:{NODE_PORT}");
    let users = runtime.block_on(sign_up(&url, args.users))?;
    let users_file = work.join("users.txt");
    std::fs::write(&users_file, users)?;
    let script = work.join("mix.lua");
    std::fs::write(&script, MIX)?;

    let before = stats::restarts(&kubectl(
        args,
        &["-n", namespace, "get", "pods", "-o", "json"],
    )?)?;
    let node = kubectl(
        args,
        &["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"],
    )?;
    let summary_path = format!("/api/v1/nodes/{node}/proxy/stats/summary");
    println!(
        "bench-stack: wrk, {} connections for {} s against {url}",
        args.users, args.duration
    );
    let mut generator = Command::new("wrk")
        .args(["-t", "2", "-c", &args.users.to_string()])
        .args([
            "-d",
            &format!("{}s", args.duration),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&script)
        .arg(&url)
        .arg("--")
        .arg(&users_file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("failed to start wrk")?;
    let mut peaks = stats::Peaks::default();
    while generator.try_wait()?.is_none() {
        if let Ok(summary) = kubectl(args, &["get", "--raw", &summary_path]) {
            peaks.sample(&summary, namespace)?;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let output = generator.wait_with_output()?;
    let wrk_text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("wrk failed ({}): {wrk_text}", output.status);
    }
    let pods_json = kubectl(args, &["-n", namespace, "get", "pods", "-o", "json"])?;
    let after = stats::restarts(&pods_json)?;
    let resources = stats::resources(&pods_json)?;
    runtime.block_on(hoist_deploy::down(
        &stack,
        &hoist_deploy::DownOptions {
            volumes: true,
            cluster: options.cluster.clone(),
            ..hoist_deploy::DownOptions::default()
        },
        &hoist_cluster::rollout::NoReporter,
    ))?;
    report(args, &wrk_text, &before, &after, &peaks, &resources)
}

/// Signs up `count` users through the app; one `name password token` line each.
async fn sign_up(url: &str, count: usize) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let page = format!("{url}/");
    let mut ready = false;
    for _ in 0..120 {
        if client
            .get(&page)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if !ready {
        bail!("{page} did not answer 200 within 2 minutes of hoist up");
    }
    let pid = std::process::id();
    let mut lines = String::new();
    for i in 0..count {
        let name = format!("bench{pid}_{i}");
        let password = hoist_testkit::fake_secret("pw", 16, i as u64);
        let body = serde_json::json!({"username": name, "password": password});
        let reply = client
            .post(format!("{url}/api/auth/signup"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?;
        let status = reply.status();
        let text = reply.text().await?;
        let document: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let token = document["token"]
            .as_str()
            .filter(|_| status.as_u16() == 201)
            .with_context(|| format!("sign up {name}: {status} {text}"))?;
        let _ = writeln!(lines, "{name} {password} {token}");
    }
    Ok(lines)
}

/// The `bench key value` lines `mix.lua` prints.
fn wrk_figures(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("bench "))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

fn report(
    args: &Args,
    wrk_text: &str,
    before: &BTreeMap<String, i64>,
    after: &BTreeMap<String, i64>,
    peaks: &stats::Peaks,
    resources: &BTreeMap<String, stats::Resources>,
) -> anyhow::Result<String> {
    let f = wrk_figures(wrk_text);
    let get = |k: &str| f.get(k).copied().unwrap_or(0);
    if get("requests") == 0 {
        bail!("wrk reported no requests:\n{wrk_text}");
    }
    let mut errors: Vec<String> = ["connect", "read", "write", "timeout"]
        .iter()
        .filter(|k| get(&format!("error_{k}")) > 0)
        .map(|k| format!("{} {k}", get(&format!("error_{k}"))))
        .collect();
    let mut statuses = Vec::new();
    for (key, n) in &f {
        if let Some(code) = key.strip_prefix("status ") {
            statuses.push(format!("{n} × {code}"));
            if !code.starts_with('2') {
                errors.push(format!("{n} HTTP {code}"));
            }
        }
    }
    // Pods replaced during the run count as restarts too: a pod that is gone
    // or new shows up as a name in one map only.
    let restarts: i64 = after
        .iter()
        .map(|(pod, n)| n - before.get(pod).copied().unwrap_or(0))
        .sum();
    let replaced = before.keys().filter(|p| !after.contains_key(*p)).count();
    let seconds = get("duration_us") as f64 / 1e6;
    let mut out = String::new();
    let _ = writeln!(out, "| metric | value |");
    let _ = writeln!(out, "|---|---:|");
    let _ = writeln!(
        out,
        "| users (wrk connections), duration | {}, {:.0} s |",
        args.users, seconds
    );
    let _ = writeln!(
        out,
        "| requests (per second) | {} ({:.0}/s) |",
        get("requests"),
        get("requests") as f64 / seconds.max(1e-9)
    );
    let _ = writeln!(out, "| responses by status | {} |", statuses.join(", "));
    let _ = writeln!(
        out,
        "| errors by kind | {} |",
        if errors.is_empty() {
            "none".to_owned()
        } else {
            errors.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "| latency p50 / p95 / p99 / max | {} / {} / {} / {} |",
        ms(get("p50_us")),
        ms(get("p95_us")),
        ms(get("p99_us")),
        ms(get("max_us"))
    );
    let _ = writeln!(
        out,
        "| container restarts during the run | {restarts} ({replaced} pods replaced) |"
    );
    let _ = writeln!(out);
    out.push_str(&peaks.table(resources));
    Ok(out)
}
