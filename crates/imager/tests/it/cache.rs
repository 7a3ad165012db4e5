//! Unchanged inputs rebuild nothing; a changed file rebuilds only its layer.

use std::fs;

use crate::support::{APP_RECIPE, app_tree, build_with, recipe};

#[test]
fn a_warm_build_does_no_tar_or_gzip_work_and_one_change_repacks_one_layer() {
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let out = tempfile::tempdir().unwrap();
    let cache = out.path().join("cache");
    let recipe = recipe(src.path(), APP_RECIPE);
    let cold = build_with(&recipe, "backend", &out.path().join("o"), &cache).unwrap();
    assert_eq!((cold.work.layers_packed, cold.work.layers_reused), (2, 0));

    let warm = build_with(&recipe, "backend", &out.path().join("o"), &cache).unwrap();
    assert_eq!(
        (
            warm.work.layers_packed,
            warm.work.layers_reused,
            warm.work.bytes_packed
        ),
        (0, 2, 0)
    );
    assert_eq!(warm.manifest_digest, cold.manifest_digest);
    assert!(warm.layers.iter().all(|l| l.cached));

    fs::write(
        src.path().join("src/app/util.py"),
        "def f():\n    return 3\n",
    )
    .unwrap();
    let changed = build_with(&recipe, "backend", &out.path().join("o"), &cache).unwrap();
    assert_eq!(
        (changed.work.layers_packed, changed.work.layers_reused),
        (1, 1)
    );
    assert_eq!(
        changed.layers[0].digest, cold.layers[0].digest,
        "deps layer reused"
    );
    assert_ne!(
        changed.layers[1].digest, cold.layers[1].digest,
        "app layer rebuilt"
    );
    assert!(changed.layers[0].cached && !changed.layers[1].cached);
    assert_ne!(changed.manifest_digest, cold.manifest_digest);
}

#[test]
fn no_cache_packs_again_and_gives_the_same_digest() {
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let out = tempfile::tempdir().unwrap();
    let recipe = recipe(src.path(), APP_RECIPE);
    let cold = build_with(
        &recipe,
        "backend",
        &out.path().join("o"),
        &out.path().join("c"),
    )
    .unwrap();
    let mut options =
        crate::support::options("backend", &out.path().join("o"), &out.path().join("c"));
    options.no_cache = true;
    let again = hoist_imager::build(&recipe, &options, &hoist_imager::NoReporter).unwrap();
    assert_eq!(again.work.layers_packed, 2);
    assert_eq!(again.manifest_digest, cold.manifest_digest);
}

#[test]
fn a_corrupted_cached_blob_is_rebuilt_not_reused() {
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let out = tempfile::tempdir().unwrap();
    let cache = out.path().join("cache");
    let recipe = recipe(src.path(), APP_RECIPE);
    let cold = build_with(&recipe, "backend", &out.path().join("o"), &cache).unwrap();
    let blob = cache
        .join("blobs/sha256")
        .join(cold.layers[1].digest.trim_start_matches("sha256:"));
    fs::remove_file(&blob).unwrap();
    fs::write(&blob, b"tampered").unwrap();
    let again = build_with(&recipe, "backend", &out.path().join("o2"), &cache).unwrap();
    assert_eq!((again.work.layers_packed, again.work.layers_reused), (1, 1));
    assert_eq!(again.manifest_digest, cold.manifest_digest);
}
