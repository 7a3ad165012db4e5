//! `hoist up` and its lifecycle commands on a copy of the reference app.
//!
//! Without a cluster: the no-kubeconfig and dead-server errors, usage
//! errors, and `hoist render`. On the real test cluster (one stack shared by
//! the scenarios, in the order the issue gives): up from nothing, Chromium
//! through the printed URL, a no-op up, a `.env` change, a source change, a
//! failed upgrade rolled back, status, logs, render, down, down --volumes.
//!
//! Run them with:
//! ```text
//! cargo xtask k8s up
//! source /var/lib/hoist-ci/env
//! HOIST_E2E_KUBECONFIG=/var/lib/hoist-k8s/kubeconfig \
//!   PATH=/opt/hoist-tools/bin:$PATH cargo nextest run -p hoist -E 'test(/^up::/)'
//! ```
//! With `HOIST_E2E_DOCKER_HOST` set (the kubelet runs on that Docker
//! daemon) hoist loads the images there; otherwise they go through the
//! registry in `HOIST_TEST_REGISTRY`, by digest.

mod cluster;

use std::path::Path;

use serde_json::Value;

use crate::app::{App, text};

/// The frontend's node port in the cluster test (30085-30089 are this suite's).
const NODE_PORT: u16 = 30085;

fn kubeconfig_at(dir: &Path, server: &str) -> std::path::PathBuf {
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
    path
}

#[test]
fn no_kubeconfig_exits_1_naming_the_fixes_with_nothing_built() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("no-such-kubeconfig");
    let app = App::new("up-nocluster", NODE_PORT, Some(missing.clone()));
    let _ = std::fs::remove_dir_all(app.dir().join(".hoist/images"));
    let output = app.hoist(&["up"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no cluster to deploy to: no kubeconfig at {}",
            missing.display()
        )) && stderr.contains("start a local cluster (`minikube start`")
            && stderr.contains("give it a registry it pulls from with --registry HOST[/PREFIX]"),
        "{stderr}"
    );
    assert!(
        !app.dir().join(".hoist/images").exists(),
        "nothing is built without a cluster"
    );
    app.assert_clean(&output);

    // A server that refuses connections is named too.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = kubeconfig_at(home.path(), &format!("https://127.0.0.1:{port}"));
    let app = App::new("up-nocluster", NODE_PORT, Some(dead));
    let output = app.hoist(&["up", "--timeout", "2"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no cluster to deploy to: the API server https://127.0.0.1:{port} of context \"dead\" is unreachable"
        )),
        "{stderr}"
    );
}

#[test]
fn usage_and_input_errors_exit_2_naming_the_place() {
    let home = tempfile::tempdir().unwrap();
    let app = App::new("up-usage", NODE_PORT, Some(home.path().join("none")));
    let output = app.hoist(&["up", "frontnd"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no service `frontnd` in {}; the services are: backend, database, frontend",
            app.stack_file().display()
        )),
        "{stderr}"
    );
    let output = app.hoist(&["up", "--only"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("<SERVICE>"));

    std::fs::write(app.dir().join(".env"), "POSTGRES_PASSWORD\n").unwrap();
    let output = app.hoist(&["up"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:1", app.dir().join(".env").display())),
        "{stderr}"
    );
}

#[test]
fn render_shows_what_up_applies_without_a_cluster_and_no_secret() {
    if std::process::Command::new("helm")
        .arg("version")
        .output()
        .is_err()
    {
        assert!(
            !hoist_testkit::services_required(),
            "helm is not on PATH (.ci/tools.sh installs it into /opt/hoist-tools/bin)"
        );
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let app = App::new("up-render", NODE_PORT, Some(home.path().join("none")));
    let (code, list) = app.hoist_json(&["render"]);
    assert_eq!(code, 0, "{list}");
    let items = list["items"].as_array().unwrap();
    let find = |kind: &str, name: &str| -> &Value {
        items
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind}/{name} in {list}"))
    };
    // Hoist's configuration objects come first, their Secrets redacted.
    let secrets: Vec<&Value> = items.iter().filter(|o| o["kind"] == "Secret").collect();
    assert!(!secrets.is_empty());
    for secret in secrets {
        for field in ["data", "stringData"] {
            for value in secret[field].as_object().into_iter().flatten() {
                assert_eq!(value.1, "<redacted>", "{secret}");
            }
        }
    }
    // Object names are the releases': the app's own URLs work.
    let backend = find("Deployment", "todo-chatbot-backend");
    let container = &backend["spec"]["template"]["spec"]["containers"][0];
    assert!(
        container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|e| e["name"] != "DATABASE_URL"),
        "DATABASE_URL comes from hoist's Secret, not the database chart's: {container}"
    );
    let env_from = container["envFrom"].to_string();
    assert!(
        env_from.contains("todo-chatbot-backend-config") || env_from.contains("backend"),
        "{env_from}"
    );
    let frontend = find("Service", "todo-chatbot-frontend");
    assert_eq!(frontend["spec"]["ports"][0]["nodePort"], NODE_PORT);
    find("StatefulSet", "todo-chatbot-database");
    let rendered = list.to_string();
    for secret in &app.planted {
        assert!(
            !rendered.contains(secret.as_str()),
            "a planted secret is rendered"
        );
    }

    // The YAML form says the same; --show-secrets reveals the Secret's data.
    let output = app.hoist(&["render", "backend", "--only", "config", "--show-secrets"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let yaml = text(&output.stdout);
    assert!(
        yaml.starts_with("---\n") && yaml.contains("kind: Secret"),
        "{yaml}"
    );
    assert!(!yaml.contains("<redacted>"), "{yaml}");
}
