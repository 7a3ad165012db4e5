//! The same inputs give the same bytes, whatever the checkout.

use std::fs;
use std::time::{Duration, SystemTime};

use crate::support::{APP_RECIPE, app_tree, build_with, recipe, touch_all};

#[test]
fn two_checkouts_with_different_mtimes_build_identical_images() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    app_tree(a.path());
    app_tree(b.path());
    touch_all(
        a.path(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000),
    );
    touch_all(b.path(), SystemTime::now());
    let out = tempfile::tempdir().unwrap();
    let built: Vec<_> = [&a, &b]
        .iter()
        .enumerate()
        .map(|(i, src)| {
            let cache = out.path().join(format!("cache{i}"));
            build_with(
                &recipe(src.path(), APP_RECIPE),
                "backend",
                &out.path().join(format!("out{i}")),
                &cache,
            )
            .unwrap()
        })
        .collect();
    assert_eq!(built[0].manifest_digest, built[1].manifest_digest);
    assert_eq!(built[0].config_digest, built[1].config_digest);
    assert_eq!(
        fs::read(&built[0].archive).unwrap(),
        fs::read(&built[1].archive).unwrap()
    );
    assert_eq!(
        fs::read(built[0].layout.join("index.json")).unwrap(),
        fs::read(built[1].layout.join("index.json")).unwrap()
    );
    assert_eq!(built[0].layers.len(), 2);
    assert!(built[0].work.layers_packed == 2 && built[1].work.layers_packed == 2);
}

#[test]
fn source_date_epoch_changes_the_digest() {
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let out = tempfile::tempdir().unwrap();
    let recipe = recipe(src.path(), APP_RECIPE);
    let mut options =
        crate::support::options("backend", &out.path().join("a"), &out.path().join("cache"));
    options.revision = None;
    let zero = hoist_imager::build(&recipe, &options, &hoist_imager::NoReporter).unwrap();
    options.source_date_epoch = 1_700_000_000;
    options.out_dir = out.path().join("b");
    let later = hoist_imager::build(&recipe, &options, &hoist_imager::NoReporter).unwrap();
    assert_ne!(zero.manifest_digest, later.manifest_digest);
    let config: serde_json::Value = serde_json::from_slice(
        &fs::read(
            later
                .layout
                .join("blobs/sha256")
                .join(later.config_digest.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert_eq!(config["config"]["User"], "10001");
    assert_eq!(
        config["config"]["ExposedPorts"],
        serde_json::json!({"8000/tcp": {}})
    );
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.revision"],
        serde_json::Value::Null
    );
}
