//! Loading into the real dockerd.

use hoist_cluster::deliver::{DaemonLoader, Loader, Via};
use hoist_imager::NoReporter;

use crate::support::{Recorder, busybox_image, docker_cli, unique};

#[tokio::test]
async fn loads_once_then_sends_nothing_and_the_image_runs() {
    let Some((docker, host)) = crate::docker().await else {
        return;
    };
    let test = busybox_image(&unique("hoist-test/daemon"), &[]);
    let loader = DaemonLoader::new(docker, host.clone());

    let first = loader.deliver(&test.image, &NoReporter).await.unwrap();
    assert!(!first.skipped);
    assert_eq!(first.bytes_sent, test.image.archive_size);
    assert_eq!(first.via, Via::DockerDaemon);
    assert_eq!(first.digest, test.image.digest);
    assert_eq!(
        first.reference,
        format!(
            "hoist.local/{}:{}",
            test.image.source.name,
            &test.image.digest["sha256:".len()..][..12]
        )
    );

    let again = loader.deliver(&test.image, &NoReporter).await.unwrap();
    assert!(again.skipped);
    assert_eq!(again.bytes_sent, 0);
    assert_eq!(again.reference, first.reference);

    let id = docker_cli(
        &host,
        &["image", "inspect", "--format", "{{.Id}}", &first.reference],
    );
    assert_eq!(id, test.image.config_digest());
    let output = docker_cli(
        &host,
        &["run", "--rm", "--network", "none", &first.reference],
    );
    assert_eq!(output, test.marker);
}

#[tokio::test]
async fn progress_reaches_the_archive_size() {
    let Some((docker, host)) = crate::docker().await else {
        return;
    };
    let test = busybox_image(&unique("hoist-test/progress"), &[]);
    let recorder = Recorder::default();
    DaemonLoader::new(docker, host)
        .deliver(&test.image, &recorder)
        .await
        .unwrap();
    let calls = recorder.calls.into_inner().unwrap();
    let size = test.image.archive_size;
    assert_eq!(
        calls.first().unwrap(),
        &format!(
            "start load {} into Docker Some({size})",
            test.image.source.name
        )
    );
    assert_eq!(calls[calls.len() - 2], format!("progress {size}"));
    assert_eq!(
        calls.last().unwrap(),
        &format!("finish sent {:.1} MB", size as f64 / 1e6)
    );
    // Reported progress never goes backwards.
    let done: Vec<u64> = calls
        .iter()
        .filter_map(|c| c.strip_prefix("progress ")?.parse().ok())
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
}

#[tokio::test]
async fn a_stale_tag_is_replaced_not_trusted() {
    let Some((docker, host)) = crate::docker().await else {
        return;
    };
    let loader = DaemonLoader::new(docker, host.clone());
    let old = busybox_image(&unique("hoist-test/stale"), &[]);
    let new = busybox_image(&unique("hoist-test/stale"), &[]);
    let old_reference = loader
        .deliver(&old.image, &NoReporter)
        .await
        .unwrap()
        .reference;
    // Someone points the new image's tag at the old image.
    let docker_cli = |args: &[&str]| docker_cli(&host, args);
    docker_cli(&["tag", &old_reference, &new.image.local_reference()]);

    let delivered = loader.deliver(&new.image, &NoReporter).await.unwrap();
    assert!(!delivered.skipped);
    assert_eq!(delivered.bytes_sent, new.image.archive_size);
    let id = docker_cli(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &delivered.reference,
    ]);
    assert_eq!(id, new.image.config_digest());
    let output = docker_cli(&["run", "--rm", "--network", "none", &delivered.reference]);
    assert_eq!(output, new.marker);
}
