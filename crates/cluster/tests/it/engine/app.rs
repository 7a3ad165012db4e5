//! The reference app (a copy of examples/todo-chatbot with a `.env` made at
//! test time) on the Docker engine: through the published URL a user signs
//! up, logs in, adds a task in the chat and reads it back; the task
//! survives `down` and `up` (the database volume); `down --volumes` removes
//! it. And a backend that refuses its configuration fails fast with its own
//! words, the frontend never started.

use std::path::Path;
use std::time::Instant;

use hoist_cluster::engine::{self, Cause, EngineOutcome, LogOptions};
use hoist_imager::NoReporter;
use serde_json::{Value, json};

use super::{TestStack, assert_no_secret, free_port};

/// The example's directory in the repository.
fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/todo-chatbot")
}

/// Copies the example's sources: not its build outputs, dependencies or `.env`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if ["node_modules", ".next", ".hoist", "browser-test"].contains(&name.as_ref())
            || name.starts_with(".env") && name != ".env.example"
        {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The fake credentials of one test.
struct Secrets {
    postgres_password: String,
    jwt_secret: String,
    database_url: String,
}

/// A copy of the example as project `project`, publishing the frontend on
/// `port`, with a `.env` of fake secrets plus `extra` lines.
fn app_stack(project: &str, port: u16, seed: u64, extra: &str) -> (TestStack, Secrets) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&example(), dir.path());
    let stack_file = dir.path().join("hoist.toml");
    let text = std::fs::read_to_string(&stack_file).unwrap();
    let text = text
        .replace(
            "project = \"todo-chatbot\"",
            &format!("project = \"{project}\""),
        )
        .replace("publish = true ", &format!("publish = {port} "));
    assert!(
        text.contains(&format!("publish = {port} ")),
        "the example publishes the frontend"
    );
    std::fs::write(&stack_file, text).unwrap();
    let postgres_password = hoist_testkit::fake_secret("pg-", 24, seed);
    let jwt_secret = hoist_testkit::fake_secret("jwt-", 48, seed + 1);
    // The Kubernetes Service names (`<project>-<service>`) resolve as they do
    // on the cluster.
    let database_url =
        format!("postgresql://todo:{postgres_password}@{project}-database:5432/todo");
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "POSTGRES_PASSWORD={postgres_password}\nDATABASE_URL={database_url}\nJWT_SECRET={jwt_secret}\nBACKEND_URL=http://{project}-backend:8000\n{extra}"
        ),
    )
    .unwrap();
    let secrets = Secrets {
        postgres_password,
        jwt_secret,
        database_url,
    };
    (TestStack::load(dir), secrets)
}

/// A JSON request to the published frontend: status and body.
async fn api(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client
        .request(
            method.parse().unwrap(),
            format!("{base}{}", path.trim_start_matches('/')),
        )
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if !body.is_null() {
        request = request.body(body.to_string());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn log_in(base: &str, password: &str) -> String {
    let credentials = json!({ "username": "milk-buyer", "password": password });
    let (status, body) = api(base, "POST", "/api/auth/login", None, credentials).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

fn assert_up(outcome: &EngineOutcome) {
    assert!(outcome.is_healthy(), "{:#?}", outcome.findings);
    let order: Vec<&str> = outcome
        .services
        .iter()
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(order, ["database", "backend", "frontend"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_app_runs_on_docker_and_keeps_its_tasks_in_the_volume() {
    if hoist_testkit::mirror::app_bases().is_none() {
        return;
    }
    let Some((host, project, _cleanup)) = super::on_the_daemon("hoist-engine-app") else {
        return;
    };
    let port = free_port();
    let (stack, secrets) = app_stack(&project, port, 41, "");
    let planted = [
        secrets.postgres_password.as_str(),
        secrets.jwt_secret.as_str(),
        secrets.database_url.as_str(),
    ];
    let images = stack.build_and_load(&host).await;
    let plan = stack.plan(&host, &images);

    let started = Instant::now();
    let outcome = engine::up(&plan, &NoReporter).await.unwrap();
    #[allow(clippy::print_stdout)] // Recorded in the output, not asserted.
    {
        println!(
            "cold up to all ready: {:.1}s",
            started.elapsed().as_secs_f32()
        );
    }
    assert_up(&outcome);
    let checks: Vec<&str> = outcome.services.iter().map(|s| s.check.as_str()).collect();
    assert_eq!(
        checks,
        [
            "`pg_isready -h 127.0.0.1 -p 5432`",
            "GET /ready on port 8000",
            "GET /healthz on port 3000"
        ]
    );
    let base = format!("http://127.0.0.1:{port}/");
    assert_eq!(outcome.urls[0].url, base);
    assert_eq!(outcome.urls[0].service, "frontend");

    // Sign up, log in, add a task through the chat, read it back.
    let password = hoist_testkit::fake_secret("pw-", 16, 3);
    let credentials = json!({ "username": "milk-buyer", "password": password });
    let (status, body) = api(&base, "POST", "/api/auth/signup", None, credentials).await;
    assert_eq!(status, 201, "{body}");
    let token = log_in(&base, &password).await;
    let (status, body) = api(
        &base,
        "POST",
        "/api/chat",
        Some(&token),
        json!({ "message": "add buy milk" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mode"], "parser", "{body}");
    let (status, tasks) = api(&base, "GET", "/api/tasks", Some(&token), Value::Null).await;
    assert_eq!(status, 200, "{tasks}");
    assert_eq!(tasks[0]["title"], "buy milk", "{tasks}");

    let status = engine::status(&plan.project).await.unwrap();
    assert!(status.all_running(), "{status:#?}");
    assert_eq!(status.volumes, [format!("{project}-database-data")]);
    let mut lines = Vec::new();
    let mut stream = engine::logs(&plan.project, &LogOptions::new(vec![], false, None))
        .await
        .unwrap();
    while let Some(line) = futures::StreamExt::next(&mut stream).await {
        lines.push(line.unwrap());
    }
    assert!(lines.iter().any(|l| l.service == "backend"), "{lines:#?}");
    for (what, json) in [
        ("the outcome", serde_json::to_string(&outcome).unwrap()),
        ("the status", serde_json::to_string(&status).unwrap()),
        ("the logs", serde_json::to_string(&lines).unwrap()),
    ] {
        assert_no_secret(what, &json, &planted);
    }

    // Down keeps the volume; the next up finds the task.
    let down = engine::down(&plan.project, false).await.unwrap();
    assert_eq!(down.containers.len(), 3);
    assert_eq!(down.volumes_kept, [format!("{project}-database-data")]);
    assert_no_secret("down", &serde_json::to_string(&down).unwrap(), &planted);
    let again = engine::up(&plan, &NoReporter).await.unwrap();
    assert_up(&again);
    let token = log_in(&base, &password).await;
    let (status, tasks) = api(&base, "GET", "/api/tasks", Some(&token), Value::Null).await;
    assert_eq!(status, 200, "{tasks}");
    assert_eq!(tasks[0]["title"], "buy milk", "{tasks}");

    let down = engine::down(&plan.project, true).await.unwrap();
    assert_eq!(down.volumes_removed, [format!("{project}-database-data")]);
    let status = engine::status(&plan.project).await.unwrap();
    assert!(
        status.volumes.is_empty() && status.containers.is_empty(),
        "{status:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backend_that_refuses_its_configuration_fails_fast_with_its_own_error() {
    if hoist_testkit::mirror::app_bases().is_none() {
        return;
    }
    let Some((host, project, _cleanup)) = super::on_the_daemon("hoist-engine-refused") else {
        return;
    };
    // hoist accepts any LOG_LEVEL; the app refuses this one at start.
    let (stack, secrets) = app_stack(&project, free_port(), 57, "LOG_LEVEL=chatty\n");
    let images = stack.build_and_load(&host).await;
    let plan = stack.plan(&host, &images);

    let started = Instant::now();
    let outcome = engine::up(&plan, &NoReporter).await.unwrap();
    #[allow(clippy::print_stdout)] // Recorded in the output, not asserted.
    {
        println!("up to the finding: {:.1}s", started.elapsed().as_secs_f32());
    }
    let [finding] = outcome.findings.as_slice() else {
        panic!("one finding expected: {:#?}", outcome.findings);
    };
    assert_eq!(finding.service, "backend");
    assert_eq!(
        finding.container.as_deref(),
        Some(format!("{project}-backend-1").as_str())
    );
    assert_eq!(finding.cause, Cause::Exited);
    assert_eq!(finding.exit_code, Some(2));
    assert!(!finding.oom_killed);
    assert_eq!(
        finding.message,
        "exited with code 2: todo-api: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got 'CHATTY')"
    );
    assert_eq!(
        finding.logs.last().map(String::as_str),
        Some(
            "todo-api: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got 'CHATTY')"
        )
    );
    assert_eq!(outcome.not_started, ["frontend"]);
    let ready: Vec<(&str, bool)> = outcome
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.ready))
        .collect();
    assert_eq!(ready, [("database", true), ("backend", false)]);

    let status = engine::status(&plan.project).await.unwrap();
    assert!(
        status.containers.iter().all(|c| c.service != "frontend"),
        "the frontend was started: {status:#?}"
    );
    let backend = status
        .containers
        .iter()
        .find(|c| c.service == "backend")
        .unwrap();
    assert_eq!(
        (backend.state.as_str(), backend.exit_code),
        ("exited", Some(2))
    );
    assert_no_secret(
        "the outcome",
        &serde_json::to_string(&outcome).unwrap(),
        &[
            &secrets.postgres_password,
            &secrets.jwt_secret,
            &secrets.database_url,
        ],
    );
}
