//! The commands the charts run in containers, run here for real: the
//! backend's wait-for-database init container (python3) and the database's
//! `pg_isready` probe, against the test `PostgreSQL` server.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::RELEASE;
use super::contract::{pod, pod_template};
use super::helm::Tools;
use super::policy::Rendered;

/// The init container's command (`python3 -c SCRIPT`) from the backend chart.
fn wait_for_database_command(tools: &Tools) -> Vec<String> {
    let rendered = Rendered::parse(&tools.render(RELEASE, "todo-backend", None, &[]));
    let init = pod(pod_template(&rendered, "todo-todo-backend"))
        .init_containers
        .clone()
        .expect("init containers");
    init[0].command.clone().expect("a command")
}

/// Runs a container's command here, failing the test if it has not finished
/// within a minute (a wait that never ends would hang the suite).
fn run(command: &[String], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run the container's command");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("poll").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("stop the command");
            panic!("{} did not finish within a minute", command[0]);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect output")
}

#[test]
fn the_init_container_waits_for_the_database_and_never_prints_the_url() {
    let Some(tools) = Tools::find() else { return };
    let Some(url) = hoist_testkit::service(hoist_testkit::POSTGRES) else {
        return;
    };
    let command = wait_for_database_command(&tools);
    assert_eq!(command[..2], ["python3", "-c"]);

    let up = run(&command, &[("DATABASE_URL", &url)]);
    let stdout = String::from_utf8_lossy(&up.stdout);
    assert!(
        up.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(stdout.starts_with("database 127.0.0.1:"), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("accepts connections"),
        "{stdout}"
    );

    let unset = run(&command, &[]);
    assert_eq!(unset.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&unset.stderr).trim(),
        "DATABASE_URL is not set: give it in the backend Secret or enable database.fromSecret"
    );

    // A closed port: it keeps waiting (and says so) rather than failing.
    let password = hoist_testkit::fake_secret("", 16, 4);
    let closed = format!("postgresql://todo:{password}@127.0.0.1:1/todo");
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .env("DATABASE_URL", &closed)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the wait");
    // The first report arrives after one failed attempt; it is still waiting then.
    let mut first = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("read the first report");
    assert!(
        child.try_wait().expect("poll").is_none(),
        "it stopped waiting: {first}"
    );
    child.kill().expect("stop the wait");
    child.wait().expect("reap the wait");
    let stdout = first;
    assert!(
        stdout.starts_with("waiting for database 127.0.0.1:1: "),
        "{stdout}"
    );
    assert!(!stdout.contains(&password), "the password leaked: {stdout}");
}

#[test]
fn the_database_probe_runs_pg_isready_on_the_container_port() {
    let Some(tools) = Tools::find() else { return };
    let Some(url) = hoist_testkit::service(hoist_testkit::POSTGRES) else {
        return;
    };
    let port = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .expect("a port in the test database URL");
    let probe = |container_port: &str| {
        let set = format!("containerPort={container_port}");
        let rendered =
            Rendered::parse(&tools.render(RELEASE, "todo-database", None, &["--set", &set]));
        let spec = rendered.stateful_sets[0].spec.as_ref().expect("spec");
        let container = &pod(&spec.template).containers[0];
        let probes = [
            &container.startup_probe,
            &container.liveness_probe,
            &container.readiness_probe,
        ];
        let commands: Vec<Vec<String>> = probes
            .iter()
            .map(|p| {
                let exec = p
                    .as_ref()
                    .and_then(|p| p.exec.as_ref())
                    .expect("an exec probe");
                exec.command.clone().expect("a probe command")
            })
            .collect();
        assert!(commands.windows(2).all(|w| w[0] == w[1]), "{commands:?}");
        commands[0].clone()
    };
    let env = [("POSTGRES_USER", "postgres"), ("POSTGRES_DB", "postgres")];
    let ready = run(&probe(port), &env);
    assert!(
        ready.status.success(),
        "pg_isready failed on a running server: {ready:?}"
    );
    let down = run(&probe("1"), &env);
    assert_eq!(
        down.status.code(),
        Some(2),
        "pg_isready on a closed port: {down:?}"
    );
}
