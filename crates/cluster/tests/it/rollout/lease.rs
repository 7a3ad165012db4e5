//! One deploy at a time: a second run is refused at once naming the first;
//! a Lease left by a killed run is taken over once it expired; a revision
//! a killed run left pending is rolled back before the next upgrade.

use std::time::{Duration, Instant};

use hoist_cluster::rollout::{self, NoReporter, RolloutError, Stage};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;

use super::{Recorder, cluster, figure, plan, probe_release};

/// One probe release, `probe-app`, with `values`.
fn probe_plan(dir: &std::path::Path, values: &str) -> hoist_cluster::rollout::Plan {
    plan(
        "probe",
        &dir.join(".hoist"),
        vec![vec![probe_release(
            dir,
            "probe",
            "app",
            values,
            Duration::from_secs(120),
        )]],
        Vec::new(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_is_refused_naming_the_first() {
    let Some(cluster) = cluster().await else {
        return;
    };
    cluster.probe_image().await;
    let ns = cluster.namespace("lease").await;
    let target = cluster.target(&ns);
    let dir = tempfile::tempdir().unwrap();
    // Ready only after a while, so the first run is still going.
    let slow = "command: [\"sh\", \"-c\", \"sleep 15; echo ok > /tmp/ready; exec sleep 3600\"]\n";
    let mut first = probe_plan(dir.path(), slow);
    first.options.run_id = Some("first-run".to_owned());
    let mut second = first.clone();
    second.options.run_id = Some("second-run".to_owned());

    let recorder = std::sync::Arc::new(Recorder::default());
    let running = {
        let (target, first, recorder) = (target.clone(), first.clone(), recorder.clone());
        tokio::spawn(async move { rollout::deploy(&target, &first, &*recorder).await })
    };
    while recorder.at("app", Stage::Waiting).is_none() {
        assert!(!running.is_finished(), "the first run ended early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let asked = Instant::now();
    let refused = rollout::deploy(&target, &second, &NoReporter)
        .await
        .unwrap_err();
    figure("second run refused", asked.elapsed(), None);
    let RolloutError::Locked { holder, .. } = &refused else {
        panic!("{refused}")
    };
    assert!(
        holder.starts_with("hoist run first-run of probe (pid "),
        "{holder}"
    );
    assert!(
        refused.to_string().starts_with(&format!(
            "another hoist run holds the Lease `hoist` in namespace {}: hoist run first-run",
            ns.name
        )),
        "{refused}"
    );
    let outcome = running.await.unwrap().unwrap();
    assert!(outcome.succeeded, "{outcome:#?}");
    // Released at the end: the next run goes.
    let third = rollout::deploy(&target, &second, &NoReporter)
        .await
        .unwrap();
    assert!(third.succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_lease_is_taken_over_after_it_expired() {
    let Some(cluster) = cluster().await else {
        return;
    };
    cluster.probe_image().await;
    let ns = cluster.namespace("stale").await;
    let target = cluster.target(&ns);
    let dir = tempfile::tempdir().unwrap();
    let leases = Api::<Lease>::namespaced(cluster.client.clone(), &ns.name);
    let now = Timestamp::now();
    let lease = |renewed: Timestamp| Lease {
        metadata: ObjectMeta {
            name: Some("hoist".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("hoist run killed-run of probe (pid 1 on elsewhere)".to_owned()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(now - SignedDuration::from_secs(600))),
            renew_time: Some(MicroTime(renewed)),
            ..LeaseSpec::default()
        }),
    };
    let plan = probe_plan(dir.path(), "{}\n");

    // Renewed 5 s ago, for 15 s: still held.
    leases
        .create(
            &PostParams::default(),
            &lease(now - SignedDuration::from_secs(5)),
        )
        .await
        .unwrap();
    let refused = rollout::deploy(&target, &plan, &NoReporter)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, RolloutError::Locked { holder, .. } if holder.contains("killed-run")),
        "{refused}"
    );

    // Renewed a minute ago: expired, taken over.
    let mut stale = leases.get("hoist").await.unwrap();
    stale.spec = lease(now - SignedDuration::from_secs(60)).spec;
    leases
        .replace("hoist", &PostParams::default(), &stale)
        .await
        .unwrap();
    let outcome = rollout::deploy(&target, &plan, &NoReporter).await.unwrap();
    assert!(outcome.succeeded, "{outcome:#?}");
    assert!(
        leases.get_opt("hoist").await.unwrap().is_none(),
        "released at the end"
    );
}

/// What a `helm upgrade` killed midway leaves: a new revision stored as
/// `pending-upgrade` over the deployed one. helm refuses to upgrade it
/// ("another operation is in progress"); the next run, holding the Lease,
/// rolls it back to the deployed revision and then upgrades.
#[tokio::test(flavor = "multi_thread")]
async fn a_revision_a_killed_run_left_pending_is_rolled_back_before_the_upgrade() {
    use std::io::{Read as _, Write as _};

    use base64::Engine as _;
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;

    let Some(cluster) = cluster().await else {
        return;
    };
    cluster.probe_image().await;
    let ns = cluster.namespace("pending").await;
    let target = cluster.target(&ns);
    let dir = tempfile::tempdir().unwrap();
    let first = probe_plan(dir.path(), "{}\n");
    assert!(
        rollout::deploy(&target, &first, &NoReporter)
            .await
            .unwrap()
            .succeeded
    );

    let secrets = Api::<Secret>::namespaced(cluster.client.clone(), &ns.name);
    let v1 = secrets
        .get("sh.helm.release.v1.probe-app.v1")
        .await
        .unwrap();
    let engine = base64::engine::general_purpose::STANDARD;
    let stored = &v1.data.as_ref().unwrap()["release"].0;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&engine.decode(stored).unwrap()[..])
        .read_to_end(&mut json)
        .unwrap();
    let mut release: serde_json::Value = serde_json::from_slice(&json).unwrap();
    release["version"] = 2.into();
    release["info"]["status"] = "pending-upgrade".into();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(&release).unwrap())
        .unwrap();
    let mut pending = v1.clone();
    pending.metadata = ObjectMeta {
        name: Some("sh.helm.release.v1.probe-app.v2".to_owned()),
        labels: v1.metadata.labels.clone().map(|mut labels| {
            labels.insert("version".to_owned(), "2".to_owned());
            labels.insert("status".to_owned(), "pending-upgrade".to_owned());
            labels
        }),
        ..ObjectMeta::default()
    };
    pending.data = Some(
        [(
            "release".to_owned(),
            ByteString(engine.encode(gz.finish().unwrap()).into_bytes()),
        )]
        .into(),
    );
    secrets
        .create(&PostParams::default(), &pending)
        .await
        .unwrap();
    let changed = probe_plan(dir.path(), "extra: changed\n");
    let release = &changed.levels[0][0];
    let refused = target.helm.upgrade(release, &ns.name).await.unwrap_err();
    assert!(
        refused.to_string().contains("another operation"),
        "helm itself refuses: {refused}"
    );

    let outcome = rollout::deploy(&target, &changed, &NoReporter)
        .await
        .unwrap();
    assert!(outcome.succeeded, "{outcome:#?}");
    let history = target.helm.history("probe-app", &ns.name).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.revision, last.status.as_str()),
        (4, "deployed"),
        "{history:#?}"
    );
    assert_eq!(history[2].description, "Rollback to 1", "{history:#?}");
}
