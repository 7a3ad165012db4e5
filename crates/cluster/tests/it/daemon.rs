//! Loading into the real dockerd.

use std::process::Command;

use hoist_cluster::deliver::{DaemonEndpoint, DaemonLoader, Loader, TlsFiles, Via};
use hoist_imager::NoReporter;

use crate::support::{busybox_image, unique};

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

    let inspect = Command::new("docker")
        .env("DOCKER_HOST", &host)
        .args(["image", "inspect", "--format", "{{.Id}}", &first.reference])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout).trim(),
        test.image.config_digest()
    );
    let run = Command::new("docker")
        .env("DOCKER_HOST", &host)
        .args(["run", "--rm", "--network", "none", &first.reference])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), test.marker);
}

#[tokio::test]
async fn an_unreachable_daemon_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    // A socket file nobody listens on: the connection is refused.
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    drop(listener);
    let endpoint = DaemonEndpoint {
        host: format!("unix://{}", socket.display()),
        tls: None,
    };
    let error = endpoint.connect().await.unwrap_err().to_string();
    let expected_start = format!(
        "cannot reach the Docker daemon at unix://{}: ",
        socket.display()
    );
    assert!(error.starts_with(&expected_start), "{error}");
    assert!(
        error.ends_with("; start it, or point DOCKER_HOST at a running daemon"),
        "{error}"
    );
}

#[tokio::test]
async fn missing_tls_material_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a real certificate").unwrap();
    let endpoint = DaemonEndpoint {
        host: "tcp://192.168.49.2:2376".into(),
        tls: Some(TlsFiles::in_dir(dir.path())),
    };
    let error = endpoint.connect().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "the TLS file {} for the Docker daemon at tcp://192.168.49.2:2376 is missing; for Minikube, `minikube start` recreates it",
            dir.path().join("cert.pem").display()
        )
    );
}
