//! Secrets planted at test time are found wherever they hide, and their
//! values appear nowhere in what the build reports.

use std::fs;

use hoist_testkit::fake_secret;

use crate::support::{APP_RECIPE, RawTar, app_tree, build_with, oci_layout, recipe};

fn openai(seed: u64) -> String {
    fake_secret(&format!("sk-{}-", "proj"), 120, seed)
}

#[test]
fn secrets_in_files_deleted_base_files_env_and_labels_are_each_found() {
    let dir = tempfile::tempdir().unwrap();
    let (in_file, in_base, in_env, in_label) = (openai(1), openai(2), openai(3), openai(4));
    // A key in a base layer that a later layer deletes: it still ships.
    let lower = RawTar::new()
        .file("etc/app/key.conf", &format!("api_key = \"{in_base}\"\n"))
        .finish();
    let upper = RawTar::new().file("etc/app/.wh.key.conf", "").finish();
    let layout = oci_layout(
        &dir.path().join("base"),
        "v1",
        &[lower, upper],
        &serde_json::json!({}),
    );
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    fs::write(
        src.path().join("src/app/settings.py"),
        format!("# config\nOPENAI_API_KEY = \"{in_file}\"\n"),
    )
    .unwrap();
    let text = format!("base = {{ oci-layout = \"{}:v1\" }}\n{APP_RECIPE}", layout.display())
        .replace("env = { PYTHONPATH = \"/opt/deps/lib\" }", &format!("env = {{ PYTHONPATH = \"/opt/deps/lib\", OPENAI_API_KEY = \"{in_env}\" }}\nlabels = {{ \"org.example.token\" = \"{in_label}\" }}"));
    let err = build_with(
        &recipe(src.path(), &text),
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap_err();
    let shown = format!("{err}\n{err:?}");
    for value in [&in_file, &in_base, &in_env, &in_label] {
        assert!(!shown.contains(value.as_str()), "value leaked: {shown}");
    }
    let message = err.to_string();
    assert!(
        message.starts_with("secrets found; nothing was written:\n"),
        "{message}"
    );
    assert!(
        message.contains("  base layer 1: /etc/app/key.conf:1: openai-key"),
        "{message}"
    );
    assert!(
        message.contains("  layer app: /app/app/settings.py:2: openai-key"),
        "{message}"
    );
    assert!(
        message.contains("  image config: config.Env:3: openai-key"),
        "{message}"
    );
    assert!(
        message.contains("  image config: config.Labels:"),
        "{message}"
    );
    assert!(message.ends_with("accept a false positive in the recipe with `secrets.allow = [{ path = \"/the/path\", rule = \"rule-id\" }]`"), "{message}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_dotenv_file_fails_and_the_allowlist_accepts_a_reviewed_false_positive() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    fs::write(src.path().join("src/.env"), "DEBUG=1\n").unwrap();
    let err = build_with(
        &recipe(src.path(), APP_RECIPE),
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("  layer app: /app/.env: dotenv-file"),
        "{err}"
    );

    let allowed = format!(
        "{APP_RECIPE}\n[secrets]\nallow = [{{ path = \"/app/.env\", rule = \"dotenv-file\" }}]\n"
    );
    let built = build_with(
        &recipe(src.path(), &allowed),
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap();
    assert!(built.work.files_scanned > 0);
    // A clean layer is not read again by the next build.
    let again = build_with(
        &recipe(src.path(), &allowed),
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap();
    assert_eq!(again.work.files_scanned, 0);
}
