//! Over budget, the build fails and shows where the bytes are.

use std::fs;

use crate::support::{APP_RECIPE, app_tree, build_with, recipe};

#[test]
fn over_budget_lists_the_largest_layers_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    for i in 0..12u8 {
        fs::write(
            src.path().join(format!("deps/lib/blob{i:02}.bin")),
            vec![b'a' + i; 1000 * (usize::from(i) + 1)],
        )
        .unwrap();
    }
    let text =
        format!("budget = {{ uncompressed = \"50kB\", compressed = \"1MB\" }}\n{APP_RECIPE}");
    let err = build_with(
        &recipe(src.path(), &text),
        "backend",
        &dir.path().join("out"),
        &dir.path().join("cache"),
    )
    .unwrap_err();
    let expected = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/budget_exceeded.txt"
    ))
    .unwrap();
    assert_eq!(err.to_string(), expected.trim_end());
    assert!(!dir.path().join("out").exists());
}

#[test]
fn services_get_their_default_budget() {
    let r = recipe(std::path::Path::new("/"), "");
    assert_eq!(r.budget_for("frontend").uncompressed, 300_000_000);
    assert_eq!(r.budget_for("backend").uncompressed, 500_000_000);
}
