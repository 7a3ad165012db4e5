//! Pushing to the real registry, anonymous and with basic auth.

use std::process::Command;

use hoist_cluster::deliver::{
    DeliverError, Loader, RegistryCredentials, RegistryLoader, RegistryTarget, Via,
};
use hoist_imager::NoReporter;

use crate::support::{Recorder, busybox_image, imager_image, run, unique};

/// The digest `skopeo inspect` reports for `reference` on a plain-HTTP registry.
fn skopeo_digest(reference: &str) -> String {
    run(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{reference}")))
}

#[tokio::test]
async fn pushes_missing_blobs_once_and_skopeo_sees_the_digest() {
    let Some(registry) = hoist_testkit::service(hoist_testkit::REGISTRY) else {
        return;
    };
    let test = busybox_image(&unique("app"), &[]);
    let loader = RegistryLoader::new(RegistryTarget::parse(
        &format!("{registry}/hoist-test"),
        true,
        None,
    ));

    let first = loader.deliver(&test.image, &NoReporter).await.unwrap();
    assert!(!first.skipped);
    assert_eq!(first.via, Via::Registry);
    assert_eq!(
        first.bytes_sent,
        test.image.blobs_size() + test.image.manifest_bytes.len() as u64
    );
    assert_eq!(
        first.reference,
        format!(
            "{registry}/hoist-test/{}@{}",
            test.image.source.name, test.image.digest
        )
    );
    assert_eq!(skopeo_digest(&first.reference), test.image.digest);

    // A fresh loader knows nothing; only the registry can say it has the image.
    let fresh = RegistryLoader::new(RegistryTarget::parse(
        &format!("{registry}/hoist-test"),
        true,
        None,
    ));
    let again = fresh.deliver(&test.image, &NoReporter).await.unwrap();
    assert!(again.skipped);
    assert_eq!(again.bytes_sent, 0);
    assert_eq!(again.reference, first.reference);
}

#[tokio::test]
async fn a_second_repository_mounts_blobs_instead_of_uploading_them() {
    let Some(registry) = hoist_testkit::service(hoist_testkit::REGISTRY) else {
        return;
    };
    let test = busybox_image(&unique("mount-a"), &[]);
    let loader = RegistryLoader::new(RegistryTarget::parse(&registry, true, None));
    loader.deliver(&test.image, &NoReporter).await.unwrap();

    // The same blobs under another name: the registry mounts them.
    let mut other = test.image.clone();
    other.source.name = unique("mount-b");
    let mounted = loader.deliver(&other, &NoReporter).await.unwrap();
    assert!(!mounted.skipped);
    assert_eq!(mounted.bytes_sent, other.manifest_bytes.len() as u64);
    assert_eq!(skopeo_digest(&mounted.reference), test.image.digest);
}

#[tokio::test]
async fn basic_auth_pushes_and_a_wrong_password_is_refused_without_echo() {
    let Some(registry) = hoist_testkit::service(hoist_testkit::REGISTRY_AUTH) else {
        return;
    };
    let user = std::env::var("HOIST_TEST_REGISTRY_AUTH_USER").unwrap();
    let password = std::env::var("HOIST_TEST_REGISTRY_AUTH_PASSWORD").unwrap();
    let test = busybox_image(&unique("auth"), &[]);

    let target = |password: &str| {
        RegistryTarget::parse(
            &registry,
            true,
            Some(RegistryCredentials {
                user: user.clone(),
                password: password.to_owned(),
            }),
        )
    };
    let pushed = RegistryLoader::new(target(&password))
        .deliver(&test.image, &NoReporter)
        .await
        .unwrap();
    assert!(!pushed.skipped);
    let again = RegistryLoader::new(target(&password))
        .deliver(&test.image, &NoReporter)
        .await
        .unwrap();
    assert!(again.skipped);
    assert_eq!(again.bytes_sent, 0);

    let wrong = hoist_testkit::fake_secret("wrong-", 20, 11);
    let error = RegistryLoader::new(target(&wrong))
        .deliver(&test.image, &NoReporter)
        .await
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "the registry {registry} refused the credentials for user {user:?}; check the user name and password (HOIST_REGISTRY_PASSWORD)"
        )
    );
    assert!(!shown.contains(&wrong), "{shown}");
    assert!(!shown.contains(&password), "{shown}");

    let anonymous = RegistryLoader::new(RegistryTarget::parse(&registry, true, None))
        .deliver(&test.image, &NoReporter)
        .await
        .unwrap_err();
    assert!(
        matches!(anonymous, DeliverError::RegistryAuthRequired { .. }),
        "{anonymous}"
    );
    assert_eq!(
        anonymous.to_string(),
        format!(
            "the registry {registry} requires authentication; give --registry-user and HOIST_REGISTRY_PASSWORD"
        )
    );
}

#[tokio::test]
async fn a_plain_http_registry_without_the_flag_suggests_it() {
    let Some(registry) = hoist_testkit::service(hoist_testkit::REGISTRY) else {
        return;
    };
    let test = busybox_image(&unique("tls"), &[]);
    let error = RegistryLoader::new(RegistryTarget::parse(&registry, false, None))
        .deliver(&test.image, &NoReporter)
        .await
        .unwrap_err()
        .to_string();
    let reference = format!(
        "{registry}/{}@{}",
        test.image.source.name, test.image.digest
    );
    assert_eq!(
        error,
        format!(
            "pushing {reference} to the registry {registry} failed: error sending request for url (https://{registry}/v2/{}/manifests/{}); if {registry} speaks plain HTTP, add --insecure-registry",
            test.image.source.name, test.image.digest
        )
    );
}

/// What `hoist build` writes (uncompressed layers) is pushed in its gzip
/// form: compressed once, on the first push; a second push of the same image
/// compresses nothing and sends nothing.
#[tokio::test]
async fn a_built_image_is_compressed_once_and_pushed_once() {
    let Some(registry) = hoist_testkit::service(hoist_testkit::REGISTRY) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (built, image) = imager_image(dir.path(), unique("gzip"));
    let cache = dir.path().join("cache");
    let target = || RegistryTarget::parse(&format!("{registry}/hoist-test"), true, None);

    let recorder = Recorder::default();
    let first = RegistryLoader::new(target())
        .with_cache_dir(&cache)
        .deliver(&image, &recorder)
        .await
        .unwrap();
    assert!(!first.skipped);
    let calls = recorder.calls.into_inner().unwrap();
    let compress = format!(
        "start compress {} for {registry} Some({})",
        image.source.name, built.layers[0].uncompressed_size
    );
    assert_eq!(calls[0], compress, "{calls:?}");
    // The registry holds the gzip form: another manifest, gzip layers, the same config.
    assert_ne!(first.digest, image.digest);
    assert_eq!(skopeo_digest(&first.reference), first.digest);
    let inspected = run(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{}", first.reference)));
    let manifest: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(manifest["config"]["digest"], built.config_digest.as_str());

    let recorder = Recorder::default();
    let again = RegistryLoader::new(target())
        .with_cache_dir(&cache)
        .deliver(&image, &recorder)
        .await
        .unwrap();
    assert!(again.skipped);
    assert_eq!(again.bytes_sent, 0);
    assert_eq!(again.digest, first.digest);
    let calls = recorder.calls.into_inner().unwrap();
    assert!(
        !calls.iter().any(|c| c.starts_with("start compress")),
        "{calls:?}"
    );
}
