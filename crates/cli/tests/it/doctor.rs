//! `hoist doctor` against the real Docker daemon and against kubeconfigs
//! whose servers are missing, dead or silent.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// `hoist doctor` in a clean environment: only the variables given, a
/// private HOME, and a PATH without helm or kubectl unless `path` says so.
fn doctor(home: &Path, vars: &[(&str, &str)], path: &str) -> Command {
    let mut command = Command::cargo_bin("hoist").unwrap();
    command
        .env_clear()
        .env("HOME", home)
        .env("PATH", path)
        .arg("doctor");
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

fn json(command: &mut Command) -> (i32, Value) {
    let output = command.arg("--json").output().unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "--json printed invalid JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    (output.status.code().unwrap(), report)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

fn kubeconfig(dir: &Path, server: &str) -> String {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: dead\n\
             clusters:\n- name: dead\n  cluster: {{server: '{server}', insecure-skip-tls-verify: true}}\n\
             contexts:\n- name: dead\n  context: {{cluster: dead, user: dead}}\n\
             users:\n- name: dead\n  user: {{token: not-a-real-token}}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn live_daemon_and_no_cluster_exits_1_naming_minikube_start() {
    let Some(docker_host) = hoist_testkit::service(hoist_testkit::DOCKER) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let assert = doctor(
        home.path(),
        &[("DOCKER_HOST", &docker_host)],
        "/usr/bin:/bin",
    )
    .assert()
    .code(1);
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let docker_line = stdout
        .lines()
        .find(|l| l.starts_with("ok   docker     Docker "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        docker_line.contains("(API 1.") && docker_line.ends_with(&format!(" at {docker_host}")),
        "{docker_line}"
    );
    assert!(stdout.contains(&format!(
        "FAIL kubeconfig no kubeconfig at {}/.kube/config; start a local cluster with `minikube start` (it writes one) or set KUBECONFIG\n                fix: minikube start\n",
        home.path().display()
    )), "{stdout}");

    let (code, report) = json(&mut doctor(
        home.path(),
        &[("DOCKER_HOST", &docker_host)],
        "/usr/bin:/bin",
    ));
    assert_eq!(code, 1);
    assert_eq!(report["ok"], false);
    let docker = check(&report, "docker");
    assert_eq!(docker["status"], "ok");
    assert_eq!(docker["facts"]["endpoint"]["host"], docker_host.as_str());
    assert!(
        docker["facts"]["version"]["api_version"]
            .as_str()
            .unwrap()
            .starts_with("1.")
    );
    assert!(docker_line.contains(docker["facts"]["version"]["version"].as_str().unwrap()));
    assert_eq!(check(&report, "cluster")["status"], "failed");
    assert_eq!(check(&report, "cluster")["fix"], "minikube start");
}

/// The whole human report, with nothing on PATH and no daemon, so every line
/// is deterministic apart from the temporary HOME.
#[test]
fn nothing_installed_report() {
    let home = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let dead = format!("unix://{}/docker.sock", home.path().display());
    let output = doctor(
        home.path(),
        &[("DOCKER_HOST", &dead)],
        empty.path().to_str().unwrap(),
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    insta::with_settings!({ filters => vec![
        (regex_lite_escape(&home.path().display().to_string()), "[HOME]"),
    ]}, {
        insta::assert_snapshot!(stdout);
    });
}

fn regex_lite_escape(text: &str) -> &'static str {
    let escaped: String = text
        .chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect();
    Box::leak(escaped.into_boxed_str())
}

#[test]
fn docker_host_at_a_dead_socket_is_reported_with_the_endpoint() {
    let home = tempfile::tempdir().unwrap();
    // A socket file nobody listens on any more: connect() is refused.
    let socket = home.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let host = format!("unix://{}", socket.display());
    let (code, report) = json(&mut doctor(
        home.path(),
        &[("DOCKER_HOST", &host)],
        "/usr/bin:/bin",
    ));
    assert_eq!(code, 1);
    let docker = check(&report, "docker");
    assert_eq!(docker["status"], "failed");
    assert_eq!(docker["required"], false);
    let summary = docker["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!("the Docker daemon at {host} is unreachable: ")),
        "{summary}"
    );
    assert!(
        summary.ends_with(" (optional: native builds need no daemon)"),
        "{summary}"
    );
}

#[test]
fn refused_api_server_is_named_with_its_context() {
    let home = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("https://127.0.0.1:{port}");
    let config = kubeconfig(home.path(), &server);
    let (code, report) = json(&mut doctor(
        home.path(),
        &[("KUBECONFIG", &config)],
        "/usr/bin:/bin",
    ));
    assert_eq!(code, 1);
    let cluster = check(&report, "cluster");
    assert_eq!(cluster["status"], "failed");
    let summary = cluster["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!(
            "the API server {server} of context \"dead\" is unreachable: "
        )),
        "{summary}"
    );
    assert!(summary.ends_with("; start the cluster (`minikube start`) or switch context (`kubectl config use-context NAME`)"));
    assert_eq!(check(&report, "kubeconfig")["status"], "ok");
    assert_eq!(check(&report, "minikube")["status"], "skipped");
}

#[test]
fn silent_api_server_gives_up_after_the_timeout() {
    let home = tempfile::tempdir().unwrap();
    // Accepts connections and never answers, like a hung or firewalled server.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("https://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(10)));
            let _ = stream.read(&mut buf);
            held.push(stream);
        }
    });
    let config = kubeconfig(home.path(), &server);
    let (code, report) = json(
        doctor(home.path(), &[("KUBECONFIG", &config)], "/usr/bin:/bin").args(["--timeout", "1"]),
    );
    assert_eq!(code, 1);
    let summary = check(&report, "cluster")["summary"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        summary.starts_with(&format!(
            "the API server {server} of context \"dead\" is unreachable: "
        )),
        "{summary}"
    );
    assert!(
        summary.contains("1s"),
        "the timeout should be what ended the wait: {summary}"
    );
}

#[test]
fn malformed_kubeconfig_names_the_file() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("kubeconfig");
    std::fs::write(&path, "apiVersion: v1\nclusters: {this is: [not, a list\n").unwrap();
    let (code, report) = json(&mut doctor(
        home.path(),
        &[("KUBECONFIG", path.to_str().unwrap())],
        "/usr/bin:/bin",
    ));
    assert_eq!(code, 1);
    let summary = check(&report, "kubeconfig")["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!("kubeconfig {} is malformed: ", path.display())),
        "{summary}"
    );
    assert!(
        summary.len()
            > format!("kubeconfig {} is malformed: ; fix the file", path.display()).len() + 10,
        "{summary}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_documents_exit_codes() {
    Command::cargo_bin("hoist")
        .unwrap()
        .args(["doctor", "--no-such-flag"])
        .assert()
        .code(2);
    let help = Command::cargo_bin("hoist")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("Exit codes:\n  0    success"), "{help}");
    assert!(help.contains("  2    usage error"), "{help}");
}

/// Against the real test cluster (opt-in: `.ci/run` exports
/// HOIST_E2E_KUBECONFIG after `cargo xtask k8s up`): every required check
/// passes, and the target is detected, with its evidence, as a cluster that
/// is neither Minikube, kind, k3d nor Docker Desktop.
#[test]
fn real_cluster_passes_and_its_target_is_detected() {
    let Some(kubeconfig) = hoist_testkit::service(hoist_testkit::KUBECONFIG) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let path = std::env::var("PATH").unwrap();
    let (code, report) = json(&mut doctor(
        home.path(),
        &[("KUBECONFIG", &kubeconfig)],
        &path,
    ));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(check(&report, "cluster")["status"], "ok");
    assert!(
        check(&report, "cluster")["facts"]["version"]["git_version"]
            .as_str()
            .unwrap()
            .starts_with("v1.")
    );
    let target = check(&report, "target");
    assert_eq!(target["status"], "ok", "{target:#}");
    assert!(
        target["summary"]
            .as_str()
            .unwrap()
            .contains("is a remote cluster at https://"),
        "{target:#}"
    );
    assert_eq!(target["facts"]["delivery"]["via"], "registry", "{target:#}");
    assert!(
        !target["facts"]["evidence"].as_array().unwrap().is_empty(),
        "{target:#}"
    );
}
