//! The reference app on the real test cluster: healthy (no workload
//! finding, exit 0), then faults planted and left in place, each named by
//! `hoist doctor` with exit 1: a pod that cannot be scheduled (`up
//! --no-rollback`), an image changed by hand (`kubectl set image`: the
//! image cannot be pulled, and drift), the backend scaled to 0 by hand
//! (its Service without endpoints, the frontend up while it is down), with
//! `--explain` sending the findings and no secret to the stand-in.

use std::time::Duration;

use serde_json::Value;

use super::{NODE_PORT, StandIn};
use crate::app::{App, eventually, text};

fn findings(doc: &Value) -> Vec<Value> {
    doc["workloads"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn has(doc: &Value, service: &str, cause: &str) -> bool {
    findings(doc)
        .iter()
        .any(|f| f["service"] == service && f["cause"] == cause)
}

/// Runs `hoist doctor --json` until `ready` holds for it; the last document.
fn doctor_until(app: &App, what: &str, ready: impl Fn(&Value) -> bool) -> (i32, Value) {
    eventually(Duration::from_secs(180), what, || {
        let (code, doc) = app.hoist_json(&["doctor"]);
        ready(&doc).then_some((code, doc))
    })
}

#[test]
#[allow(clippy::too_many_lines)] // One stack through the faults, in order.
fn doctor_names_each_planted_fault_and_a_healthy_stack_has_none() {
    let Some(kubeconfig) = hoist_testkit::service_path(hoist_testkit::KUBECONFIG) else {
        return;
    };
    if hoist_testkit::mirror::app_bases().is_none()
        || (std::env::var_os("HOIST_E2E_DOCKER_HOST").is_none()
            && hoist_testkit::service(hoist_testkit::REGISTRY).is_none())
    {
        return;
    }
    let app = App::new("doctor-app", NODE_PORT, Some(kubeconfig));
    let cleanup = Cleanup(&app);

    let (code, up) = app.hoist_json(&["up"]);
    assert_eq!(code, 0, "{up}");

    // Healthy: no workload finding, exit 0.
    let (code, healthy) = app.hoist_json(&["doctor"]);
    assert_eq!(code, 0, "{healthy}");
    assert_eq!(findings(&healthy), Vec::<Value>::new(), "{healthy}");
    assert_eq!(healthy["workloads"]["errors"], 0);
    for tier in healthy["workloads"]["tiers"].as_array().unwrap() {
        assert_eq!(tier["ready"], true, "{healthy}");
    }

    // 1. Unschedulable, left in place by `up --no-rollback`.
    let stack = std::fs::read_to_string(app.stack_file()).unwrap();
    let huge = stack.replacen(
        "[profiles.e2e.services.backend.chart.set]\n\"resources.requests.cpu\" = \"10m\"",
        // The limit too: a request above its limit is refused by the API server.
        "[profiles.e2e.services.backend.chart.set]\n\"resources.requests.cpu\" = \"50\"\n\"resources.limits.cpu\" = \"50\"",
        1,
    );
    assert_ne!(huge, stack);
    std::fs::write(app.stack_file(), &huge).unwrap();
    let output = app.hoist(&["up", "--no-rollback"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    std::fs::write(app.stack_file(), &stack).unwrap();
    let (code, doc) = app.hoist_json(&["doctor"]);
    assert_eq!(code, 1, "{doc}");
    let unschedulable = findings(&doc)
        .into_iter()
        .find(|f| f["cause"] == "unschedulable")
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(unschedulable["service"], "backend");
    assert_eq!(unschedulable["severity"], "error");
    assert!(
        unschedulable["message"]
            .as_str()
            .unwrap()
            .contains("the pod requests cpu 50000m"),
        "{doc}"
    );
    let output = app.hoist(&["doctor"]);
    let human = text(&output.stdout);
    assert!(
        human.contains("FAIL backend Pod/todo-chatbot-backend-")
            && human.contains("[unschedulable]")
            && human.contains("fix: lower resources.requests"),
        "{human}"
    );
    app.assert_clean(&output);
    let (code, up) = app.hoist_json(&["up"]);
    assert_eq!(code, 0, "{up}");

    // 2. An image changed by hand: it cannot be pulled, and it is not what
    //    hoist deployed.
    let deployment = "deployment/todo-chatbot-backend".to_owned();
    let output = app.kubectl(&[
        "-n",
        &app.namespace,
        "set",
        "image",
        &deployment,
        "backend=127.0.0.1:5000/hoist-doctor/no-such-image:1",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let (code, doc) = doctor_until(&app, "the image finding", |d| {
        has(d, "backend", "image-not-found")
    });
    assert_eq!(code, 1, "{doc}");
    let drift = findings(&doc)
        .into_iter()
        .find(|f| f["cause"] == "drift")
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(drift["severity"], "warning");
    assert!(
        drift["message"].as_str().unwrap().contains(
            "container backend runs 127.0.0.1:5000/hoist-doctor/no-such-image:1, hoist deployed "
        ),
        "{doc}"
    );
    let output = app.kubectl(&["-n", &app.namespace, "rollout", "undo", &deployment]);
    assert!(output.status.success(), "{}", text(&output.stderr));

    // 3. The backend scaled to 0 by hand: its Service has no endpoint, and
    //    the frontend is up while it is down.
    let output = app.kubectl(&["-n", &app.namespace, "scale", &deployment, "--replicas=0"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let (code, doc) = doctor_until(&app, "the dependency finding", |d| {
        has(d, "backend", "dependency-not-ready") && has(d, "backend", "no-endpoints")
    });
    assert_eq!(code, 1, "{doc}");
    let dependency = findings(&doc)
        .into_iter()
        .find(|f| f["cause"] == "dependency-not-ready")
        .unwrap();
    assert!(
        dependency["message"]
            .as_str()
            .unwrap()
            .contains("while frontend depending on it is"),
        "{doc}"
    );
    let endpoints = findings(&doc)
        .into_iter()
        .find(|f| f["cause"] == "no-endpoints")
        .unwrap();
    assert_eq!(endpoints["object"], "Service/todo-chatbot-backend");
    assert!(has(&doc, "backend", "drift"), "scaled by hand: {doc}");
    // Without the stack file: the namespace's releases, by their names.
    let elsewhere = tempfile::tempdir().unwrap();
    let output = app
        .command(&["doctor", "--namespace", &app.namespace, "--json"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let by_namespace: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        has(&by_namespace, "todo-chatbot-backend", "no-endpoints"),
        "{by_namespace}"
    );
    app.assert_clean(&output);

    // --explain: the findings go out, no planted secret does.
    let server = StandIn::start("ok");
    let output = app
        .command(&["doctor", "--explain"])
        .env("OPENAI_BASE_URL", &server.url)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("answered by model stand-in-model"));
    app.assert_clean(&output);
    let request = server.request().unwrap();
    let sent = request["body"].as_str().unwrap();
    assert!(
        sent.contains("[dependency-not-ready]") && sent.contains("Service/todo-chatbot-backend"),
        "{sent}"
    );
    for secret in &app.planted {
        assert!(!sent.contains(secret.as_str()), "a planted secret was sent");
    }
    let output = app
        .command(&["doctor", "--explain", "--dry-run"])
        .output()
        .unwrap();
    let body: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        body["messages"],
        serde_json::from_str::<Value>(sent).unwrap()["messages"],
        "--dry-run prints what is sent"
    );

    // `hoist up` puts back what hoist deployed.
    let (code, up) = app.hoist_json(&["up"]);
    assert_eq!(code, 0, "{up}");
    let (code, doc) = app.hoist_json(&["doctor"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(findings(&doc), Vec::<Value>::new(), "{doc}");
    drop(cleanup);
}

/// Removes the stack and its namespace, also when the test fails.
struct Cleanup<'a>(&'a App);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.hoist(&["down", "--volumes"]);
        let _ = self.0.kubectl(&[
            "delete",
            "namespace",
            &self.0.namespace,
            "--wait=false",
            "--ignore-not-found",
        ]);
    }
}
