//! A second `up`: nothing changed does nothing; a changed configuration
//! replaces that service alone; fewer replicas remove the extra ones.

use std::collections::BTreeMap;

use hoist_cluster::engine::{self, Action, EngineOutcome};
use hoist_imager::NoReporter;

use super::{TestStack, busybox_image, docker_cli, free_port};

fn stack_file(project: &str, publish: u16, api_replicas: u16) -> String {
    format!(
        r#"project = "{project}"
[services.db]
ports = [8080]                     # no `ready`: a TCP check on 8080
[services.db.env]
keys = ["DB_MODE"]
config = ["DB_MODE"]
[services.api]
depends_on = ["db"]
replicas = {api_replicas}
ready = {{ exec = ["wget", "-q", "-O", "/dev/null", "http://db:8080/mode"] }}
[services.web]
depends_on = ["api"]
ports = [8080]
publish = {publish}
ready = {{ http = "/mode" }}
{}{}{}"#,
        busybox_image(
            "db",
            "mkdir -p /tmp/www && echo \"$DB_MODE\" > /tmp/www/mode && exec httpd -f -p 8080 -h /tmp/www"
        ),
        busybox_image("api", "exec sleep 600"),
        // Through the Kubernetes-style alias `<project>-db`.
        busybox_image(
            "web",
            &format!(
                "mkdir -p /tmp/www && wget -q -O /tmp/www/mode http://{project}-db:8080/mode && exec httpd -f -p 8080 -h /tmp/www"
            )
        ),
    )
}

/// Container name to (action, id).
fn actions(outcome: &EngineOutcome) -> BTreeMap<String, (Action, String)> {
    outcome
        .services
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| (c.name.clone(), (c.action, c.id.clone())))
        .collect()
}

async fn get(port: u16, path: &str) -> String {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_up_changes_nothing_and_a_changed_service_alone_is_replaced() {
    let Some((host, project, _cleanup)) = super::on_the_daemon("hoist-engine-rerun") else {
        return;
    };
    let port = free_port();
    let mut stack = TestStack::busybox(&[
        ("hoist.toml", &stack_file(&project, port, 2)),
        (".env", "DB_MODE=first\n"),
    ]);
    let images = stack.build_and_load(&host).await;
    let name = |service: &str, n: u16| format!("{project}-{service}-{n}");

    let first = engine::up(&stack.plan(&host, &images), &NoReporter)
        .await
        .unwrap();
    assert!(first.is_healthy(), "{:#?}", first.findings);
    assert!(first.changed);
    let checks: Vec<(&str, &str)> = first
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.check.as_str()))
        .collect();
    assert_eq!(
        checks,
        [
            ("db", "TCP port 8080"),
            ("api", "`wget -q -O /dev/null http://db:8080/mode`"),
            ("web", "GET /mode on port 8080"),
        ]
    );
    let created = actions(&first);
    assert!(
        created.values().all(|(a, _)| *a == Action::Created),
        "{created:?}"
    );
    assert_eq!(created.len(), 4);
    assert_eq!(first.urls[0].url, format!("http://127.0.0.1:{port}/"));
    assert_eq!(get(port, "/mode").await, "first\n");

    let again = engine::up(&stack.plan(&host, &images), &NoReporter)
        .await
        .unwrap();
    assert!(again.is_healthy(), "{:#?}", again.findings);
    assert!(!again.changed);
    let unchanged = actions(&again);
    for (container, (action, id)) in &unchanged {
        assert_eq!(*action, Action::Unchanged, "{container}");
        assert_eq!(id, &created[container].1, "{container}");
    }

    // The database's configuration changes: it alone is replaced.
    std::fs::write(stack.path(".env"), "DB_MODE=second\n").unwrap();
    stack = stack.reload();
    let changed = engine::up(&stack.plan(&host, &images), &NoReporter)
        .await
        .unwrap();
    assert!(changed.is_healthy(), "{:#?}", changed.findings);
    let after = actions(&changed);
    assert_eq!(after[&name("db", 1)].0, Action::Replaced);
    assert_ne!(after[&name("db", 1)].1, created[&name("db", 1)].1);
    for kept in [name("api", 1), name("api", 2), name("web", 1)] {
        assert_eq!(
            after[&kept],
            (Action::Unchanged, created[&kept].1.clone()),
            "{kept}"
        );
    }
    // The dependents kept running (web still serves what it read at start)
    // and reach the new database by its alias.
    assert_eq!(get(port, "/mode").await, "first\n");
    let through_api = docker_cli(
        &host,
        &[
            "exec",
            &name("api", 1),
            "wget",
            "-q",
            "-O-",
            "http://db:8080/mode",
        ],
    );
    assert_eq!(through_api, "second");

    // One replica fewer: the extra container goes, the other stays.
    std::fs::write(stack.path("hoist.toml"), stack_file(&project, port, 1)).unwrap();
    stack = stack.reload();
    let scaled = engine::up(&stack.plan(&host, &images), &NoReporter)
        .await
        .unwrap();
    assert!(scaled.is_healthy(), "{:#?}", scaled.findings);
    let scaled = actions(&scaled);
    assert_eq!(scaled[&name("api", 2)].0, Action::Removed);
    assert_eq!(
        scaled[&name("api", 1)],
        (Action::Unchanged, created[&name("api", 1)].1.clone())
    );

    down_keeps_nothing_running(&stack.plan(&host, &images).project, &project).await;
}

async fn down_keeps_nothing_running(project: &hoist_cluster::engine::EngineProject, name: &str) {
    let down = engine::down(project, false).await.unwrap();
    let mut removed = down.containers.clone();
    removed.sort();
    assert_eq!(
        removed,
        ["api-1", "db-1", "web-1"].map(|c| format!("{name}-{c}"))
    );
    assert!(down.network_removed);
    let status = engine::status(project).await.unwrap();
    assert!(
        status.containers.is_empty() && status.network.is_none(),
        "{status:?}"
    );
}
