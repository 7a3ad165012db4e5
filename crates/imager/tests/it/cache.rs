//! Unchanged inputs rebuild nothing; a changed file rebuilds only its layer.

use std::fs;

use crate::support::{APP_RECIPE, app_tree, build_with, recipe, touch_all};

/// Sets every file's mtime an hour back, as for a tree edited a while ago:
/// the stat index trusts entries only once they are older than the build
/// that recorded them (git's "racily clean" rule).
fn age(dir: &std::path::Path) {
    touch_all(
        dir,
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
}

#[test]
fn a_warm_build_does_no_tar_or_gzip_work_and_one_change_repacks_one_layer() {
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    age(src.path());
    let out = tempfile::tempdir().unwrap();
    let cache = out.path().join("cache");
    let recipe = recipe(src.path(), APP_RECIPE);
    let cold = build_with(&recipe, "backend", &out.path().join("o"), &cache).unwrap();
    assert_eq!((cold.work.layers_packed, cold.work.layers_reused), (2, 0));
    // One read per file: deps has 2 files, app 2 (its __pycache__ excluded).
    assert_eq!(cold.work.files_read, 4);

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
    assert_eq!(warm.work.files_read, 0, "a warm build reads no file");

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
    // util.py (same size, new mtime) is hashed, then the app layer packed:
    // its two files read once each; no file of the deps layer is read.
    assert_eq!(changed.work.files_read, 3);

    // Touched without a change: hashed, found equal, nothing packed.
    let util = src.path().join("src/app/util.py");
    fs::File::options()
        .write(true)
        .open(&util)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
    let touched = build_with(&recipe, "backend", &out.path().join("o"), &cache).unwrap();
    assert_eq!(touched.manifest_digest, changed.manifest_digest);
    assert_eq!(
        (touched.work.layers_packed, touched.work.files_read),
        (0, 1)
    );
}

#[test]
fn no_cache_packs_again_and_gives_the_same_digest() {
    let first = Cold::build();
    let mut options = crate::support::options("backend", &first.out.path().join("o"), &first.cache);
    options.no_cache = true;
    let again = hoist_imager::build(&first.recipe, &options, &hoist_imager::NoReporter).unwrap();
    assert_eq!(again.work.layers_packed, 2);
    assert_eq!(again.manifest_digest, first.built.manifest_digest);
}

/// A first build of the app tree into an empty cache.
struct Cold {
    _src: tempfile::TempDir,
    out: tempfile::TempDir,
    cache: std::path::PathBuf,
    recipe: hoist_imager::Recipe,
    built: hoist_imager::Built,
}

impl Cold {
    fn build() -> Self {
        let src = tempfile::tempdir().unwrap();
        app_tree(src.path());
        let out = tempfile::tempdir().unwrap();
        let cache = out.path().join("cache");
        let recipe = recipe(src.path(), APP_RECIPE);
        let built = build_with(&recipe, "backend", &out.path().join("o"), &cache).unwrap();
        Self {
            _src: src,
            out,
            cache,
            recipe,
            built,
        }
    }

    /// Builds again into the same cache, the output in `out/<dir>`.
    fn again(&self, dir: &str) -> hoist_imager::Built {
        build_with(
            &self.recipe,
            "backend",
            &self.out.path().join(dir),
            &self.cache,
        )
        .unwrap()
    }
}

#[test]
fn a_corrupted_cached_blob_is_rebuilt_not_reused() {
    let first = Cold::build();
    let (cache, cold) = (&first.cache, &first.built);
    let blob = cache
        .join("blobs/sha256")
        .join(cold.layers[1].digest.trim_start_matches("sha256:"));
    fs::remove_file(&blob).unwrap();
    fs::write(&blob, b"tampered").unwrap();
    let again = first.again("o2");
    assert_eq!((again.work.layers_packed, again.work.layers_reused), (1, 1));
    assert_eq!(again.manifest_digest, cold.manifest_digest);
}

/// The docker-archive is not synced to disk: one left short (as by a crash
/// after its rename) is written again by the next build, not taken as
/// current because its stamp names the same image.
#[test]
fn a_short_docker_archive_is_written_again() {
    let first = Cold::build();
    let cold = &first.built;
    let whole = fs::read(&cold.archive).unwrap();
    let modified = fs::metadata(&cold.archive).unwrap().modified().unwrap();

    let warm = first.again("o");
    assert_eq!(
        fs::metadata(&warm.archive).unwrap().modified().unwrap(),
        modified,
        "an unchanged image's archive is not written again"
    );

    fs::File::options()
        .write(true)
        .open(&cold.archive)
        .unwrap()
        .set_len(whole.len() as u64 / 2)
        .unwrap();
    let again = first.again("o");
    assert_eq!(again.manifest_digest, cold.manifest_digest);
    assert_eq!(fs::read(&again.archive).unwrap(), whole);
}
