//! One scenario per failure, each planted for real: the finding names the
//! cause (before the deadline where the state is terminal), the report is
//! written and holds no planted secret, the previous revision serves again
//! (upgrades) or the release is gone (first installs), and the dependent
//! service is not touched.

use std::time::Duration;

use hoist_cluster::rollout::{self, Action, Cause, Finding, Outcome, Stage};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

use super::{Recorder, cluster, config_objects, figure, plan, probe_release, releases};

const GOOD: &str = "command: [\"sh\", \"-c\", \"echo ok > /tmp/ready; exec sleep 3600\"]\n";

/// How the failure is planted: on a first install or an upgrade of a good revision.
#[derive(Clone, Copy, PartialEq, Eq)]
enum On {
    Install,
    Upgrade,
}

struct Planted {
    outcome: Outcome,
    /// The finding of the planted cause.
    finding: Finding,
    secret: String,
}

/// Plants `bad` (values YAML for the service `app`) and checks what every
/// scenario must show; the outcome for the scenario's own assertions.
#[allow(clippy::too_many_lines)] // one scenario's common checks, read top to bottom
async fn plant(test: &str, on: On, bad: &str, deadline: Duration, cause: Cause) -> Option<Planted> {
    let cluster = cluster().await?;
    cluster.probe_image().await;
    let ns = cluster.namespace(test).await;
    let target = cluster.target(&ns);
    let dir = tempfile::tempdir().unwrap();
    let project = "probe";
    let secret =
        hoist_testkit::fake_secret("pw-", 24, u64::from(std::process::id()) + test.len() as u64);
    let config = config_objects(
        project,
        "app",
        &[("GREETING", "hello")],
        &[("PASSWORD", &secret)],
    );
    let levels = |app_values: &str| {
        let mut app = probe_release(dir.path(), project, "app", app_values, deadline);
        app.config = Some(config.clone());
        let mut dependent = probe_release(dir.path(), project, "dependent", GOOD, deadline);
        dependent.depends_on = vec!["app".to_owned()];
        vec![vec![app], vec![dependent]]
    };
    let state = dir.path().join(".hoist");
    if on == On::Upgrade {
        let good = rollout::deploy(
            &target,
            &plan(project, &state, levels(GOOD), vec![secret.clone()]),
            &Recorder::default(),
        )
        .await
        .unwrap();
        assert!(good.succeeded, "the good revision: {good:#?}");
    }
    let bad = bad.replace("SECRET_NAME", &config.secret_name());
    let bad_plan = plan(
        project,
        &state,
        levels(&format!("{GOOD}{bad}")),
        vec![secret.clone()],
    );
    let recorder = Recorder::default();
    let outcome = rollout::deploy(&target, &bad_plan, &recorder)
        .await
        .unwrap();

    assert!(!outcome.succeeded, "{outcome:#?}");
    let found = outcome
        .findings
        .iter()
        .find(|f| f.service == "app" && f.cause == cause);
    let found = found.unwrap_or_else(|| panic!("no {cause:?} finding: {:#?}", outcome.findings));
    let planted = recorder.at("app", Stage::Release).unwrap();
    let finding_at = recorder.first_finding("app").unwrap();
    let waiting = recorder.at("app", Stage::Waiting).unwrap();
    figure(
        &format!("{test}: watching -> finding"),
        finding_at - waiting,
        Some(deadline),
    );
    figure(
        &format!("{test}: planted -> finding ({:?})", found.cause),
        finding_at - planted,
        Some(deadline),
    );
    if cause != Cause::ProbeFailing {
        assert!(
            outcome
                .findings
                .iter()
                .all(|f| f.cause != Cause::DeadlineExceeded),
            "a terminal state ends the wait before the deadline: {:#?}",
            outcome.findings
        );
    }
    // The evidence was written before the rollback, and holds no secret.
    let report = outcome
        .report
        .clone()
        .expect("a failed run writes its report");
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(
        !written.contains(&secret),
        "the report holds the planted secret"
    );
    let json: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["service"] == "app"),
        "{json}"
    );
    let stages = recorder.stages("app");
    let evidence = stages.iter().position(|s| *s == Stage::Evidence).unwrap();
    let undo = stages
        .iter()
        .position(|s| matches!(s, Stage::RollingBack | Stage::Removing))
        .unwrap();
    assert!(evidence < undo, "evidence before rollback: {stages:?}");

    let app = outcome
        .services
        .iter()
        .find(|s| s.service == "app")
        .unwrap();
    let dependent = outcome
        .services
        .iter()
        .find(|s| s.service == "dependent")
        .unwrap();
    assert_eq!(dependent.action, Action::NotStarted, "{outcome:#?}");
    assert!(
        recorder.stages("dependent").is_empty(),
        "the dependent was not touched"
    );
    let helm_releases = releases(&cluster, &ns.name);
    match on {
        On::Install => {
            assert_eq!(app.action, Action::Removed, "{outcome:#?}");
            assert!(
                helm_releases.is_empty(),
                "the failed first install is gone: {helm_releases:?}"
            );
        }
        On::Upgrade => {
            assert_eq!(app.action, Action::RolledBack, "{outcome:#?}");
            assert_eq!(app.revision, Some(3), "install, failed upgrade, rollback");
            // The previous revision serves again: its spec, Ready.
            let d = Api::<Deployment>::namespaced(cluster.client.clone(), &ns.name)
                .get("probe-app")
                .await
                .unwrap();
            let spec = d.spec.unwrap();
            let container = &spec.template.spec.unwrap().containers[0];
            assert_eq!(
                container.command.as_ref().unwrap()[2],
                "echo ok > /tmp/ready; exec sleep 3600"
            );
            assert!(
                container.env.is_none()
                    && container
                        .resources
                        .as_ref()
                        .unwrap()
                        .limits
                        .as_ref()
                        .unwrap()["memory"]
                        .0
                        == "32Mi"
            );
            // The failed revision's pod may still be terminating: the wait
            // after a rollback ends once the previous revision serves.
            let status = d.status.unwrap();
            assert_eq!(
                (status.ready_replicas, status.updated_replicas),
                (Some(1), Some(1))
            );
            // The dependent's release is still on its first revision.
            let history = cluster_helm_history(&target, "probe-dependent", &ns.name).await;
            assert_eq!(history, 1);
        }
    }
    let finding = found.clone();
    Some(Planted {
        outcome,
        finding,
        secret,
    })
}

async fn cluster_helm_history(
    target: &hoist_cluster::rollout::Target,
    release: &str,
    ns: &str,
) -> usize {
    target.helm.history(release, ns).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_loop_is_found_with_the_previous_containers_log_lines() {
    let bad = "command: [\"sh\", \"-c\", \"echo connecting with password $PASSWORD; echo fatal: the database refused the connection; exit 1\"]\n";
    let Some(planted) = plant(
        "crash",
        On::Upgrade,
        bad,
        Duration::from_secs(180),
        Cause::CrashLoop,
    )
    .await
    else {
        return;
    };
    let f = &planted.finding;
    assert_eq!(f.container.as_deref(), Some("app"));
    assert!(f.pod.as_deref().unwrap().starts_with("probe-app-"), "{f:?}");
    assert!(
        f.message
            .starts_with("container app keeps exiting: exit code 1 (Error), restarted "),
        "{f:?}"
    );
    assert!(
        f.logs
            .iter()
            .any(|l| l == "fatal: the database refused the connection"),
        "{:?}",
        f.logs
    );
    assert!(
        f.logs
            .iter()
            .any(|l| l == "connecting with password <redacted>"),
        "the secret is masked: {:?}",
        f.logs
    );
    assert!(!f.logs.iter().any(|l| l.contains(&planted.secret)));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_that_is_not_there_is_named_with_where_it_should_be() {
    let bad = "image:\n  tag: not-imported\n";
    let Some(planted) = plant(
        "image",
        On::Install,
        bad,
        Duration::from_secs(120),
        Cause::ImageNotFound,
    )
    .await
    else {
        return;
    };
    let f = &planted.finding;
    assert!(
        f.message.starts_with(
            "ErrImageNeverPull: container app image hoist-rollout-busybox:not-imported"
        ),
        "{f:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_key_is_named() {
    // A key the service's own Secret (content-named) does not have.
    let bad = "extraEnv:\n  - name: API_TOKEN\n    valueFrom:\n      secretKeyRef:\n        name: SECRET_NAME\n        key: API_TOKEN\n";
    let Some(planted) = plant(
        "key",
        On::Upgrade,
        bad,
        Duration::from_secs(120),
        Cause::MissingConfig,
    )
    .await
    else {
        return;
    };
    let f = &planted.finding;
    assert!(
        f.message.contains("couldn't find key API_TOKEN in Secret"),
        "{f:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_past_its_memory_limit_is_oom_killed_with_the_limit_named() {
    let bad = "command: [\"sh\", \"-c\", \"x=a; while true; do x=$x$x; done\"]\nresources:\n  requests:\n    cpu: 10m\n    memory: 8Mi\n  limits:\n    cpu: 100m\n    memory: 16Mi\n";
    let Some(planted) = plant(
        "oom",
        On::Upgrade,
        bad,
        Duration::from_secs(120),
        Cause::OomKilled,
    )
    .await
    else {
        return;
    };
    let f = &planted.finding;
    assert!(f.message.ends_with("its memory limit is 16Mi"), "{f:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_readiness_probe_that_never_passes_is_reported_at_the_deadline() {
    let bad = "command: [\"sh\", \"-c\", \"exec sleep 3600\"]\n";
    let Some(planted) = plant(
        "probe",
        On::Upgrade,
        bad,
        Duration::from_secs(25),
        Cause::ProbeFailing,
    )
    .await
    else {
        return;
    };
    let f = &planted.finding;
    assert!(
        f.message.starts_with(
            "the readiness probe of container app keeps failing: Readiness probe failed:"
        ),
        "{f:?}"
    );
    assert!(
        planted
            .outcome
            .findings
            .iter()
            .any(|f| f.cause == Cause::DeadlineExceeded)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_larger_than_the_node_are_unschedulable_with_both_sizes() {
    let bad = "resources:\n  requests:\n    cpu: \"64\"\n    memory: 8Mi\n  limits:\n    cpu: \"64\"\n    memory: 32Mi\n";
    let Some(planted) = plant(
        "unschedulable",
        On::Install,
        bad,
        Duration::from_secs(120),
        Cause::Unschedulable,
    )
    .await
    else {
        return;
    };
    let f = &planted.finding;
    assert!(f.message.contains("the pod requests cpu 64000m"), "{f:?}");
    assert!(f.message.contains("allocatable cpu 2000m"), "{f:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claim_with_a_storage_class_that_does_not_exist_is_named() {
    let bad = "claim:\n  enabled: true\n  storageClassName: hoist-missing-class\n";
    let Some(planted) = plant(
        "claim",
        On::Upgrade,
        bad,
        Duration::from_secs(120),
        Cause::ClaimPending,
    )
    .await
    else {
        return;
    };
    let f = &planted.finding;
    assert_eq!(f.object, "PersistentVolumeClaim/probe-app-data");
    assert!(
        f.message
            .contains("StorageClass \"hoist-missing-class\" does not exist"),
        "{f:?}"
    );
    assert!(f.fix.as_deref().unwrap().contains("standard"), "{f:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_rollback_the_failed_state_is_kept_for_debugging() {
    let Some(cluster) = cluster().await else {
        return;
    };
    cluster.probe_image().await;
    let ns = cluster.namespace("keep").await;
    let target = cluster.target(&ns);
    let dir = tempfile::tempdir().unwrap();
    let bad = format!("{GOOD}image:\n  tag: not-imported\n");
    let app = probe_release(dir.path(), "probe", "app", &bad, Duration::from_secs(120));
    let mut plan = plan(
        "probe",
        &dir.path().join(".hoist"),
        vec![vec![app]],
        Vec::new(),
    );
    plan.options.rollback = false;
    let recorder = Recorder::default();
    let outcome = rollout::deploy(&target, &plan, &recorder).await.unwrap();
    assert!(!outcome.succeeded);
    assert_eq!(outcome.services[0].action, Action::Failed, "{outcome:#?}");
    assert_eq!(recorder.stages("app").last(), Some(&Stage::Failed));
    assert!(outcome.report.as_ref().unwrap().is_file());
    assert_eq!(
        releases(&cluster, &ns.name),
        ["probe-app"],
        "the failed release stays"
    );
    let d = Api::<Deployment>::namespaced(cluster.client.clone(), &ns.name)
        .get("probe-app")
        .await
        .unwrap();
    assert_eq!(
        d.status.unwrap().ready_replicas,
        None,
        "its pod is still there, not Ready"
    );
}
