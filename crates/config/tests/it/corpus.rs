//! Every malformed file under `tests/data` and its exact error.

use std::path::{Path, PathBuf};

use hoist_config::Stack;
use hoist_config::dotenv::{self, Expand};

fn files(dir: &str, extension: &str) -> Vec<(String, PathBuf)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .map(|path| {
            (
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                path,
            )
        })
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the corpus in {dir} went missing");
    files
}

#[test]
fn malformed_stack_files() {
    for (name, path) in files("tests/data/stack", "toml") {
        let text = std::fs::read_to_string(&path).unwrap();
        // A first line `# profile: NAME` selects a profile.
        let profile = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# profile: "));
        let error = Stack::load(Path::new(&path), profile)
            .map(|_| ())
            .expect_err(&name);
        insta::assert_snapshot!(format!("stack-{name}"), error.to_string());
    }
}

#[test]
fn malformed_dotenv_files() {
    for (name, path) in files("tests/data/dotenv", "env") {
        let text = std::fs::read_to_string(&path).unwrap();
        let error = dotenv::parse(&path, &text, Expand::OWN_KEYS_ONLY).expect_err(&name);
        insta::assert_snapshot!(format!("dotenv-{name}"), error.to_string());
    }
}
