//! `cargo xtask bench-dev`: `hoist dev` (release build) on the test
//! cluster; the time from a saved backend source file to the forwarded URL
//! serving the change, for several edits, with each cycle's build, deliver
//! and rollout times from `hoist dev --events json`. Prints a Markdown
//! table for BENCHMARKS.md; the median row is the figure. A second table
//! says where the time goes: when each event of the cycle arrived, counted
//! from the save (the cycle's start, the image built and delivered, the
//! release applied, the new pod running and Ready as the rollout engine
//! saw it, the forward moved to it, the request that saw the change sent
//! and answered, the cycle's end).
//!
//! Needs what `bench-up` needs (the test cluster in containerd mode, the
//! registry `HOIST_TEST_REGISTRY`, `HOIST_REGISTRY_MIRRORS`, helm on PATH). The
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
    /// Leave the charts' `dev_values` out of the copy's hoist.toml, so the
    /// pods run `hoist up`'s values (probes every 2 and 5 s, a 10 s drain):
    /// what the dev values save, under the same conditions.
    #[arg(long)]
    without_dev_values: bool,
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
    if args.without_dev_values {
        let stack = app.join("hoist.toml");
        let text = std::fs::read_to_string(&stack)?;
        let stripped = without_dev_values(&text);
        if stripped == text {
            bail!("no dev_values in {}: update bench-dev", stack.display());
        }
        std::fs::write(&stack, stripped)?;
    }
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
    let (tx, events) = mpsc::channel::<(Instant, Value)>();
    let stdout = child.stdout.take().context("no stdout")?;
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(value) = serde_json::from_str(&line) {
                let _ = tx.send((Instant::now(), value));
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
    let (rows, timelines) = result?;
    println!();
    table(
        &["saved → served", "build", "deliver", "rollout", "cycle"],
        &rows,
    );
    println!();
    println!("Where the time goes (seconds after the save; `-`: not seen):");
    println!();
    table(&MARKS, &timelines);
    Ok(())
}

/// `text` without its `dev_values = [...], ` entries.
fn without_dev_values(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("dev_values = [") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after.find("], ").map_or(after.len(), |e| e + 3);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A Markdown table of `rows` under `headers`, then the median of each column.
fn table(headers: &[&str], rows: &[Vec<Option<Duration>>]) {
    println!("| edit | {} |", headers.join(" | "));
    println!("|---|{}", "---:|".repeat(headers.len()));
    for (i, row) in rows.iter().enumerate() {
        println!("| {} | {} |", i + 1, cells(row));
    }
    let medians: Vec<Option<Duration>> = (0..headers.len())
        .map(|column| {
            let mut values: Vec<Duration> = rows.iter().filter_map(|r| r[column]).collect();
            values.sort();
            values.get(values.len() / 2).copied()
        })
        .collect();
    println!("| **median** | {} |", cells(&medians));
}

fn cells(row: &[Option<Duration>]) -> String {
    row.iter()
        .map(|d| d.map_or_else(|| "-".to_owned(), |d| format!("{:.2} s", d.as_secs_f64())))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The timeline's columns.
const MARKS: [&str; 10] = [
    "cycle started",
    "built",
    "delivered",
    "release applied",
    "pod running",
    "pod Ready",
    "forward moved",
    "served request sent",
    "served",
    "cycle ended",
];

/// When each of [`MARKS`] happened after `saved`, from the events of one
/// edit (`sent`, the request that saw the change, and `served` given).
fn timeline(
    saved: Instant,
    events: &[(Instant, Value)],
    sent: Duration,
    served: Duration,
) -> Vec<Option<Duration>> {
    let at = |matches: &dyn Fn(&Value) -> bool| {
        events
            .iter()
            .find(|(_, e)| matches(e))
            .map(|(t, _)| t.saturating_duration_since(saved))
    };
    let backend = |e: &Value| e["service"] == "backend";
    let done = |step: &'static str| {
        move |e: &Value| {
            e["event"] == "step"
                && backend(e)
                && e["step"] == step
                && e["state"]["state"] != "started"
        }
    };
    let stage = |e: &Value| {
        e["event"] == "rollout" && backend(&e["rollout"]) && e["rollout"]["stage"] == "waiting"
    };
    let moved = |e: &Value| e["event"] == "forwarding-to" && backend(e);
    // The new pod: the one the forward moved to.
    let pod = events
        .iter()
        .find(|(_, e)| moved(e))
        .map(|(_, e)| e["pod"].clone());
    let pod_in = |states: &'static [&'static str]| {
        let pod = pod.clone();
        move |e: &Value| {
            let r = &e["rollout"];
            e["event"] == "rollout"
                && r["event"] == "pod"
                && Some(&r["pod"]) == pod.as_ref()
                && states.iter().any(|s| r["state"] == *s)
        }
    };
    vec![
        at(&|e| e["event"] == "cycle-started"),
        at(&done("build")),
        at(&done("deliver")),
        at(&stage),
        at(&pod_in(&["Running", "Ready"])),
        at(&pod_in(&["Ready"])),
        at(&moved),
        Some(sent),
        Some(served),
        at(&|e| e["event"] == "cycle-finished"),
    ]
}

/// Per edit: saved → served, build, deliver, rollout, cycle; and its timeline.
type Measured = (Vec<Vec<Option<Duration>>>, Vec<Vec<Option<Duration>>>);

fn measure(
    args: &Args,
    events: &mpsc::Receiver<(Instant, Value)>,
    source: &std::path::Path,
    original: &str,
    port: u16,
) -> anyhow::Result<Measured> {
    let (_, first) = next_cycle(events, Duration::from_secs(1800), &mut Vec::new())?;
    if first["outcome"]["succeeded"] != true {
        bail!("the first up failed: {first}");
    }
    let run = std::process::id();
    let (mut rows, mut timelines) = (Vec::new(), Vec::new());
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
        // What arrived before the save is not this edit's.
        while events.try_recv().is_ok() {}
        std::fs::write(source, edited)?;
        let saved = Instant::now();
        let mut seen = Vec::new();
        let sent = loop {
            let sent = saved.elapsed();
            if health(port).is_some_and(|body| body.contains(&text)) {
                break sent;
            }
            if saved.elapsed() > Duration::from_secs(300) {
                bail!("edit {n} not served within 300 s");
            }
            seen.extend(events.try_iter());
            std::thread::sleep(Duration::from_millis(20));
        };
        let served = saved.elapsed();
        seen.extend(events.try_iter());
        // The cycle may have ended before the change was seen served.
        let ended = seen
            .iter()
            .find(|(_, e)| e["event"] == "cycle-finished" || e["event"] == "cycle-failed")
            .map(|(_, e)| e.clone());
        let cycle = match ended {
            Some(e) if e["event"] == "cycle-failed" => bail!("a cycle failed: {e}"),
            Some(e) => e,
            None => next_cycle(events, Duration::from_secs(60), &mut seen)?.1,
        };
        if cycle["outcome"]["succeeded"] != true {
            bail!("edit {n}'s cycle failed: {cycle}");
        }
        let ms = |key: &str| {
            Some(Duration::from_millis(
                cycle["timings"][key].as_u64().unwrap_or(0),
            ))
        };
        rows.push(vec![
            Some(served),
            ms("build"),
            ms("deliver"),
            ms("rollout"),
            ms("total"),
        ]);
        timelines.push(timeline(saved, &seen, sent, served));
        // Let the old pod go before the next edit, as a person would.
        std::thread::sleep(Duration::from_secs(2));
    }
    Ok((rows, timelines))
}

/// The next `cycle-finished` (or `cycle-failed`, an error) event; every
/// event read on the way is added to `seen`.
fn next_cycle(
    events: &mpsc::Receiver<(Instant, Value)>,
    within: Duration,
    seen: &mut Vec<(Instant, Value)>,
) -> anyhow::Result<(Instant, Value)> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, event) = events
            .recv_timeout(left)
            .context("hoist dev reported no cycle in time (or exited)")?;
        seen.push((at, event.clone()));
        match event["event"].as_str() {
            Some("cycle-finished") => return Ok((at, event)),
            Some("cycle-failed") => bail!("a cycle failed: {event}"),
            _ => {}
        }
    }
}

/// GET /health on 127.0.0.1:`port`: the body when it answers. The
/// response ends after its `Content-Length`, as for any HTTP client, not
/// at the connection's close: containerd's port-forward lingers up to 1 s
/// before closing a stream whose pod side ended (while the client's side,
/// which a port-forward websocket cannot half-close, is still open).
fn health(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut response = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        response.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            if n == 0 || length.is_some_and(|l| body.len() >= l) {
                return head.starts_with("HTTP/1.1 200").then(|| body.to_owned());
            }
        } else if n == 0 {
            return None;
        }
    }
}
