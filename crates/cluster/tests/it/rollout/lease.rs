//! One deploy at a time: a second run is refused at once naming the first;
//! a Lease left by a killed run is taken over once it expired.

use std::time::{Duration, Instant};

use hoist_cluster::rollout::{self, NoReporter, RolloutError, Stage};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;

use super::{Recorder, cluster, figure, plan, probe_release};

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
    let mut first = plan(
        "probe",
        &dir.path().join(".hoist"),
        vec![vec![probe_release(
            dir.path(),
            "probe",
            "app",
            slow,
            Duration::from_secs(120),
        )]],
        Vec::new(),
    );
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
    let plan = plan(
        "probe",
        &dir.path().join(".hoist"),
        vec![vec![probe_release(
            dir.path(),
            "probe",
            "app",
            "{}\n",
            Duration::from_secs(120),
        )]],
        Vec::new(),
    );

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
