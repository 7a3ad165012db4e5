//! The reference app's images, built from `examples/todo-chatbot/hoist.toml`
//! on its public bases (from the mirror in `HOIST_REGISTRY_MIRRORS`: CI's
//! Debian-built stand-ins), loaded into the real dockerd and served over
//! HTTP: the backend against the real PostgreSQL, the frontend on its own.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hoist_imager::{Built, NoReporter, Recipe, Registries};
use hoist_testkit::mirror::Mirror;

use crate::support::run;

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/todo-chatbot")
        .canonicalize()
        .unwrap()
}

fn recipe(service: &str) -> Recipe {
    Recipe::from_stack_file(&example_dir().join("hoist.toml"), service).unwrap()
}

/// One cache for the app's builds across runs (the cache's lock makes
/// sharing safe): pip and npm run again only when their inputs change.
fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("imager-app-cache")
}

/// Builds `service` into `out` with the shared cache and the mirrors of the
/// environment, and checks that its base is the one `mirror` holds.
fn build_through(mirror: &Mirror, service: &str, out: &Path) -> Built {
    let mut options = crate::support::options(service, out, &shared_cache());
    options.registries = Registries::from_env();
    let built = hoist_imager::build(&recipe(service), &options, &NoReporter).unwrap();
    assert_eq!(built.layers[0].name, "base");
    assert_eq!(
        [built.layers[0].diff_id.as_str()],
        mirror.diff_ids(service),
        "the {service} image's base is not the one the mirror {} holds",
        mirror.address
    );
    built
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET over plain HTTP/1.0; the status line and body once the server answers.
fn get(port: u16, path: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let mut response = String::new();
            if stream.read_to_string(&mut response).is_ok() && !response.is_empty() {
                return response;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nothing answered on 127.0.0.1:{port}{path}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

struct Container<'a> {
    host: &'a str,
    id: String,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["-H", self.host, "rm", "-f", &self.id])
            .output();
    }
}

fn docker_run<'a>(host: &'a str, reference: &str, env: &[(&str, String)]) -> Container<'a> {
    let mut cmd = Command::new("docker");
    cmd.args(["-H", host, "run", "-d", "--network", "host"]);
    for (k, v) in env {
        cmd.arg("-e").arg(format!("{k}={v}"));
    }
    let id = run(cmd.arg(reference)).trim().to_owned();
    Container { host, id }
}

#[test]
fn the_backend_image_serves_health_and_readiness_against_postgres() {
    let Some(host) = hoist_testkit::service(hoist_testkit::DOCKER) else {
        return;
    };
    let Some(database) = hoist_testkit::service(hoist_testkit::POSTGRES) else {
        return;
    };
    let Some(mirror) = hoist_testkit::mirror::app_bases() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let built = build_through(&mirror, "backend", out.path());
    assert_eq!(
        built
            .layers
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["base", "deps", "app"]
    );
    run(Command::new("docker")
        .args(["-H", &host, "load", "-i"])
        .arg(&built.archive));

    let name = format!("hoist_imager_it_{}", std::process::id());
    let psql = |sql: &str| {
        run(Command::new("psql").args([database.as_str(), "-v", "ON_ERROR_STOP=1", "-c", sql]))
    };
    psql(&format!("DROP DATABASE IF EXISTS {name}"));
    psql(&format!("CREATE DATABASE {name}"));
    let url = format!("{}/{name}", database.rsplit_once('/').unwrap().0);
    let port = free_port();
    let jwt = hoist_testkit::fake_secret("test-jwt-", 40, 7);
    let container = docker_run(
        &host,
        &built.reference,
        &[
            ("DATABASE_URL", url),
            ("JWT_SECRET", jwt),
            ("PORT", port.to_string()),
        ],
    );
    let health = get(port, "/health", Duration::from_secs(90));
    assert!(
        health.starts_with("HTTP/1.1 200") || health.starts_with("HTTP/1.0 200"),
        "{health}"
    );
    // The backend answers 503 until it has created its schema; ready means
    // a 200 within the deadline, whatever came before it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ready = get(port, "/ready", Duration::from_secs(30));
    while !ready.contains(" 200 ") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        ready = get(port, "/ready", Duration::from_secs(5));
    }
    assert!(ready.contains(" 200 "), "{ready}");
    let user = run(Command::new("docker").args(["-H", &host, "exec", &container.id, "id", "-u"]));
    assert_eq!(user.trim(), "10001");
    drop(container);
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    let _ = Command::new("docker")
        .args(["-H", &host, "rmi", &built.reference])
        .output();
}

#[test]
fn the_frontend_image_serves_healthz() {
    let Some(host) = hoist_testkit::service(hoist_testkit::DOCKER) else {
        return;
    };
    let Some(mirror) = hoist_testkit::mirror::app_bases() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let built = build_through(&mirror, "frontend", out.path());
    assert!(built.uncompressed_size < 300_000_000);
    run(Command::new("docker")
        .args(["-H", &host, "load", "-i"])
        .arg(&built.archive));
    let port = free_port();
    let container = docker_run(
        &host,
        &built.reference,
        &[
            ("PORT", port.to_string()),
            ("BACKEND_URL", "http://127.0.0.1:9".to_owned()),
        ],
    );
    let healthz = get(port, "/healthz", Duration::from_secs(90));
    assert!(
        healthz.contains(" 200 ") && healthz.contains("ok"),
        "{healthz}"
    );
    drop(container);
    let _ = Command::new("docker")
        .args(["-H", &host, "rmi", &built.reference])
        .output();
}
