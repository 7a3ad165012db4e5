//! `hoist doctor` on a deployed stack and `--explain`.
//!
//! Without a cluster: `--explain` with no endpoint (exit 2, nothing sent),
//! against a stand-in OpenAI-compatible server on 127.0.0.1 (`standin.py`:
//! the request recorded, the streamed answer printed, 401 and 500 named).
//! On the real test cluster: the reference app deployed, then faults
//! planted and left in place, each named by `hoist doctor` with exit 1.
//!
//! Run them with:
//! ```text
//! source /var/lib/hoist-ci/env
//! HOIST_E2E_KUBECONFIG=/var/lib/hoist-k8s/kubeconfig \
//!   PATH=/opt/hoist-tools/bin:$PATH cargo nextest run -p hoist -E 'test(/^stack_doctor::/)'
//! ```

mod cluster;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::app::{eventually, text};

/// This suite's node ports: 30100-30104.
const NODE_PORT: u16 = 30100;

/// The stand-in chat-completions server, stopped when dropped.
pub(crate) struct StandIn {
    child: Child,
    pub(crate) url: String,
    record: PathBuf,
    _dir: tempfile::TempDir,
}

impl StandIn {
    /// Starts it answering `mode`: `ok`, `401` or `500`.
    pub(crate) fn start(mode: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("request.json");
        let port_file = dir.path().join("port");
        let child = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/stack_doctor/standin.py"))
            .arg(mode)
            .arg(&record)
            .arg(&port_file)
            .spawn()
            .unwrap();
        let port = eventually(Duration::from_secs(20), "the stand-in's port", || {
            std::fs::read_to_string(&port_file).ok()
        });
        Self {
            child,
            url: format!("http://127.0.0.1:{port}/v1"),
            record,
            _dir: dir,
        }
    }

    /// The request it received: path, authorization header, body.
    pub(crate) fn request(&self) -> Option<Value> {
        let text = std::fs::read_to_string(&self.record).ok()?;
        serde_json::from_str(&text).ok()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `hoist doctor ARGS` in `dir` with no stack file, no cluster and the
/// given OpenAI variables only.
fn doctor_without_cluster(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("hoist"));
    command
        .env_clear()
        .env("HOME", dir)
        .env("PATH", "/usr/bin:/bin")
        .env("KUBECONFIG", dir.join("no-kubeconfig"))
        .current_dir(dir)
        .arg("doctor")
        .args(args);
    for (k, v) in vars {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[test]
fn explain_without_an_endpoint_exits_2_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let output = doctor_without_cluster(dir.path(), &[], &["--explain"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "--explain has no model endpoint: OPENAI_BASE_URL is not set, so nothing was sent"
        ) && stderr.contains("--explain --dry-run"),
        "{stderr}"
    );
    assert!(text(&output.stdout).is_empty(), "no check ran");

    // --dry-run needs no endpoint: stdout is exactly the request body.
    let output = doctor_without_cluster(
        dir.path(),
        &[("OPENAI_MODEL", "m-dry")],
        &["--explain", "--dry-run"],
    );
    assert_eq!(output.status.code(), Some(1), "the cluster check fails");
    let body: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["model"], "m-dry");
    assert_eq!(body["stream"], true);
    assert!(
        body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("FAIL kubeconfig"),
        "{body}"
    );
    assert!(text(&output.stderr).contains("FAIL kubeconfig"));
}

#[test]
fn explain_streams_the_answer_names_the_model_and_names_401_and_500() {
    let dir = tempfile::tempdir().unwrap();
    let key = hoist_testkit::fake_secret("sk-test", 40, 3);
    let server = StandIn::start("ok");
    let output = doctor_without_cluster(
        dir.path(),
        &[("OPENAI_BASE_URL", &server.url), ("OPENAI_API_KEY", &key)],
        &["--explain", "--model", "asked-model"],
    );
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the cluster check fails: {stdout}"
    );
    assert!(
        stdout.contains("The backend is down: scale it back up.")
            && stdout.contains("answered by model stand-in-model"),
        "{stdout}"
    );
    let request = server.request().expect("a request was recorded");
    assert_eq!(request["path"], "/v1/chat/completions");
    assert_eq!(request["authorization"], format!("Bearer {key}"));
    let body: Value = serde_json::from_str(request["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["model"], "asked-model");
    assert!(!request["body"].as_str().unwrap().contains(&key));

    for (mode, expected) in [
        (
            "401",
            "refused the request (HTTP 401): {\"error\": {\"message\": \"stand-in says 401\"",
        ),
        (
            "500",
            "answered HTTP 500: {\"error\": {\"message\": \"stand-in says 500\"",
        ),
    ] {
        let server = StandIn::start(mode);
        let output = doctor_without_cluster(
            dir.path(),
            &[("OPENAI_BASE_URL", &server.url)],
            &["--explain"],
        );
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("hoist doctor --explain got no answer")
                && stderr.contains(&format!(
                    "the model endpoint {}/chat/completions ",
                    server.url
                ))
                && stderr.contains(expected),
            "{mode}: {stderr}"
        );
    }
}
