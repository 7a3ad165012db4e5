//! hoist-config: the stack file (`hoist.toml`) and `.env` files.
//!
//! hoist finds `hoist.toml` the way cargo finds `Cargo.toml`: in the current
//! directory or the nearest parent that has one.
//!
//! ```no_run
//! let path = hoist_config::find_stack_file(std::path::Path::new("."))?;
//! println!("stack file: {}", path.display());
//! # Ok::<(), hoist_config::Error>(())
//! ```
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

/// The stack file's name.
pub const STACK_FILE: &str = "hoist.toml";

/// Everything that can go wrong reading configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `hoist.toml` in the directory or any parent.
    #[error("no {STACK_FILE} in {} or any parent directory; run hoist in your project or name the file with `-f`", start.display())]
    StackFileNotFound {
        /// Where the search started.
        start: PathBuf,
    },
}

/// The config crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Finds `hoist.toml` in `start` or its nearest parent that has one.
///
/// # Errors
///
/// [`Error::StackFileNotFound`] when no directory up to the root has one.
pub fn find_stack_file(start: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    absolute
        .ancestors()
        .map(|dir| dir.join(STACK_FILE))
        .find(|candidate| candidate.is_file())
        .ok_or(Error::StackFileNotFound { start: absolute })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_stack_file_upwards() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("a/b/c");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(root.path().join("a").join(STACK_FILE), "").unwrap();
        assert_eq!(
            find_stack_file(&nested).unwrap(),
            root.path().join("a").join(STACK_FILE)
        );
    }

    #[test]
    fn missing_stack_file_names_the_start_and_the_fix() {
        let root = tempfile::tempdir().unwrap();
        let err = find_stack_file(root.path()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "no hoist.toml in {} or any parent directory; run hoist in your project or name the file with `-f`",
                root.path().display()
            )
        );
    }
}
