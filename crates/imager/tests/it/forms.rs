//! The two forms of an image: uncompressed layers as the build writes them
//! (local delivery), and the gzip form a registry push sends, made once per
//! layer. Each is the same on every build of the same inputs.

use std::fs;
use std::io::Read;
use std::sync::atomic::AtomicU64;

use hoist_imager::gzip::GzipPlan;

use crate::support::{APP_RECIPE, app_tree, build_with, digest, recipe};

const PLAIN: &str = "application/vnd.oci.image.layer.v1.tar";
const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

#[test]
fn both_forms_have_the_same_digests_on_every_build_and_gzip_is_made_once() {
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let out = tempfile::tempdir().unwrap();
    let recipe = recipe(src.path(), APP_RECIPE);
    let mut plain = Vec::new();
    let mut gzip = Vec::new();
    for run in 0..2 {
        let cache = out.path().join(format!("cache{run}"));
        let built = build_with(
            &recipe,
            "backend",
            &out.path().join(format!("o{run}")),
            &cache,
        )
        .unwrap();
        // The layout says plainly what it holds: uncompressed tars, digest = diff_id.
        for layer in &built.layers {
            assert_eq!(layer.media_type, PLAIN);
            assert_eq!(layer.digest, layer.diff_id);
            assert_eq!(layer.size, layer.uncompressed_size);
        }
        let manifest: serde_json::Value = serde_json::from_slice(
            &fs::read(
                built
                    .layout
                    .join("blobs/sha256")
                    .join(built.manifest_digest.trim_start_matches("sha256:")),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(
            manifest["layers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["mediaType"] == PLAIN),
            "{manifest}"
        );
        plain.push(built.manifest_digest.clone());

        let first = GzipPlan::new(&built.layout, &cache).unwrap();
        assert_eq!(first.pending_bytes(), built.uncompressed_size);
        let first = first.run(&AtomicU64::new(0)).unwrap();
        assert_eq!(first.layers_compressed, 2);
        assert_eq!(first.bytes_compressed, built.uncompressed_size);
        assert_eq!(first.digest, digest(&first.manifest));
        // The config is shared: the image id is the same in both forms.
        assert_eq!(
            first.blobs[0].descriptor.digest().to_string(),
            built.config_digest
        );
        for (blob, layer) in first.blobs[1..].iter().zip(&built.layers) {
            assert_eq!(blob.descriptor.media_type().to_string(), GZIP);
            let bytes = fs::read(&blob.path).unwrap();
            assert_eq!(digest(&bytes), blob.descriptor.digest().to_string());
            let mut tar = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut tar)
                .unwrap();
            assert_eq!(digest(&tar), layer.diff_id);
        }
        // A second push of the same image compresses nothing.
        let again = GzipPlan::new(&built.layout, &cache).unwrap();
        assert_eq!(again.pending_bytes(), 0);
        let again = again.run(&AtomicU64::new(0)).unwrap();
        assert_eq!((again.layers_compressed, again.bytes_compressed), (0, 0));
        assert_eq!(again.manifest, first.manifest);
        gzip.push(first.digest);
    }
    assert_eq!(
        plain[0], plain[1],
        "uncompressed form differs between builds"
    );
    assert_eq!(gzip[0], gzip[1], "gzip form differs between builds");
    assert_ne!(plain[0], gzip[0]);
}

#[test]
fn a_compressed_budget_is_checked_against_the_gzip_form() {
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let out = tempfile::tempdir().unwrap();
    let cache = out.path().join("cache");
    let text = format!("budget = {{ uncompressed = \"1MB\", compressed = \"1MB\" }}\n{APP_RECIPE}");
    let built = build_with(
        &recipe(src.path(), &text),
        "backend",
        &out.path().join("o"),
        &cache,
    )
    .unwrap();
    // The budget made the gzip form; a push finds it in the cache.
    let plan = GzipPlan::new(&built.layout, &cache).unwrap();
    assert_eq!(plan.pending_bytes(), 0);
}
