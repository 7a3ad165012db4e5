//! hoist interrupted. On the real test cluster: Ctrl-C (SIGINT) during the
//! database tier of a first `up` lets that tier finish, starts nothing
//! after it, releases the Lease and says so (exit 130); SIGKILL during the
//! next `up` leaves a Lease that the run after takes over and converges
//! from. Without a cluster: SIGKILL during `hoist build`, at two points,
//! leaves a cache from which the next build gives the same image as a
//! clean one, and no stored blob that differs from its digest.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use sha2::Digest as _;

use crate::app::{App, text};

/// The frontend's node port (unused here: the test never opens it).
const NODE_PORT: u16 = 30095;

/// A spawned `hoist` whose stderr lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(app: &App, args: &[&str]) -> Self {
        let mut child = app
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line of `service` at `stage` (the reporter's
    /// `SERVICE STAGE ...` lines).
    fn wait_for(&mut self, service: &str, stage: &str) {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(900))
                .unwrap_or_else(|e| panic!("no `{service} {stage}` line ({e}): {:#?}", self.seen));
            let mut words = line.split_whitespace();
            let found = words.next() == Some(service) && words.next() == Some(stage);
            self.seen.push(line);
            if found {
                return;
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit code, stdout, and every stderr line.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let output = self.child.wait_with_output().unwrap();
        self.seen.extend(self.lines.try_iter());
        (
            output.status.code(),
            text(&output.stdout),
            self.seen.join("\n"),
        )
    }
}

/// `kubectl ARGS` in the app's namespace.
fn kubectl(app: &App, args: &[&str]) -> std::process::Output {
    let mut with_namespace = vec!["--namespace", app.namespace.as_str()];
    with_namespace.extend_from_slice(args);
    app.kubectl(&with_namespace)
}

fn lease(app: &App) -> Option<Value> {
    let output = kubectl(app, &["get", "lease", "hoist", "-o", "json"]);
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).unwrap())
}

fn action(up: &Value, name: &str) -> String {
    up["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .and_then(|s| s["rollout"]["action"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn sigint_finishes_the_tier_in_progress_and_sigkill_leaves_a_lease_the_next_up_takes_over() {
    let Some(app) = App::on_cluster("interrupt", "hoist-interrupt", NODE_PORT) else {
        return;
    };

    // Ctrl-C while the database's release is being applied.
    let mut up = Running::spawn(&app, &["up"]);
    up.wait_for("database", "release");
    up.signal("INT");
    let (code, stdout, stderr) = up.finish();
    assert_eq!(code, Some(130), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("interrupted: finishing what is in progress"),
        "{stderr}"
    );
    for service in ["backend", "frontend"] {
        assert!(
            stdout.contains(&format!("not started: {service} (interrupted)")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("INTERRUPTED in namespace {}", app.namespace)),
        "{stdout}"
    );
    assert!(lease(&app).is_none(), "the Lease is released");
    let (code, status) = app.hoist_json(&["status"]);
    assert_eq!(code, 0, "{status}");
    let rows = status["services"].as_array().unwrap();
    let database = rows.iter().find(|r| r["service"] == "database").unwrap();
    assert_eq!(database["ready"], database["desired"], "{status}");
    let backend = app.kubectl(&["get", "deployment", "todo-chatbot-backend"]);
    assert!(
        !backend.status.success(),
        "nothing after the database tier was applied"
    );

    // SIGKILL while the backend's release is applied: the Lease stays.
    let mut up = Running::spawn(&app, &["up"]);
    up.wait_for("backend", "release");
    let pid = up.child.id();
    up.signal("KILL");
    let (code, _, _) = up.finish();
    assert_eq!(code, None, "killed by a signal");
    let held = lease(&app).expect("a killed run leaves its Lease");
    let holder = held["spec"]["holderIdentity"].as_str().unwrap().to_owned();
    assert!(holder.contains(&format!("(pid {pid} on ")), "{holder}");

    // The next run takes it over at once (its holder is gone) and converges.
    let (code, up) = app.hoist_json(&["up"]);
    assert_eq!(code, 0, "{up}");
    assert_eq!(up["succeeded"], true, "{up}");
    assert_eq!(up["interrupted"], false, "{up}");
    assert_eq!(action(&up, "database"), "unchanged", "{up}");
    assert!(
        ["installed", "upgraded", "unchanged"].contains(&action(&up, "frontend").as_str()),
        "{up}"
    );
    assert!(lease(&app).is_none(), "released again");

    let output = app.hoist(&["down", "--volumes"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let _ = app.kubectl(&["delete", "namespace", &app.namespace, "--wait=false"]);
}

/// Every file in `dir/blobs/sha256` that is named by a digest holds it.
fn assert_blobs_match_their_names(dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    let mut checked = 0;
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue; // a temporary file, never read as a blob
        }
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            name,
            "{} differs from its digest",
            path.display()
        );
        checked += 1;
    }
    assert!(checked > 0, "no blob in {}", blobs.display());
}

fn built_digest(app: &App, cache: &Path) -> String {
    let output = app
        .command(&["build", "backend", "--json"])
        .env("HOIST_CACHE_DIR", cache)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let built: Value = serde_json::from_slice(&output.stdout).unwrap();
    let image = &built.as_array().unwrap()[0];
    image["manifest_digest"].as_str().unwrap().to_owned()
}

#[test]
fn sigkill_during_build_leaves_a_cache_the_next_build_is_correct_from() {
    if hoist_testkit::mirror::app_bases().is_none() {
        return;
    }
    let app = App::new("interrupt-build", NODE_PORT, None);
    let scratch = tempfile::tempdir().unwrap();
    let killed = scratch.path().join("killed");
    // Killed early (the base being pulled) and later (layers being packed).
    for after in [Duration::from_millis(1500), Duration::from_secs(6)] {
        let mut child = app
            .command(&["build", "backend"])
            .env("HOIST_CACHE_DIR", &killed)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(after);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let after_kill = built_digest(&app, &killed);
    assert_blobs_match_their_names(&killed);
    let clean = built_digest(&app, &scratch.path().join("clean"));
    assert_eq!(
        after_kill, clean,
        "the build after the kills gives the clean image"
    );
}
