//! Base images from an OCI layout, a docker-archive and a root filesystem;
//! hostile base layers are refused with the entry's name.

use std::fs;

use tar::EntryType;

use crate::support::{APP_RECIPE, RawTar, app_tree, build_with, oci_layout, recipe};

fn with_base(base: &str) -> String {
    format!("base = {base}\n{APP_RECIPE}")
}

#[test]
fn hostile_base_layers_are_refused_naming_the_entry() {
    let os_release = || RawTar::new().file("etc/os-release", "ID=test\n");
    let link = || RawTar::new().entry("app/link", EntryType::Symlink, Some("/etc"), b"");
    let cases = [
        (
            os_release(),
            RawTar::new()
                .file("ok.txt", "fine")
                .file("../../etc/cron.d/evil", "x"),
            "refusing entry `../../etc/cron.d/evil` has `..` in its path (path traversal)",
        ),
        (
            os_release(),
            RawTar::new().file("/etc/shadow", "x"),
            "refusing entry `/etc/shadow` has an absolute path",
        ),
        (
            os_release(),
            RawTar::new().entry(
                "usr/lib/escape",
                EntryType::Symlink,
                Some("../../../../../root/.ssh"),
                b"",
            ),
            "refusing entry `usr/lib/escape` is a symlink to `../../../../../root/.ssh`, outside the image root",
        ),
        (
            os_release(),
            RawTar::new().entry("etc/hard", EntryType::Link, Some("../../etc/shadow"), b""),
            "refusing entry `etc/hard` is a hard link to `../../etc/shadow`, outside the image root",
        ),
        (
            os_release(),
            RawTar::new().entry("dev/sda", EntryType::Block, None, b""),
            "refusing entry `dev/sda` is a device node",
        ),
        (
            os_release(),
            link().file("app/link/evil", "x"),
            "refusing entry `app/link/evil` has a path through `app/link`, a symlink to `/etc` made by an earlier entry",
        ),
        (
            link(),
            RawTar::new().file("app/link/cron.d/evil", "x"),
            "refusing entry `app/link/cron.d/evil` has a path through `app/link`, a symlink to `/etc` made by layer 1",
        ),
        (
            link(),
            RawTar::new().entry("app/link/.wh.shadow", EntryType::Regular, None, b""),
            "refusing entry `app/link/shadow` has a path through `app/link`, a symlink to `/etc` made by layer 1",
        ),
    ];
    for (i, (lower, layer, message)) in cases.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let layout = oci_layout(
            &dir.path().join("base"),
            "v1",
            &[lower.finish(), layer.finish()],
            &serde_json::json!({}),
        );
        let src = tempfile::tempdir().unwrap();
        app_tree(src.path());
        let r = recipe(
            src.path(),
            &with_base(&format!("{{ oci-layout = \"{}:v1\" }}", layout.display())),
        );
        let err = build_with(
            &r,
            "backend",
            &dir.path().join("out"),
            &dir.path().join("cache"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("oci:{}:v1 layer 2: {message}", layout.display()),
            "case {i}"
        );
        assert!(
            !dir.path().join("out").exists(),
            "nothing written for case {i}"
        );
    }
}

#[test]
fn an_oci_layout_base_keeps_its_layers_config_and_whiteouts() {
    let dir = tempfile::tempdir().unwrap();
    let lower = RawTar::new()
        .entry("etc/", EntryType::Directory, None, b"")
        .file(
            "etc/passwd",
            "root:x:0:0::/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n",
        )
        .file("big/blob", &"b".repeat(10_000))
        .finish();
    let upper = RawTar::new().file("big/.wh.blob", "").finish();
    let layout = oci_layout(
        &dir.path().join("base"),
        "v1",
        &[lower, upper],
        &serde_json::json!({"Labels": {"from": "base"}}),
    );
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let text = with_base(&format!("{{ oci-layout = \"{}:v1\" }}", layout.display()))
        .replace("user = \"10001\"", "user = \"app\"");
    let built = build_with(
        &recipe(src.path(), &text),
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap();
    assert_eq!(
        built
            .layers
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["base", "base", "deps", "app"]
    );
    let config: serde_json::Value = serde_json::from_slice(
        &fs::read(
            built
                .layout
                .join("blobs/sha256")
                .join(built.config_digest.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(config["config"]["User"], "10001");
    assert_eq!(config["config"]["Labels"]["from"], "base");
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!([
            "PATH=/usr/bin:/bin",
            "LANG=C.UTF-8",
            "PYTHONPATH=/opt/deps/lib"
        ])
    );

    // The whiteout hides the base's big file from the size listing.
    let tight = format!("budget = {{ uncompressed = 1 }}\n{text}");
    let err = build_with(
        &recipe(src.path(), &tight),
        "backend",
        &dir.path().join("out2"),
        &dir.path().join("cache"),
    )
    .unwrap_err()
    .to_string();
    assert!(!err.contains("/big/blob"), "{err}");
    assert!(err.contains("/etc/passwd  (layer base)"), "{err}");
}

#[test]
fn a_layout_with_a_tampered_blob_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let layout = oci_layout(
        &dir.path().join("base"),
        "v1",
        &[RawTar::new().file("a", "1").finish()],
        &serde_json::json!({}),
    );
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(layout.join("blobs/sha256").join(&manifest_digest[7..])).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let tampered = crate::support::gzip_layer(&RawTar::new().file("a", "2").finish()).0;
    fs::write(layout.join("blobs/sha256").join(&layer[7..]), &tampered).unwrap();
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let r = recipe(
        src.path(),
        &with_base(&format!("{{ oci-layout = \"{}\" }}", layout.display())),
    );
    let err = build_with(
        &r,
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(&format!(
            "oci:{} layer 1: digest mismatch: expected {layer}, got sha256:",
            layout.display()
        )),
        "{err}"
    );
}

#[test]
fn a_docker_archive_base_gives_the_same_image_as_its_layout() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let base = build_with(
        &recipe(src.path(), APP_RECIPE),
        "base",
        &dir.path().join("base"),
        &dir.path().join("cache"),
    )
    .unwrap();
    let from_archive = build_with(
        &recipe(
            src.path(),
            &with_base(&format!(
                "{{ docker-archive = \"{}\" }}",
                base.archive.display()
            )),
        ),
        "backend",
        &dir.path().join("a"),
        &dir.path().join("cache2"),
    )
    .unwrap();
    let from_layout = build_with(
        &recipe(
            src.path(),
            &with_base(&format!(
                "{{ oci-layout = \"{}:{}\" }}",
                base.layout.display(),
                base.tag
            )),
        ),
        "backend",
        &dir.path().join("b"),
        &dir.path().join("cache3"),
    )
    .unwrap();
    assert_eq!(from_archive.manifest_digest, from_layout.manifest_digest);
    assert_eq!(from_archive.layers[..2], from_layout.layers[..2]);
    assert_eq!(from_archive.layers[0].digest, base.layers[0].digest);
}

#[test]
fn a_rootfs_tar_base_drops_dev_nodes_and_keeps_owners() {
    let Some(bases) = hoist_testkit::service_path(hoist_testkit::BASES) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let r = recipe(
        src.path(),
        &with_base(&format!(
            "{{ rootfs = \"{}\" }}",
            bases.join("python.tar").display()
        )),
    );
    let built = build_with(
        &r,
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap();
    assert_eq!(built.layers.len(), 3);
    // Imported in this build: not reported as cached (`hoist build` said so).
    assert!(!built.layers[0].cached);
    let again = build_with(
        &r,
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap();
    assert_eq!(again.manifest_digest, built.manifest_digest);
    assert!(again.layers[0].cached);
    // The base was scanned at import; the warm build reads none of it.
    assert_eq!(again.work.files_scanned, 0);
    let base_blob = dir
        .path()
        .join("cache/blobs/sha256")
        .join(built.layers[0].digest.trim_start_matches("sha256:"));
    // Stored uncompressed: the blob is the tar itself.
    assert_eq!(built.layers[0].digest, built.layers[0].diff_id);
    let mut archive = tar::Archive::new(fs::File::open(base_blob).unwrap());
    let mut saw_python = false;
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let kind = entry.header().entry_type();
        assert!(
            !matches!(kind, EntryType::Char | EntryType::Block),
            "{:?}",
            entry.path()
        );
        saw_python |= entry
            .path()
            .unwrap()
            .to_string_lossy()
            .ends_with("usr/bin/python3.11");
    }
    assert!(saw_python);

    // Blobs are not synced: a crash can leave one short. Its import record
    // then no longer holds, and the base is imported again, not reused.
    let base_blob = dir
        .path()
        .join("cache/blobs/sha256")
        .join(built.layers[0].digest.trim_start_matches("sha256:"));
    let blob = fs::OpenOptions::new().write(true).open(&base_blob).unwrap();
    blob.set_len(built.layers[0].size / 2).unwrap();
    drop(blob);
    let after_crash = build_with(
        &r,
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap();
    assert!(!after_crash.layers[0].cached);
    assert_eq!(after_crash.manifest_digest, built.manifest_digest);
    assert_eq!(
        fs::metadata(&base_blob).unwrap().len(),
        built.layers[0].size
    );
    // The layout's hard link to the short blob is replaced too.
    let layout_blob = after_crash
        .layout
        .join("blobs/sha256")
        .join(built.layers[0].digest.trim_start_matches("sha256:"));
    assert_eq!(
        fs::metadata(&layout_blob).unwrap().len(),
        built.layers[0].size
    );
}
