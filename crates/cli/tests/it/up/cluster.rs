//! The reference app on the real test cluster, one stack through the
//! issue's sequence: up from nothing, Chromium through the printed URL, a
//! no-op up, a `.env` change, a source change, a failed upgrade rolled
//! back, status, logs, render, down, down --volumes.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::NODE_PORT;
use crate::app::{App, eventually, http, repo_root, text};

/// The service's part of an `up --json` document.
fn service<'a>(up: &'a Value, name: &str) -> &'a Value {
    up["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {up}"))
}

fn action(up: &Value, name: &str) -> String {
    service(up, name)["rollout"]["action"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Drives Chromium through `url`: sign up, log in, "add buy milk" in the
/// chat; the task list it ends with.
fn browser(app: &App, url: &str) -> Value {
    let tests = app.root.join("examples/todo-chatbot/browser-test");
    if !tests.join("node_modules/playwright-core").is_dir() {
        let npm = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&tests)
            .output()
            .unwrap();
        assert!(npm.status.success(), "npm ci: {}", text(&npm.stderr));
    }
    let password = hoist_testkit::fake_secret("pw", 16, 7);
    let output = Command::new("node")
        .arg(repo_root().join("crates/cli/tests/it/up/browser.mjs"))
        .args([url, "browser_user", &password])
        .env("PLAYWRIGHT_FROM", &tests)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the browser flow failed:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
#[allow(clippy::too_many_lines)] // One stack through the whole sequence, in order.
fn the_reference_app_from_nothing_to_ready_and_through_every_lifecycle_command() {
    let Some(mut app) = App::on_cluster("up-app", "hoist-up", NODE_PORT) else {
        return;
    };

    // A cluster hoist cannot load into, and no registry: both fixes named,
    // before anything is built.
    if app.via_registry() {
        let output = app.hoist_without_registry(&["up"]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("has no way to get hoist's images")
                && stderr.contains("pass --registry HOST[/PREFIX] (or add a [registry] table to")
                && stderr.contains("`minikube start`"),
            "{stderr}"
        );
    }

    // From nothing to all Ready, with the URL that works here.
    let (code, first) = app.hoist_json(&["up"]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(first["succeeded"], true, "{first}");
    for name in ["database", "backend", "frontend"] {
        let rollout = &service(&first, name)["rollout"];
        assert_eq!(rollout["action"], "installed", "{name}: {first}");
        assert_eq!(rollout["ready"], rollout["desired"], "{name}: {first}");
        assert!(
            service(&first, name)["image"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
    }
    let url = format!("http://127.0.0.1:{NODE_PORT}");
    assert_eq!(
        service(&first, "frontend")["access"]["url"],
        url.as_str(),
        "{first}"
    );
    eventually(Duration::from_secs(60), "the frontend's page", || {
        http(NODE_PORT, "GET", "/", None, "")
            .ok()
            .filter(|(status, _)| *status == 200)
    });
    let tasks = browser(&app, &url);
    assert!(tasks["tasks"].to_string().contains("buy milk"), "{tasks}");

    // Nothing changed: nothing built, delivered or upgraded.
    let (code, second) = app.hoist_json(&["up"]);
    assert_eq!(code, 0, "{second}");
    for name in ["database", "backend", "frontend"] {
        let s = service(&second, name);
        assert_eq!(s["build"]["cached"], true, "{name}: {second}");
        assert_eq!(s["deliver"]["skipped"], true, "{name}: {second}");
        assert_eq!(s["deliver"]["bytes_sent"], 0, "{name}: {second}");
        assert_eq!(s["rollout"]["action"], "unchanged", "{name}: {second}");
        assert_eq!(
            s["rollout"]["revision"],
            service(&first, name)["rollout"]["revision"]
        );
        assert_eq!(s["image"], service(&first, name)["image"]);
    }
    // ... and the table for people still says what runs where.
    let output = app.hoist(&["up"]);
    let table = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{table}{}",
        text(&output.stderr)
    );
    let frontend_row = table
        .lines()
        .find(|l| l.starts_with("frontend "))
        .unwrap_or_else(|| panic!("{table}"));
    let image = service(&first, "frontend")["image"].as_str().unwrap();
    assert!(
        frontend_row.contains(image)
            && frontend_row.contains(" 1/1 ")
            && frontend_row.ends_with(&url),
        "{table}"
    );
    assert!(table.starts_with("SERVICE "), "{table}");
    app.assert_clean(&output);

    // One backend .env value: only the backend's pods are replaced, no
    // image rebuilt or re-sent.
    let (backend_pods, frontend_pods, database_pods) = (
        app.pod_uids("backend"),
        app.pod_uids("frontend"),
        app.pod_uids("database"),
    );
    app.write_env(&[("OPENAI_MODEL", "e2e-model")]);
    let (code, env_change) = app.hoist_json(&["up"]);
    assert_eq!(code, 0, "{env_change}");
    assert_eq!(action(&env_change, "backend"), "upgraded", "{env_change}");
    assert_eq!(action(&env_change, "frontend"), "unchanged", "{env_change}");
    assert_eq!(action(&env_change, "database"), "unchanged", "{env_change}");
    let backend = service(&env_change, "backend");
    assert_eq!(backend["build"]["cached"], true, "{env_change}");
    assert_eq!(backend["deliver"]["skipped"], true, "{env_change}");
    let replaced = app.pod_uids("backend");
    assert!(
        replaced.iter().all(|uid| !backend_pods.contains(uid)),
        "{backend_pods:?} -> {replaced:?}"
    );
    assert_eq!(app.pod_uids("frontend"), frontend_pods);
    assert_eq!(app.pod_uids("database"), database_pods);

    // One backend source file: only the backend image is rebuilt (one
    // layer) and re-delivered; the database is untouched.
    let source = app.dir().join("backend/todo_api/__init__.py");
    let mut code_text = std::fs::read_to_string(&source).unwrap();
    let _ = writeln!(
        code_text,
        "# changed by the e2e test {}",
        std::process::id()
    );
    std::fs::write(&source, code_text).unwrap();
    let (code, source_change) = app.hoist_json(&["up"]);
    assert_eq!(code, 0, "{source_change}");
    let backend = service(&source_change, "backend");
    assert_eq!(backend["build"]["layers_packed"], 1, "{source_change}");
    assert_eq!(backend["build"]["prepare_run"], 0, "{source_change}");
    assert_eq!(backend["deliver"]["skipped"], false, "{source_change}");
    assert!(backend["deliver"]["bytes_sent"].as_u64().unwrap() > 0);
    assert_ne!(backend["image"], service(&env_change, "backend")["image"]);
    assert_eq!(action(&source_change, "backend"), "upgraded");
    assert_eq!(action(&source_change, "database"), "unchanged");
    assert_eq!(service(&source_change, "database")["build"]["cached"], true);
    assert_eq!(app.pod_uids("database"), database_pods);

    // rollback: the backend goes back one revision (the previous image),
    // gated on readiness.
    let before = app.pod_uids("backend");
    let (code, rolled) = app.hoist_json(&["rollback", "backend"]);
    assert_eq!(code, 0, "{rolled}");
    assert_eq!(rolled["succeeded"], true, "{rolled}");
    let backend = rolled["rollbacks"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "backend")
        .unwrap_or_else(|| panic!("{rolled}"));
    assert_eq!(backend["ready"], backend["desired"], "{rolled}");
    assert!(
        app.pod_uids("backend")
            .iter()
            .all(|uid| !before.contains(uid)),
        "the rollback replaced the backend's pods"
    );

    assert_eq!(
        backend["revision"].as_u64().unwrap(),
        service(&source_change, "backend")["rollout"]["revision"]
            .as_u64()
            .unwrap()
            + 1,
        "{rolled}"
    );

    // A backend .env that breaks its start: exit 1, the finding first, the
    // previous backend still serving through the same URL.
    let credentials = serde_json::json!({
        "username": "api_user",
        "password": hoist_testkit::fake_secret("pw", 16, 8),
    })
    .to_string();
    let (status, body) = http(NODE_PORT, "POST", "/api/auth/signup", None, &credentials).unwrap();
    assert_eq!(status, 201, "{body}");
    let token: Value = serde_json::from_str(&body).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    app.write_env(&[("OPENAI_MODEL", "e2e-model"), ("JWT_SECRET", "too-short")]);
    let output = app.hoist(&["up"]);
    let report = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{report}{}",
        text(&output.stderr)
    );
    // The crashed container's own line is in the finding when containerd
    // still has its log (it can be gone after a quick restart).
    assert!(
        report.starts_with("FAIL backend Pod/todo-chatbot-backend-"),
        "{report}"
    );
    assert!(report.contains(": crash-loop: "), "{report}");
    assert!(report.contains("\nreport: "), "{report}");
    assert!(
        report.contains("\nrolled back: backend (revision "),
        "{report}"
    );
    app.assert_clean(&output);
    let (status, body) = http(NODE_PORT, "GET", "/api/tasks", Some(&token), "").unwrap();
    assert_eq!(status, 200, "the previous backend serves: {body}");
    app.write_env(&[("OPENAI_MODEL", "e2e-model")]);

    // status, logs and render.
    let (code, status) = app.hoist_json(&["status"]);
    assert_eq!(code, 0, "{status}");
    let rows = status["services"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{status}");
    for row in rows {
        assert_eq!(row["ready"], row["desired"], "{status}");
        assert!(row["revision"].as_u64().unwrap() >= 1, "{status}");
    }
    let frontend = rows.iter().find(|r| r["service"] == "frontend").unwrap();
    assert_eq!(frontend["access"]["url"], url.as_str(), "{status}");

    let output = app.hoist(&["logs", "backend"]);
    let logs = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        logs.lines().any(|l| l.starts_with("todo-chatbot-backend-")
            && l.contains("/backend {\"ts\"")
            && l.contains("Application startup complete")),
        "{logs}"
    );
    app.assert_clean(&output);

    // -F follows: the first line arrives, then hoist keeps streaming until stopped.
    let mut follow = app
        .command(&["logs", "backend", "-F", "--tail", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    assert!(
        follow.try_wait().unwrap().is_none(),
        "logs -F keeps running"
    );
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(line.starts_with("todo-chatbot-backend-"), "{line:?}");

    let output = app.hoist(&["render"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("kind: Deployment"));
    app.assert_clean(&output);

    // down keeps the claim; down --volumes removes it.
    let (code, removed) = app.hoist_json(&["down"]);
    assert_eq!(code, 0, "{removed}");
    assert_eq!(
        removed["releases"].as_array().unwrap().len(),
        3,
        "{removed}"
    );
    let helm = Command::new("helm")
        .args(["list", "-q", "-n", &app.namespace, "--kubeconfig"])
        .arg(app.kubeconfig.as_ref().unwrap())
        .output()
        .unwrap();
    assert_eq!(text(&helm.stdout).trim(), "", "releases left");
    assert!(app.kubectl_items("deployments,statefulsets", "").is_empty());
    assert_eq!(app.kubectl_items("persistentvolumeclaims", "").len(), 1);
    // The database's Secret stays with its claim (the data was initialised
    // with its password); the backend's configuration, with no claim, goes.
    let database_config = "app.kubernetes.io/name=database,app.kubernetes.io/managed-by=hoist";
    let kept_secrets = app.kubectl_items("secrets", database_config);
    assert!(
        !kept_secrets.is_empty(),
        "the database's Secret is kept: {removed}"
    );
    let kept: Vec<&str> = removed["kept"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        kept.iter().any(|k| k.starts_with("PersistentVolumeClaim/")),
        "{removed}"
    );
    for secret in &kept_secrets {
        let name = format!("Secret/{}", secret["metadata"]["name"].as_str().unwrap());
        assert!(kept.contains(&name.as_str()), "{name} not in {removed}");
    }
    assert!(
        app.kubectl_items(
            "secrets",
            "app.kubernetes.io/name=backend,app.kubernetes.io/managed-by=hoist"
        )
        .is_empty(),
        "{removed}"
    );
    let (code, removed) = app.hoist_json(&["down", "--volumes"]);
    assert_eq!(code, 0, "{removed}");
    assert_eq!(removed["volumes"].as_array().unwrap().len(), 1, "{removed}");
    assert!(
        app.kubectl_items("secrets", database_config).is_empty(),
        "--volumes deletes the database's Secret too: {removed}"
    );
    eventually(Duration::from_secs(60), "the claim is deleted", || {
        app.kubectl_items("persistentvolumeclaims", "")
            .is_empty()
            .then_some(())
    });

    let _ = app.kubectl(&["delete", "namespace", &app.namespace, "--wait=false"]);
}
