//! `hoist up --engine docker` and its lifecycle commands through the real
//! binary, on a copy of the reference app, against the CI dockerd.
//!
//! Without a daemon: the engine is chosen by the flag over hoist.toml, a
//! missing engine is named (DOCKER_HOST and the fix) before anything is
//! built, and `--registry` is refused. With the daemon (`HOIST_TEST_DOCKER_HOST`)
//! and the bases: up, the printed URL serves the page and the API (sign up,
//! "add buy milk" in the chat, read it back), a second up does nothing,
//! status, logs, down, up again keeps the task, down --volumes; then a
//! backend that refuses its configuration, named first, the frontend never
//! started.
//!
//! Each run uses its own project (`hoist-wire-<pid>`) and a free loopback
//! port for the frontend, so it never collides with the other suites:
//! ```text
//! source /var/lib/hoist-ci/env
//! PATH=/opt/hoist-tools/bin:$PATH cargo nextest run -p hoist --test it engine
//! ```

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::app::{App, eventually, free_port, http, text};

/// Written into the test profile by [`App::new`]; no cluster is used here.
const UNUSED_NODE_PORT: u16 = 30089;

/// Renames the copy's project (every Docker name derives from it) and
/// publishes the frontend on `port`; `extra` is appended at the top level.
pub(crate) fn retarget(app: &App, project: &str, port: u16, extra: &str) {
    let text = std::fs::read_to_string(app.stack_file()).unwrap();
    let text = text
        .replace(
            "project = \"todo-chatbot\"",
            &format!("project = \"{project}\"\n{extra}"),
        )
        .replace("publish = true ", &format!("publish = {port} "));
    assert!(text.contains(&format!("publish = {port} ")), "{text}");
    std::fs::write(app.stack_file(), text).unwrap();
}

/// A copy of the reference app on the CI dockerd, as its own project
/// `<prefix>-<pid>` with the frontend published on a free port and the
/// `.env` the engine needs; `None` without the daemon or the mirror of the
/// app's bases.
pub(crate) struct OnEngine {
    pub(crate) app: App,
    pub(crate) cleanup: Cleanup,
    pub(crate) project: String,
    /// The frontend's published port.
    pub(crate) port: u16,
    /// The `.env` values written for the engine's network.
    pub(crate) database_url: String,
    pub(crate) backend_url: String,
    /// Holds the (missing) kubeconfig's directory for the test's length.
    pub(crate) home: tempfile::TempDir,
}

impl OnEngine {
    pub(crate) fn start(name: &str, prefix: &str, node_port: u16) -> Option<Self> {
        let host = hoist_testkit::service(hoist_testkit::DOCKER)?;
        hoist_testkit::mirror::app_bases()?;
        let home = tempfile::tempdir().unwrap();
        let mut app =
            App::new(name, node_port, Some(home.path().join("no-kubeconfig"))).on_docker(&host);
        let project = format!("{prefix}-{}", std::process::id());
        let cleanup = Cleanup {
            host,
            project: project.clone(),
        };
        cleanup.run(); // What an earlier, killed run of this pid left.
        let port = free_port();
        retarget(&app, &project, port, "");
        // The Kubernetes Service names (`<project>-<service>`) resolve on the
        // engine's network too: the same `.env` shape as for the cluster.
        let password = app.planted[0].clone();
        let database_url = format!("postgresql://todo:{password}@{project}-database:5432/todo");
        let backend_url = format!("http://{project}-backend:8000");
        app.write_env(&[
            ("DATABASE_URL", database_url.as_str()),
            ("BACKEND_URL", backend_url.as_str()),
        ]);
        app.planted.push(database_url.clone());
        Some(Self {
            app,
            cleanup,
            project,
            port,
            database_url,
            backend_url,
            home,
        })
    }
}

/// Removes whatever the project left on the daemon, also when the test fails.
pub(crate) struct Cleanup {
    pub(crate) host: String,
    pub(crate) project: String,
}

impl Cleanup {
    pub(crate) fn docker(&self, args: &[&str]) -> String {
        Command::new("docker")
            .env("DOCKER_HOST", &self.host)
            .args(args)
            .output()
            .map(|o| text(&o.stdout))
            .unwrap_or_default()
    }

    pub(crate) fn run(&self) {
        let filter = format!("label=hoist.dev/project={}", self.project);
        for id in self
            .docker(&["ps", "-aq", "--filter", &filter])
            .split_whitespace()
        {
            self.docker(&["rm", "-f", id]);
        }
        self.docker(&["network", "rm", &format!("{}-net", self.project)]);
        for name in self
            .docker(&["volume", "ls", "-q", "--filter", &filter])
            .split_whitespace()
        {
            self.docker(&["volume", "rm", "-f", name]);
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.run();
    }
}

fn service<'a>(up: &'a Value, name: &str) -> &'a Value {
    up["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {up}"))
}

/// `hoist ARGS` that must exit 0, with no planted secret in its output: stdout.
fn ok(app: &App, args: &[&str]) -> String {
    let output = app.hoist(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "hoist {args:?}:\nstdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    app.assert_clean(&output);
    text(&output.stdout)
}

/// A JSON request through the published frontend: status and body.
fn api(port: u16, method: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, text) = http(port, method, path, token, &body)
        .unwrap_or_else(|e| panic!("{method} {path} on port {port}: {e}"));
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn log_in(port: u16, password: &str) -> String {
    let credentials = json!({ "username": "milk-buyer", "password": password });
    let (status, body) = api(port, "POST", "/api/auth/login", None, &credentials);
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

fn tasks(port: u16, token: &str) -> Value {
    let (status, tasks) = api(port, "GET", "/api/tasks", Some(token), &Value::Null);
    assert_eq!(status, 200, "{tasks}");
    tasks
}

#[test]
fn the_engine_flag_wins_and_a_missing_engine_is_named_before_anything_is_built() {
    let home = tempfile::tempdir().unwrap();
    let app = App::new(
        "engine-offline",
        UNUSED_NODE_PORT,
        Some(home.path().join("no-kubeconfig")),
    )
    .on_docker("unix:///nonexistent/hoist-wire.sock");
    retarget(
        &app,
        &format!("hoist-wire-offline-{}", std::process::id()),
        free_port(),
        "engine = \"docker\"",
    );
    let _ = std::fs::remove_dir_all(app.dir().join(".hoist/images"));

    // hoist.toml says docker: every lifecycle command asks that daemon.
    for args in [
        vec!["up"],
        vec!["status"],
        vec!["logs", "backend"],
        vec!["down"],
    ] {
        let output = app.hoist(&args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(
                "no Docker engine answers at unix:///nonexistent/hoist-wire.sock (DOCKER_HOST)"
            ) && stderr.contains("start Docker, or set DOCKER_HOST to a running daemon"),
            "{args:?}: {stderr}"
        );
        app.assert_clean(&output);
    }
    assert!(
        !app.dir().join(".hoist/images").exists(),
        "nothing is built without an engine"
    );

    // The flag wins over hoist.toml: kubernetes looks for a cluster.
    let output = app.hoist(&["status", "--engine", "kubernetes"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no cluster to deploy to: no kubeconfig at"),
        "{stderr}"
    );

    // A registry has no place on the Docker engine; an unknown engine is a usage error.
    let output = app.hoist(&["up", "--registry", "127.0.0.1:5000"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("leave --registry out"), "{stderr}");
    let output = app.hoist(&["up", "--engine", "podman"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("[possible values: kubernetes, docker]"),
        "{stderr}"
    );
}

#[test]
#[allow(clippy::too_many_lines)] // One project through the whole sequence, in order.
fn the_reference_app_on_the_docker_engine_through_up_status_logs_and_down() {
    let Some(on) = OnEngine::start("engine-app", "hoist-wire", UNUSED_NODE_PORT) else {
        return;
    };
    let OnEngine {
        mut app,
        cleanup,
        project,
        port,
        database_url,
        backend_url,
        home: _home,
    } = on;
    let host = cleanup.host.clone();

    // From nothing to all ready; the table names the URL.
    let stdout = ok(&app, &["up", "--engine", "docker"]);
    let url = format!("http://127.0.0.1:{port}/");
    let frontend_row = stdout
        .lines()
        .find(|l| l.starts_with("frontend "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        frontend_row.contains("sha256:") && frontend_row.contains("1/1"),
        "{stdout}"
    );
    assert!(frontend_row.ends_with(&url), "{stdout}");
    assert!(
        stdout.contains(&format!("ready on the Docker engine at {host}")),
        "{stdout}"
    );

    // The page and the API through the printed URL.
    let (status, page) = http(port, "GET", "/", None, "").unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Todo AI Chatbot"), "{page}");
    let user_password = hoist_testkit::fake_secret("pw-", 16, 5);
    app.planted.push(user_password.clone());
    let credentials = json!({ "username": "milk-buyer", "password": user_password });
    let (status, body) = api(port, "POST", "/api/auth/signup", None, &credentials);
    assert_eq!(status, 201, "{body}");
    let token = log_in(port, &user_password);
    let (status, body) = api(
        port,
        "POST",
        "/api/chat",
        Some(&token),
        &json!({ "message": "add buy milk" }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(tasks(port, &token)[0]["title"], "buy milk");

    // A second up does nothing: cached, already loaded, containers kept.
    let (code, again) = app.hoist_json(&["up", "--engine", "docker"]);
    assert_eq!(code, 0, "{again}");
    assert_eq!(again["succeeded"], true, "{again}");
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["engine"], "docker", "{again}");
    assert_eq!(again["urls"][0]["url"], url.as_str(), "{again}");
    for name in ["database", "backend", "frontend"] {
        let summary = service(&again, name);
        let skipped: Vec<&str> = summary["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert_eq!(skipped, ["build", "deliver", "rollout"], "{name}: {again}");
        for container in summary["run"]["containers"].as_array().unwrap() {
            assert_eq!(container["action"], "unchanged", "{name}: {again}");
        }
        assert_eq!(summary["ready"], summary["desired"], "{name}: {again}");
    }

    // status: every container running, the volume there.
    let (code, status) = app.hoist_json(&["status", "--engine", "docker"]);
    assert_eq!(code, 0, "{status}");
    let containers = status["containers"].as_array().unwrap();
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "one container per service: {status}");
    for c in containers {
        assert_eq!(c["state"], "running", "{status}");
    }
    let volume = format!("{project}-database-data");
    assert_eq!(status["volumes"], json!([volume]), "{status}");
    assert_eq!(status["network"], format!("{project}-net"), "{status}");

    // logs: the backend's own JSON start-up line, prefixed with its container.
    let logs = ok(&app, &["logs", "backend", "--engine", "docker"]);
    assert!(
        logs.lines().any(
            |l| l.starts_with(&format!("{project}-backend-1 | {{\"ts\""))
                && l.contains("Application startup complete")
        ),
        "{logs}"
    );
    assert!(
        !logs
            .lines()
            .any(|l| l.starts_with(&format!("{project}-frontend"))),
        "only the backend's lines: {logs}"
    );

    // down keeps the volume; up again finds the task in it.
    let stdout = ok(&app, &["down", "--engine", "docker"]);
    assert!(
        stdout.contains(&format!("volumes kept: {volume}")),
        "{stdout}"
    );
    let (_, status) = app.hoist_json(&["status", "--engine", "docker"]);
    assert_eq!(status["containers"], json!([]), "{status}");
    let (code, back) = app.hoist_json(&["up", "--engine", "docker"]);
    assert_eq!(code, 0, "{back}");
    assert_eq!(back["changed"], true, "{back}");
    let token = eventually(Duration::from_secs(30), "log in again", || {
        let credentials = json!({ "username": "milk-buyer", "password": user_password });
        let (status, body) = api(port, "POST", "/api/auth/login", None, &credentials);
        (status == 200).then(|| body["token"].as_str().unwrap().to_owned())
    });
    assert_eq!(tasks(port, &token)[0]["title"], "buy milk");

    // down --volumes takes the data too.
    let (code, removed) = app.hoist_json(&["down", "--engine", "docker", "--volumes"]);
    assert_eq!(code, 0, "{removed}");
    assert_eq!(removed["volumes_removed"], json!([volume]), "{removed}");
    assert_eq!(removed["network_removed"], true, "{removed}");
    assert_eq!(
        removed["containers"].as_array().unwrap().len(),
        3,
        "{removed}"
    );
    assert_eq!(
        cleanup.docker(&["volume", "ls", "-q", "--filter", &format!("name={volume}")]),
        ""
    );

    // A backend that refuses a value hoist accepts: exit 1, the finding
    // first with the backend's own words, the frontend never started.
    app.write_env(&[
        ("DATABASE_URL", database_url.as_str()),
        ("BACKEND_URL", backend_url.as_str()),
        ("LOG_LEVEL", "chatty"),
    ]);
    app.planted.extend([database_url, user_password]);
    let output = app.hoist(&["up", "--engine", "docker"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    app.assert_clean(&output);
    assert!(
        stdout.starts_with(&format!(
            "FAIL backend container {project}-backend-1: exited: exited with code 2: todo-api: LOG_LEVEL must be one of"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("not started: frontend (a service it depends on failed)")
            && stdout.contains("FAILED on the Docker engine"),
        "{stdout}"
    );
    let (_, status) = app.hoist_json(&["status", "--engine", "docker", "frontend"]);
    assert_eq!(status["containers"], json!([]), "{status}");
}
