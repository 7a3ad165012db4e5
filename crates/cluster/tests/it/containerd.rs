//! The containerd path: `ctr` run through a Docker exec in a node container.
//!
//! Two nodes: a busybox container whose `ctr` is a stand-in script keeping
//! its exact arguments and the bytes it received (so the command lines and
//! the stdin stream are checked byte for byte), and a real containerd 1.6
//! from Debian running unprivileged but for `CAP_SYS_ADMIN`, with the
//! native snapshotter (so import, unpack and the digest check are real).

use hoist_cluster::deliver::{ContainerdLoader, DaemonLoader, Loader, Via};
use hoist_imager::NoReporter;
use sha2::{Digest as _, Sha256};

use crate::support::{Container, Script, busybox_image, imager_image, unique};

const STAND_IN_CTR: &str = r#"#!/bin/sh
echo "$*" >> /ctr-args.log
case "$3 $4" in
  "images ls") cat /ctr-images 2>/dev/null; exit 0 ;;
  "images import") cat > /ctr-import.tar; echo "unpacking done"; exit 0 ;;
  "images tag") exit 0 ;;
  "images label") echo "$5 type digest size platform $6" >> /ctr-images; exit 0 ;;
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
            "-n k8s.io images ls".to_owned(),
            "-n k8s.io images import -".to_owned(),
            format!(
                "-n k8s.io images tag --force docker.io/{}:test {}",
                app.image.source.name, first.reference
            ),
            format!(
                "-n k8s.io images label {} dev.hoist.config={}",
                first.reference,
                app.image.config_digest()
            ),
            "-n k8s.io images ls".to_owned(),
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

/// A Debian bookworm root filesystem with containerd, as a tar:
/// `mmdebstrap --variant=minbase --include=containerd bookworm FILE` (about
/// 270 MB; `.ci/run` builds it once).
const CONTAINERD_NODE: hoist_testkit::Service = hoist_testkit::Service {
    var: "HOIST_TEST_CONTAINERD_NODE",
    what: "a containerd node root filesystem (mmdebstrap --include=containerd)",
};

/// The node image, imported into the daemon once per root filesystem tar.
fn containerd_node_image(host: &str, rootfs: &std::path::Path) -> String {
    let modified = std::fs::metadata(rootfs).unwrap().modified().unwrap();
    let stamp = modified
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reference = format!("hoist-test/containerd-node:{stamp}");
    let docker = |args: &[&str]| {
        std::process::Command::new("docker")
            .env("DOCKER_HOST", host)
            .args(args)
            .output()
            .unwrap()
    };
    if !docker(&["image", "inspect", &reference]).status.success() {
        let imported = docker(&[
            "import",
            // Unpacking into the native snapshotter needs only bind mounts.
            "-c",
            "ENV CONTAINERD_SNAPSHOTTER=native",
            "-c",
            r#"CMD ["/usr/bin/containerd"]"#,
            &rootfs.display().to_string(),
            &reference,
        ]);
        assert!(
            imported.status.success(),
            "{}",
            String::from_utf8_lossy(&imported.stderr)
        );
    }
    reference
}

/// Starts a real containerd node container; `extra` goes to `docker run`.
async fn containerd_node(host: &str, rootfs: &std::path::Path, extra: &[&str]) -> Container {
    let node_image = containerd_node_image(host, rootfs);
    let mut args = [
        // Mounting snapshots needs CAP_SYS_ADMIN; kind runs its nodes privileged.
        "--cap-add=SYS_ADMIN",
        "--security-opt=apparmor=unconfined",
        "--security-opt=seccomp=unconfined",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push(node_image);
    let node = Container::run(host, &unique("ctrd-control-plane"), &args);
    // containerd creates its socket within a second or two.
    for _ in 0..50 {
        let probe = std::process::Command::new("docker")
            .env("DOCKER_HOST", host)
            .args(["exec", &node.name, "ctr", "version"])
            .output()
            .unwrap();
        if probe.status.success() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    node
}

#[tokio::test]
async fn a_full_node_disk_is_reported_as_such() {
    let Some((docker, host)) = crate::docker().await else {
        return;
    };
    let Some(rootfs) = hoist_testkit::service_path(CONTAINERD_NODE) else {
        return;
    };
    // A 1 MiB content store cannot hold the 2 MB image: a real ENOSPC.
    let node = containerd_node(&host, &rootfs, &["--tmpfs=/var/lib/containerd:size=1m"]).await;
    let app = busybox_image(&unique("hoist-test/full"), &[]);
    let error = ContainerdLoader::new(docker, node.name.clone())
        .deliver(&app.image, &NoReporter)
        .await
        .unwrap_err()
        .to_string();
    let start = format!(
        "no space left on the node container {} while loading {}: ctr: failed to ingest ",
        node.name,
        app.image.source.archive.display()
    );
    assert!(error.starts_with(&start), "{error}");
    assert!(
        error.ends_with(
            "no space left on device: unknown; free space there (`crictl rmi --prune` in the node removes unused images) and retry"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn imports_into_real_containerd_once_and_names_it_by_digest() {
    let Some((docker, host)) = crate::docker().await else {
        return;
    };
    let Some(rootfs) = hoist_testkit::service_path(CONTAINERD_NODE) else {
        return;
    };
    let node = containerd_node(&host, &rootfs, &[]).await;

    let app = busybox_image(&unique("hoist-test/real"), &[]);
    let loader = ContainerdLoader::new(docker, node.name.clone());
    let first = loader.deliver(&app.image, &NoReporter).await.unwrap();
    assert!(!first.skipped);
    assert_eq!(first.bytes_sent, app.image.archive_size);
    assert_eq!(first.reference, app.image.local_reference());

    let listed = node.docker(&[
        "exec", &node.name, "ctr", "-n", "k8s.io", "images", "ls", "-q",
    ]);
    assert!(listed.lines().any(|l| l == first.reference), "{listed}");
    let content = node.docker(&[
        "exec", &node.name, "ctr", "-n", "k8s.io", "content", "ls", "-q",
    ]);
    assert!(
        content.lines().any(|l| l == app.image.config_digest()),
        "the image config {} is not in containerd's store:\n{content}",
        app.image.config_digest()
    );

    let again = loader.deliver(&app.image, &NoReporter).await.unwrap();
    assert!(again.skipped);
    assert_eq!(again.bytes_sent, 0);

    // The tag pointed at another image (its label goes with it): not trusted.
    let other = busybox_image(&unique("hoist-test/other"), &[]);
    loader.deliver(&other.image, &NoReporter).await.unwrap();
    let ctr = |args: &[&str]| {
        let mut full = vec!["exec", node.name.as_str(), "ctr", "-n", "k8s.io", "images"];
        full.extend(args);
        node.docker(&full)
    };
    ctr(&[
        "tag",
        "--force",
        &other.image.local_reference(),
        &first.reference,
    ]);
    let replaced = loader.deliver(&app.image, &NoReporter).await.unwrap();
    assert!(!replaced.skipped);
    assert_eq!(replaced.bytes_sent, app.image.archive_size);
    let listed = ctr(&["ls"]);
    let line = listed
        .lines()
        .find(|l| l.starts_with(&format!("{} ", first.reference)))
        .unwrap();
    assert!(
        line.contains(&format!("dev.hoist.config={}", app.image.config_digest())),
        "{line}"
    );
}

/// What `hoist build` writes (not a skopeo archive): containerd must find the
/// name the loader tags from, which it takes from the archive's index.json.
#[tokio::test]
async fn an_image_built_by_the_imager_imports_into_real_containerd() {
    let Some((docker, host)) = crate::docker().await else {
        return;
    };
    let Some(rootfs) = hoist_testkit::service_path(CONTAINERD_NODE) else {
        return;
    };
    let node = containerd_node(&host, &rootfs, &[]).await;

    let dir = tempfile::tempdir().unwrap();
    let (built, image) = imager_image(dir.path(), unique("hoist-test/built"));

    let delivered = ContainerdLoader::new(docker, node.name.clone())
        .deliver(&image, &NoReporter)
        .await
        .unwrap();
    assert_eq!(delivered.reference, image.local_reference());
    let listed = node.docker(&[
        "exec", &node.name, "ctr", "-n", "k8s.io", "images", "ls", "-q",
    ]);
    assert!(listed.lines().any(|l| l == delivered.reference), "{listed}");
    // The layer went in uncompressed (its digest is its diff_id) and was unpacked.
    let layer = &built.layers[0];
    assert_eq!(layer.digest, layer.diff_id);
    let content = node.docker(&[
        "exec", &node.name, "ctr", "-n", "k8s.io", "content", "ls", "-q",
    ]);
    assert!(content.lines().any(|l| l == layer.digest), "{content}");
    let check = node.docker(&["exec", &node.name, "ctr", "-n", "k8s.io", "images", "check"]);
    let line = check
        .lines()
        .find(|l| l.starts_with(&format!("{} ", delivered.reference)))
        .unwrap_or_else(|| panic!("{check}"));
    assert!(line.contains("complete"), "{line}");
}
