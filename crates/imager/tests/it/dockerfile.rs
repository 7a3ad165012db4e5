//! The Dockerfile strategy on the real dockerd, from an offline base passed
//! as a build argument, gives the same kind of artifact as a native build.

use std::fs;
use std::process::Command;

use crate::support::{build_with, recipe, run, write_tree};

/// The offline python base, loaded into the daemon as a native build of
/// it (the rootfs tar's device nodes are dropped on the way; `docker import`
/// would keep them and the result would be refused as a base).
fn import_python_base(host: &str) -> Option<&'static str> {
    let bases = hoist_testkit::service_path(hoist_testkit::BASES)?;
    let tag = "hoist-base/python:test";
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let text = format!(
        "base = {{ rootfs = \"{}\" }}\n[config]\nuser = \"65534\"\n",
        bases.join("python.tar").display()
    );
    let built = build_with(
        &recipe(dir, &text),
        "python-base",
        &dir.join("dockerfile-base"),
        &dir.join("imager-app-cache"),
    )
    .unwrap();
    run(Command::new("docker")
        .args(["-H", host, "load", "-i"])
        .arg(&built.archive));
    run(Command::new("docker").args(["-H", host, "tag", &built.reference, tag]));
    Some(tag)
}

const DOCKERFILE: &str = "ARG BASE\nFROM ${BASE}\nCOPY app /app\nUSER 10001:10001\nWORKDIR /app\nEXPOSE 8000\nCMD [\"python3\", \"/app/main.py\"]\n";

#[test]
fn a_dockerfile_build_comes_back_as_a_layout_and_a_loadable_archive() {
    let Some(host) = hoist_testkit::service(hoist_testkit::DOCKER) else {
        return;
    };
    let Some(base) = import_python_base(&host) else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    write_tree(
        src.path(),
        &[
            ("ctx/Dockerfile", DOCKERFILE),
            ("ctx/app/main.py", "print('from dockerfile')\n"),
            ("ctx/app/junk.log", "x"),
            ("ctx/.dockerignore", "**/*.log\n"),
        ],
    );
    let text = format!("[dockerfile]\ncontext = \"ctx\"\nargs = {{ BASE = \"{base}\" }}\n");
    let out = tempfile::tempdir().unwrap();
    let built = build_with(
        &recipe(src.path(), &text),
        "dockerfile-it",
        &out.path().join("out"),
        &out.path().join("cache"),
    )
    .unwrap();
    assert_eq!(built.layers.len(), 2, "{:?}", built.layers);
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
    assert_eq!(config["config"]["User"], "10001:10001");
    let docker = |args: &[&str]| run(Command::new("docker").arg("-H").arg(&host).args(args));
    docker(&["load", "-i", &built.archive.to_string_lossy()]);
    let ran = docker(&["run", "--rm", "--network", "none", &built.reference]);
    assert_eq!(ran.trim(), "from dockerfile");
    let listed = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &built.reference,
        "ls",
        "/app",
    ]);
    assert_eq!(listed.trim(), "main.py", ".dockerignore applied");
    docker(&["rmi", &built.reference]);
}

#[test]
fn the_daemons_error_text_is_shown_whole() {
    let Some(host) = hoist_testkit::service(hoist_testkit::DOCKER) else {
        return;
    };
    let Some(base) = import_python_base(&host) else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    write_tree(
        src.path(),
        &[("ctx/Dockerfile", "ARG BASE\nFROM ${BASE}\nRUN exit 3\n")],
    );
    let text = format!("[dockerfile]\ncontext = \"ctx\"\nargs = {{ BASE = \"{base}\" }}\n");
    let out = tempfile::tempdir().unwrap();
    let err = build_with(
        &recipe(src.path(), &text),
        "dockerfile-it",
        &out.path().join("out"),
        &out.path().join("cache"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "docker build of {} failed: The command '/bin/sh -c exit 3' returned a non-zero code: 3",
            src.path().join("ctx").display()
        )
    );
}
