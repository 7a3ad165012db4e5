//! The `minikube image load` fallback, with a stand-in `minikube` script that
//! records its arguments (Minikube cannot run on this machine).

use hoist_cluster::deliver::{Loader, MinikubeCliLoader, Via};
use hoist_imager::NoReporter;

use crate::support::{busybox_image, unique};

fn stand_in(dir: &std::path::Path) -> std::path::PathBuf {
    let script = dir.join("minikube");
    let state = dir.display();
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
echo "$*" >> {state}/args.log
case "$3 $4" in
  "image ls") cat {state}/images 2>/dev/null; exit 0 ;;
  "image load") exit 0 ;;
  "image tag") echo "docker.io/$6" >> {state}/images; exit 0 ;;
esac
echo "unexpected: $*" >&2
exit 4
"#
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    script
}

#[test]
fn falls_back_to_minikube_image_load_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let program = stand_in(dir.path());
    let test = busybox_image(&unique("hoist-test/mk"), &[]);
    let loader = MinikubeCliLoader::with_program(program, "dev");
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let first = runtime
        .block_on(loader.deliver(&test.image, &NoReporter))
        .unwrap();
    assert_eq!(first.via, Via::MinikubeCli);
    assert!(!first.skipped);
    assert_eq!(first.bytes_sent, test.image.archive_size);
    assert_eq!(first.reference, test.image.local_reference());
    let again = runtime
        .block_on(loader.deliver(&test.image, &NoReporter))
        .unwrap();
    assert!(again.skipped);
    assert_eq!(again.bytes_sent, 0);

    let args = std::fs::read_to_string(dir.path().join("args.log")).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "-p dev image ls".to_owned(),
            format!("-p dev image load {}", test.image.source.archive.display()),
            format!(
                "-p dev image tag {} {}",
                test.image.archive_tag().unwrap(),
                first.reference
            ),
            "-p dev image ls".to_owned(),
        ]
    );
}

#[test]
fn a_failing_minikube_is_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let test = busybox_image(&unique("hoist-test/mk"), &[]);
    let loader = MinikubeCliLoader::with_program(dir.path().join("absent"), "dev");
    let error = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(loader.deliver(&test.image, &NoReporter))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "`minikube -p dev image ls` failed: minikube is not on PATH; install it or choose another --target"
    );
}
