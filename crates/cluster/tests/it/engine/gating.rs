//! Health gating and diagnosis on small busybox stacks: checks that never
//! pass, a missing image, and logs that follow a restart with secrets masked.

use std::time::Duration;

use futures::StreamExt as _;
use hoist_cluster::deliver::Delivered;
use hoist_cluster::engine::{self, Cause, LogOptions};
use hoist_imager::NoReporter;

use super::{TestStack, assert_no_secret, busybox_image, docker_cli};

#[tokio::test(flavor = "multi_thread")]
async fn checks_that_never_pass_are_named_at_their_deadline_with_their_output() {
    let Some((host, project, _cleanup)) = super::on_the_daemon("hoist-engine-deadline") else {
        return;
    };
    let stack = TestStack::busybox(&[(
        "hoist.toml",
        &format!(
            r#"project = "{project}"
[services.exec]
ready = {{ exec = ["sh", "-c", "echo still warming up; exit 1"], deadline = "2s" }}
[services.http]
ports = [8080]
ready = {{ http = "/ready", deadline = "2s" }}
[services.client]
depends_on = ["exec", "http"]
{}{}{}"#,
            busybox_image("exec", "sleep 600"),
            busybox_image(
                "http",
                "mkdir -p /tmp/www && exec httpd -f -p 8080 -h /tmp/www"
            ),
            busybox_image("client", "sleep 600"),
        ),
    )]);
    let images = stack.build_and_load(&host).await;
    let outcome = engine::up(&stack.plan(&host, &images), &NoReporter)
        .await
        .unwrap();

    assert!(!outcome.is_healthy());
    assert_eq!(outcome.not_started, ["client"]);
    let [exec, http] = outcome.findings.as_slice() else {
        panic!("two findings expected: {:#?}", outcome.findings);
    };
    assert_eq!(exec.service, "exec");
    assert_eq!(
        exec.container.as_deref(),
        Some(format!("{project}-exec-1").as_str())
    );
    assert_eq!(exec.cause, Cause::Deadline, "{exec:#?}");
    assert_eq!(
        exec.message,
        "`sh -c echo still warming up; exit 1` did not pass within 2s; last output: `sh -c echo still warming up; exit 1` exited with 1: still warming up"
    );
    assert_eq!(
        exec.fix,
        format!(
            "see `hoist logs exec` (or `docker logs {project}-exec-1`), fix the service or its configuration, and run `hoist up --engine docker` again"
        )
    );
    assert_eq!(http.service, "http");
    assert_eq!(http.cause, Cause::Deadline, "{http:#?}");
    assert!(
        http.message.starts_with(
            "GET /ready on port 8080 did not pass within 2s; last output: HTTP 404 from GET /ready: "
        ) && http.message.contains("404 Not Found"),
        "{}",
        http.message
    );

    // The dependent was never made.
    let status = engine::status(&stack.plan(&host, &images).project)
        .await
        .unwrap();
    let names: Vec<&str> = status.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [format!("{project}-exec-1"), format!("{project}-http-1")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_image_stops_up_before_anything_starts() {
    let Some((host, project, _cleanup)) = super::on_the_daemon("hoist-engine-missing") else {
        return;
    };
    let stack = TestStack::busybox(&[(
        "hoist.toml",
        &format!(
            "project = \"{project}\"\n{}",
            busybox_image("web", "sleep 600")
        ),
    )]);
    let reference = format!("hoist.local/{project}/web:000000000000");
    let images = [(
        "web".to_owned(),
        Delivered {
            digest: format!("sha256:{}", "0".repeat(64)),
            reference: reference.clone(),
            bytes_sent: 0,
            skipped: true,
            via: hoist_cluster::deliver::Via::DockerDaemon,
        },
    )]
    .into();
    let outcome = engine::up(&stack.plan(&host, &images), &NoReporter)
        .await
        .unwrap();
    let [finding] = outcome.findings.as_slice() else {
        panic!("one finding expected: {:#?}", outcome.findings);
    };
    assert_eq!(finding.cause, Cause::ImageMissing);
    assert_eq!(finding.service, "web");
    assert_eq!(
        finding.message,
        format!("image {reference} is not in the Docker daemon at {host}")
    );
    assert_eq!(outcome.not_started, ["web"]);
    let status = engine::status(&stack.plan(&host, &images).project)
        .await
        .unwrap();
    assert!(
        status.containers.is_empty() && status.network.is_none(),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_a_restart_and_never_show_a_secret() {
    let Some((host, project, _cleanup)) = super::on_the_daemon("hoist-engine-logs") else {
        return;
    };
    let token = hoist_testkit::fake_secret("tok_", 32, 14);
    let stack = TestStack::busybox(&[
        (
            "hoist.toml",
            &format!(
                r#"project = "{project}"
[services.talker]
[services.talker.env]
required = ["API_TOKEN"]
secret = ["API_TOKEN"]
{}"#,
                busybox_image(
                    "talker",
                    "echo \"token is $API_TOKEN\"; echo \"up and running\"; exec sleep 600"
                ),
            ),
        ),
        (".env", &format!("API_TOKEN={token}\n")),
    ]);
    let images = stack.build_and_load(&host).await;
    let plan = stack.plan(&host, &images);
    assert_no_secret("the plan", &format!("{plan:?}"), &[&token]);
    assert_no_secret(
        "the plan",
        &serde_json::to_string(&plan).unwrap(),
        &[&token],
    );
    let outcome = engine::up(&plan, &NoReporter).await.unwrap();
    assert!(outcome.is_healthy(), "{:#?}", outcome.findings);
    assert_eq!(outcome.services[0].check, "the container running");

    let mut lines = engine::logs(&plan.project, &LogOptions::new(vec![], true, None))
        .await
        .unwrap();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(60), lines.next())
            .await
            .expect("a log line in time")
            .expect("the stream goes on")
            .unwrap()
    };
    let container = format!("{project}-talker-1");
    for round in 0..2 {
        let first = next().await;
        assert_eq!(
            (
                first.service.as_str(),
                first.container.as_str(),
                first.stream
            ),
            ("talker", container.as_str(), "stdout")
        );
        assert_eq!(first.line, "token is <redacted>", "round {round}");
        assert_eq!(next().await.line, "up and running", "round {round}");
        if round == 0 {
            docker_cli(&host, &["restart", "-t", "1", &container]);
        }
    }
    drop(lines);

    // hoist's own output masks it; `docker inspect` shows it, as with compose.
    let status = engine::status(&plan.project).await.unwrap();
    assert_no_secret(
        "the status",
        &serde_json::to_string(&status).unwrap(),
        &[&token],
    );
    assert_no_secret(
        "the outcome",
        &serde_json::to_string(&outcome).unwrap(),
        &[&token],
    );
    let env = docker_cli(
        &host,
        &["inspect", "--format", "{{json .Config.Env}}", &container],
    );
    assert!(env.contains(&format!("API_TOKEN={token}")), "{env}");
}

/// `reference` with a HEALTHCHECK added by `docker commit`, as `hoist.local/<project>/<name>:hc`.
fn with_healthcheck(host: &str, reference: &str, project: &str, name: &str, check: &str) -> String {
    let tagged = format!("hoist.local/{project}/{name}:hc");
    let scratch = format!("{project}-{name}-commit");
    docker_cli(host, &["create", "--name", &scratch, reference]);
    let change = format!("HEALTHCHECK --interval=1s --retries=2 CMD {check}");
    docker_cli(host, &["commit", "--change", &change, &scratch, &tagged]);
    docker_cli(host, &["rm", &scratch]);
    tagged
}

#[tokio::test(flavor = "multi_thread")]
async fn the_images_healthcheck_gates_and_unhealthy_is_named_with_its_output() {
    let Some((host, project, _cleanup)) = super::on_the_daemon("hoist-engine-healthcheck") else {
        return;
    };
    let stack = TestStack::busybox(&[(
        "hoist.toml",
        &format!(
            r#"project = "{project}"
[services.after]
depends_on = ["fine", "sick"]
{}{}{}"#,
            busybox_image("fine", "sleep 1; echo ok > /tmp/healthy; exec sleep 600"),
            busybox_image("sick", "exec sleep 600"),
            busybox_image("after", "exec sleep 600"),
        ),
    )]);
    let images = stack.build_and_load(&host).await;
    let mut plan = stack.plan(&host, &images);
    let checks = [
        ("fine", r#"["/bin/sh", "-c", "test -f /tmp/healthy"]"#),
        ("sick", r#"["/bin/sh", "-c", "echo disk full; exit 1"]"#),
    ];
    let mut tagged = Vec::new();
    for (service, check) in checks {
        let entry = plan.services.get_mut(service).unwrap();
        entry.image = with_healthcheck(&host, &entry.image, &project, service, check);
        tagged.push(entry.image.clone());
    }

    let outcome = engine::up(&plan, &NoReporter).await.unwrap();
    for image in &tagged {
        docker_cli(&host, &["rmi", "-f", image]);
    }
    let gates: Vec<(&str, &str, bool)> = outcome
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.check.as_str(), s.ready))
        .collect();
    assert_eq!(
        gates,
        [
            ("fine", "the image's HEALTHCHECK", true),
            ("sick", "the image's HEALTHCHECK", false)
        ]
    );
    let [finding] = outcome.findings.as_slice() else {
        panic!("one finding expected: {:#?}", outcome.findings);
    };
    assert_eq!(
        (finding.service.as_str(), finding.cause),
        ("sick", Cause::Unhealthy)
    );
    assert_eq!(
        finding.message,
        "the image's HEALTHCHECK reports unhealthy: disk full"
    );
    assert_eq!(outcome.not_started, ["after"]);
}
