//! hoist-config integration tests: `cargo test -p hoist-config --test it`.
//!
//! Error corpora live in `tests/data/{stack,dotenv}`; each file's exact
//! error is an insta snapshot in `snapshots/`.

mod corpus;
mod dotenv;
mod lint;
mod mapping;
#[cfg(feature = "k8s")] // Builds the ConfigMap and Secret objects.
mod objects;
mod stack;

use std::path::Path;

use hoist_config::Stack;

/// Writes `files` (name, contents) into a new temporary directory.
pub(crate) fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, contents) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    dir
}

/// Loads `hoist.toml` from `dir` with `profile`.
pub(crate) fn load(dir: &Path, profile: Option<&str>) -> Stack {
    Stack::load(&dir.join("hoist.toml"), profile).unwrap()
}
