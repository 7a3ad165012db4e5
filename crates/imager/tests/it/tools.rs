//! What we write is read by independent tools: skopeo, umoci, docker.

use std::process::Command;

use crate::support::{APP_RECIPE, app_tree, build_with, recipe, run};

#[test]
fn skopeo_and_umoci_read_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let built = build_with(
        &recipe(src.path(), APP_RECIPE),
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap();
    let inspect = run(Command::new("skopeo").args([
        "inspect",
        &format!("oci:{}:{}", built.layout.display(), built.tag),
    ]));
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Digest"], built.manifest_digest.as_str());
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        inspect["Labels"]["org.opencontainers.image.source"],
        "https://example.invalid/todo"
    );
    let config = run(Command::new("skopeo").args([
        "inspect",
        "--config",
        &format!("oci:{}:{}", built.layout.display(), built.tag),
    ]));
    assert!(config.contains("\"User\": \"10001\""), "{config}");

    let archive = run(Command::new("skopeo").args([
        "inspect",
        &format!("docker-archive:{}", built.archive.display()),
    ]));
    let archive: serde_json::Value = serde_json::from_str(&archive).unwrap();
    assert_eq!(archive["Layers"].as_array().unwrap().len(), 2);

    let bundle = dir.path().join("bundle");
    run(Command::new("umoci")
        .args([
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:{}", built.layout.display(), built.tag),
        ])
        .arg(&bundle));
    let main = std::fs::read_to_string(bundle.join("rootfs/app/app/main.py")).unwrap();
    assert_eq!(main, "print('hello')\n");
    assert!(!bundle.join("rootfs/app/app/__pycache__").exists());
    assert!(bundle.join("rootfs/opt/deps/lib/data.bin").is_file());
}

#[test]
fn docker_loads_the_archive_and_runs_it_as_the_recipe_user() {
    let Some(host) = hoist_testkit::service(hoist_testkit::DOCKER) else {
        return;
    };
    let Some(bases) = hoist_testkit::service_path(hoist_testkit::BASES) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let text = format!(
        "base = {{ rootfs = \"{}\" }}\n{}",
        bases.join("python.tar").display(),
        APP_RECIPE.replace(
            "cmd = [\"python3\", \"/app/app/main.py\"]",
            "cmd = [\"python3\", \"-c\", \"import os, dep; print(os.getuid(), dep.VALUE, os.getcwd())\"]"
        )
    );
    let built = build_with(
        &recipe(src.path(), &text),
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap();
    let docker = |args: &[&str]| run(Command::new("docker").arg("-H").arg(&host).args(args));
    let loaded = docker(&["load", "-i", &built.archive.to_string_lossy()]);
    assert!(loaded.contains(&built.reference), "{loaded}");
    let id = docker(&["image", "inspect", "--format", "{{.Id}}", &built.reference]);
    assert_eq!(id.trim(), built.config_digest);
    let out = docker(&["run", "--rm", "--network", "none", &built.reference]);
    assert_eq!(out.trim(), "10001 1 /app");
    docker(&["rmi", &built.reference]);
}
