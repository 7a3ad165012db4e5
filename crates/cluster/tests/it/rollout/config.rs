//! A configuration change alone: a new content-named ConfigMap, the pods
//! replaced, the image unchanged; rolling back puts the pods back on the
//! old ConfigMap, which was kept for it.

use std::time::Duration;

use hoist_cluster::rollout::{self, Action, NoReporter};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use super::{cluster, config_objects, plan, probe_release};

const GOOD: &str = "command: [\"sh\", \"-c\", \"echo ok > /tmp/ready; exec sleep 3600\"]\n";

/// The ConfigMap the Deployment's pods read, and the names of its Ready pods.
async fn serving(api: &Api<Deployment>, pods: &Api<Pod>) -> (String, String, Vec<String>) {
    let d = api.get("probe-app").await.unwrap();
    let spec = d.spec.unwrap().template.spec.unwrap();
    let container = &spec.containers[0];
    let config_map = container.env_from.as_ref().unwrap()[0]
        .config_map_ref
        .as_ref()
        .unwrap()
        .name
        .clone();
    let image = container.image.clone().unwrap();
    let list = pods
        .list(&ListParams::default().labels("app.kubernetes.io/instance=probe-app"))
        .await
        .unwrap();
    let ready = list
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|c| c.iter().all(|c| c.ready))
        })
        .map(ResourceExt::name_any)
        .collect();
    (config_map, image, ready)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_change_rolls_the_pods_and_its_rollback_restores_the_old_config() {
    let Some(cluster) = cluster().await else {
        return;
    };
    cluster.probe_image().await;
    let ns = cluster.namespace("config").await;
    let target = cluster.target(&ns);
    let dir = tempfile::tempdir().unwrap();
    let secret = hoist_testkit::fake_secret("pw-", 24, 12);
    let with = |greeting: &str| {
        let mut app = probe_release(dir.path(), "probe", "app", GOOD, Duration::from_secs(120));
        app.config = Some(config_objects(
            "probe",
            "app",
            &[("GREETING", greeting)],
            &[("PASSWORD", &secret)],
        ));
        plan(
            "probe",
            &dir.path().join(".hoist"),
            vec![vec![app]],
            vec![secret.clone()],
        )
    };
    let deployments = Api::<Deployment>::namespaced(cluster.client.clone(), &ns.name);
    let pods = Api::<Pod>::namespaced(cluster.client.clone(), &ns.name);

    let first = with("hello");
    let outcome = rollout::deploy(&target, &first, &NoReporter).await.unwrap();
    assert!(outcome.succeeded, "{outcome:#?}");
    let (old_config, old_image, old_pods) = serving(&deployments, &pods).await;
    assert_eq!(
        old_config,
        first.levels[0][0]
            .config
            .as_ref()
            .unwrap()
            .config_map_name()
    );

    let second = with("bonjour");
    let outcome = rollout::deploy(&target, &second, &NoReporter)
        .await
        .unwrap();
    assert!(outcome.succeeded, "{outcome:#?}");
    assert_eq!(outcome.services[0].action, Action::Upgraded);
    let (new_config, new_image, new_pods) = serving(&deployments, &pods).await;
    assert_ne!(new_config, old_config, "a new content-named ConfigMap");
    assert_eq!(new_image, old_image, "no image changed");
    assert_eq!(new_pods.len(), 1);
    assert!(
        !old_pods.contains(&new_pods[0]),
        "the pods were replaced: {old_pods:?} -> {new_pods:?}"
    );
    let cms = Api::<ConfigMap>::namespaced(cluster.client.clone(), &ns.name);
    assert!(
        cms.get(&old_config).await.unwrap().immutable == Some(true),
        "the old one is kept for a rollback"
    );

    let back = rollout::rollback(&target, &second, "app", None, &NoReporter)
        .await
        .unwrap();
    assert!(back.succeeded, "{back:#?}");
    assert_eq!(back.services[0].action, Action::RolledBack);
    let (config, _, pods_after) = serving(&deployments, &pods).await;
    assert_eq!(config, old_config, "the pods are back on the old ConfigMap");
    assert_eq!(pods_after.len(), 1);
    assert!(!pods_after.contains(&new_pods[0]));
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_takes_the_releases_their_config_and_with_volumes_their_claims() {
    let Some(cluster) = cluster().await else {
        return;
    };
    cluster.probe_image().await;
    let ns = cluster.namespace("remove").await;
    let target = cluster.target(&ns);
    let dir = tempfile::tempdir().unwrap();
    let secret = hoist_testkit::fake_secret("pw-", 24, 13);
    let mut app = probe_release(
        dir.path(),
        "probe",
        "app",
        &format!("{GOOD}claim:\n  enabled: true\n"),
        Duration::from_secs(120),
    );
    app.config = Some(config_objects(
        "probe",
        "app",
        &[("GREETING", "hello")],
        &[("PASSWORD", &secret)],
    ));
    let mut web = probe_release(dir.path(), "probe", "web", GOOD, Duration::from_secs(120));
    web.depends_on = vec!["app".to_owned()];
    let plan = plan(
        "probe",
        &dir.path().join(".hoist"),
        vec![vec![app], vec![web]],
        vec![secret.clone()],
    );
    let outcome = rollout::deploy(&target, &plan, &NoReporter).await.unwrap();
    assert!(outcome.succeeded, "{outcome:#?}");

    let removed = rollout::remove(&target, &plan, &[], true, &NoReporter)
        .await
        .unwrap();
    assert_eq!(
        removed.releases,
        ["probe-web", "probe-app"],
        "dependents first"
    );
    let config = plan.levels[0][0].config.as_ref().unwrap();
    assert_eq!(
        removed.config,
        [
            format!("ConfigMap/{}", config.config_map_name()),
            format!("Secret/{}", config.secret_name())
        ]
    );
    // The chart's own claim goes with the release (helm) or after it (volumes).
    let claims = Api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>::namespaced(
        cluster.client.clone(),
        &ns.name,
    );
    let left = claims.list(&ListParams::default()).await.unwrap();
    assert!(
        left.items
            .iter()
            .all(|c| c.metadata.deletion_timestamp.is_some()),
        "{:?}",
        removed.volumes
    );
    assert!(super::releases(&cluster, &ns.name).is_empty());
    let cms = Api::<ConfigMap>::namespaced(cluster.client.clone(), &ns.name);
    assert!(
        cms.get_opt(&config.config_map_name())
            .await
            .unwrap()
            .is_none()
    );
}
