//! The containerd path: `ctr` run through a Docker exec in a node container.
//!
//! The node here is a busybox container whose `ctr` is a stand-in script
//! that keeps its arguments, the bytes it received on stdin, and the image
//! names it was asked to tag: real containerd needs a privileged node image
//! this machine cannot pull. What is real: the Docker exec, stdin streaming
//! and its end-of-file, exit statuses, and the command lines.

use hoist_cluster::deliver::{ContainerdLoader, DaemonLoader, Loader, Via};
use hoist_imager::NoReporter;
use sha2::{Digest as _, Sha256};

use crate::support::{Container, Script, busybox_image, unique};

const STAND_IN_CTR: &str = r#"#!/bin/sh
echo "$*" >> /ctr-args.log
case "$3 $4" in
  "images ls") cat /ctr-images 2>/dev/null; exit 0 ;;
  "images import") cat > /ctr-import.tar; echo "unpacking done"; exit 0 ;;
  "images tag") echo "$7" >> /ctr-images; exit 0 ;;
esac
echo "stand-in ctr: unexpected arguments: $*" >&2
exit 3
"#;

#[tokio::test]
async fn imports_through_exec_once_then_finds_the_image() {
    let Some((docker, host)) = crate::docker().await else {
        return;
    };
    let node_image = busybox_image(
        &unique("hoist-test/node"),
        &[Script {
            path: "/usr/local/bin/ctr",
            body: STAND_IN_CTR,
        }],
    );
    let node_reference = DaemonLoader::new(docker.clone(), host.clone())
        .deliver(&node_image.image, &NoReporter)
        .await
        .unwrap()
        .reference;
    let cluster = unique("kindtest");
    let node = Container::start(
        &host,
        &node_reference,
        &format!("{cluster}-control-plane"),
        &[("io.x-k8s.kind.cluster", &cluster)],
    );

    let app = busybox_image(&unique("hoist-test/app"), &[]);
    let loader = ContainerdLoader::new(docker, node.name.clone());
    let first = loader.deliver(&app.image, &NoReporter).await.unwrap();
    assert!(!first.skipped);
    assert_eq!(first.via, Via::Containerd);
    assert_eq!(first.bytes_sent, app.image.archive_size);
    assert_eq!(first.reference, app.image.local_reference());

    // Every byte arrived and stdin was closed (else `cat` would still run).
    let archive = std::fs::read(&app.image.source.archive).unwrap();
    let received = node.docker(&["exec", &node.name, "sha256sum", "/ctr-import.tar"]);
    assert_eq!(
        received.split_whitespace().next().unwrap(),
        hex::encode(Sha256::digest(&archive))
    );

    let again = loader.deliver(&app.image, &NoReporter).await.unwrap();
    assert!(again.skipped);
    assert_eq!(again.bytes_sent, 0);

    let args = node.docker(&["exec", &node.name, "cat", "/ctr-args.log"]);
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "-n k8s.io images ls -q".to_owned(),
            "-n k8s.io images import -".to_owned(),
            format!(
                "-n k8s.io images tag --force docker.io/{}:test {}",
                app.image.source.name, first.reference
            ),
            "-n k8s.io images ls -q".to_owned(),
        ]
    );
}

#[tokio::test]
async fn a_missing_node_is_named() {
    let Some((docker, _)) = crate::docker().await else {
        return;
    };
    let app = busybox_image(&unique("hoist-test/app"), &[]);
    let missing = unique("nocluster");
    let error = ContainerdLoader::new(docker, missing.clone())
        .deliver(&app.image, &NoReporter)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the node container {missing} is not running; start the cluster (e.g. `kind create cluster`) and retry"
        )
    );
}
