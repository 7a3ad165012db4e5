//! The real services .ci/run starts are there and behave like registries:
//! an image pushed with skopeo comes back with the same digest, and the
//! authenticated registry refuses anonymous pushes.

use std::path::Path;
use std::process::Command;

use hoist_e2e::run;

/// A one-layer image in an OCI layout, made by umoci from a small directory.
fn tiny_layout(dir: &Path) -> String {
    let layout = dir.join("layout");
    let bundle = dir.join("bundle");
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci")
        .args(["new", "--image"])
        .arg(format!("{}:v1", layout.display())));
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:v1", layout.display()))
        .arg(&bundle));
    std::fs::write(bundle.join("rootfs/hello.txt"), "round trip\n").unwrap();
    run(Command::new("umoci")
        .args(["repack", "--image"])
        .arg(format!("{}:v1", layout.display()))
        .arg(&bundle));
    format!("oci:{}:v1", layout.display())
}

fn digest(reference: &str, creds: Option<&str>) -> String {
    let mut command = Command::new("skopeo");
    command.args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"]);
    if let Some(creds) = creds {
        command.args(["--creds", creds]);
    }
    run(command.arg(reference)).trim().to_owned()
}

fn round_trip(registry: &str, creds: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let source = tiny_layout(dir.path());
    let target = format!("docker://{registry}/hoist-e2e/round-trip:v1");
    let mut copy = Command::new("skopeo");
    copy.args(["copy", "--dest-tls-verify=false"]);
    if let Some(creds) = creds {
        copy.args(["--dest-creds", creds]);
    }
    run(copy.arg(&source).arg(&target));
    let local = digest(&source, None);
    assert!(local.starts_with("sha256:"), "{local}");
    assert_eq!(digest(&target, creds), local);
}

#[test]
fn anonymous_registry_round_trip() {
    let Some(registry) = hoist_testkit::service(hoist_testkit::REGISTRY) else {
        return;
    };
    round_trip(&registry, None);
}

#[test]
fn authenticated_registry_round_trip_and_refusal() {
    let Some(registry) = hoist_testkit::service(hoist_testkit::REGISTRY_AUTH) else {
        return;
    };
    let user = std::env::var("HOIST_TEST_REGISTRY_AUTH_USER").unwrap();
    let password = std::env::var("HOIST_TEST_REGISTRY_AUTH_PASSWORD").unwrap();
    round_trip(&registry, Some(&format!("{user}:{password}")));

    let dir = tempfile::tempdir().unwrap();
    let source = tiny_layout(dir.path());
    let refused = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(&source)
        .arg(format!("docker://{registry}/hoist-e2e/anonymous:v1"))
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "an anonymous push to the authenticated registry must fail"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("authentication required") || stderr.contains("unauthorized"),
        "{stderr}"
    );
}
