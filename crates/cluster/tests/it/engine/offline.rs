//! No Docker engine at DOCKER_HOST: every entry point says so, with the fix.

use std::collections::BTreeMap;

use hoist_cluster::deliver::{Delivered, Via};
use hoist_cluster::engine::{self, EnginePlan, EngineProject, LogOptions};
use hoist_imager::NoReporter;

use super::{TestStack, busybox_image, endpoint};

const NOWHERE: &str = "unix:///nonexistent/hoist-engine-it.sock";

fn expected() -> String {
    format!(
        "no Docker engine answers at {NOWHERE} (DOCKER_HOST): socket /nonexistent/hoist-engine-it.sock does not exist; start Docker, or set DOCKER_HOST to a running daemon (unix:///var/run/docker.sock, tcp://HOST:2376 with DOCKER_TLS_VERIFY=1)"
    )
}

#[tokio::test]
async fn no_engine_names_docker_host_and_the_fix() {
    let stack = TestStack::busybox(&[(
        "hoist.toml",
        &format!(
            "project = \"offline\"\n[services.web]\n{}",
            busybox_image("web", "sleep 600")
        ),
    )]);
    let images = BTreeMap::from([(
        "web".to_owned(),
        Delivered {
            digest: format!("sha256:{}", "0".repeat(64)),
            reference: "hoist.local/offline/web:000000000000".to_owned(),
            bytes_sent: 0,
            skipped: true,
            via: Via::DockerDaemon,
        },
    )]);
    let plan = EnginePlan::new(&stack.stack, &stack.mapping, &images, endpoint(NOWHERE)).unwrap();
    let up = engine::up(&plan, &NoReporter).await.unwrap_err();
    assert_eq!(up.to_string(), expected());

    let project = EngineProject::new("offline", endpoint(NOWHERE), None);
    assert_eq!(
        engine::status(&project).await.unwrap_err().to_string(),
        expected()
    );
    assert_eq!(
        engine::down(&project, true).await.unwrap_err().to_string(),
        expected()
    );
    let logs = engine::logs(&project, &LogOptions::default()).await;
    assert_eq!(logs.err().unwrap().to_string(), expected());

    // A TCP endpoint where nothing listens: the transport's words, the same fix.
    let port = super::free_port();
    let tcp = EngineProject::new(
        "offline",
        endpoint(&format!("tcp://127.0.0.1:{port}")),
        None,
    );
    let message = engine::status(&tcp).await.unwrap_err().to_string();
    assert!(
        message.starts_with(&format!(
            "no Docker engine answers at tcp://127.0.0.1:{port} (DOCKER_HOST): "
        )) && message.ends_with("; start Docker, or set DOCKER_HOST to a running daemon (unix:///var/run/docker.sock, tcp://HOST:2376 with DOCKER_TLS_VERIFY=1)"),
        "{message}"
    );
}

#[test]
fn a_service_without_a_loaded_image_is_named_with_the_fix() {
    let stack = TestStack::busybox(&[(
        "hoist.toml",
        &format!(
            "project = \"offline\"\n[services.web]\n{}",
            busybox_image("web", "sleep 600")
        ),
    )]);
    let error = EnginePlan::new(
        &stack.stack,
        &stack.mapping,
        &BTreeMap::new(),
        endpoint(NOWHERE),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "service `web`: no image was loaded into the Docker daemon for it; build it and load it with `hoist load --target docker` (or let `hoist up --engine docker` do both)"
    );
}
