//! The host paths a recipe reads, for a watcher (`hoist dev`): each
//! layer's `copy` sources with the layer's excludes, each prepare step's
//! `inputs`, and a Dockerfile recipe's context with its `.dockerignore`.
//! What a prepare step writes (its `outputs`) is not a source even where a
//! layer copies it: the step's inputs stand for it, and a watcher that
//! followed the outputs would see every build as a new change.

use std::path::{Path, PathBuf};

use crate::Recipe;
use crate::ignore::Excludes;

/// The paths that feed one image.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    roots: Vec<(PathBuf, Excludes)>,
    generated: Vec<PathBuf>,
}

impl Sources {
    /// The files and directories to watch (recursively), absolute when the
    /// recipe's base directory is.
    pub fn roots(&self) -> impl Iterator<Item = &Path> {
        self.roots.iter().map(|(root, _)| root.as_path())
    }

    /// Whether a change to `path` can change the image: it is a root or
    /// under one, not excluded there, and not a prepare step's output.
    #[must_use]
    pub fn feeds(&self, path: &Path) -> bool {
        if self.generated.iter().any(|g| path.starts_with(g)) {
            return false;
        }
        self.roots.iter().any(|(root, excludes)| {
            path.strip_prefix(root).is_ok_and(|relative| {
                let relative = relative.to_string_lossy().replace('\\', "/");
                relative.is_empty() || !excludes.excluded(&relative)
            })
        })
    }
}

impl Recipe {
    /// What feeds this recipe's image, for watching.
    ///
    /// # Errors
    ///
    /// A layer exclude pattern that is not a valid glob, with its text.
    pub fn sources(&self) -> Result<Sources, String> {
        let generated: Vec<PathBuf> = self
            .prepare
            .iter()
            .flat_map(|step| step.outputs.iter().cloned())
            .collect();
        let mut roots = Vec::new();
        for step in &self.prepare {
            for input in &step.inputs {
                roots.push((input.clone(), Excludes::default()));
            }
        }
        for layer in &self.layers {
            let excludes = Excludes::new(&layer.exclude)?;
            for copy in &layer.copy {
                // A copy of (or from inside) a prepare output is fed by the step's inputs.
                if !generated.iter().any(|g| copy.from.starts_with(g)) {
                    roots.push((copy.from.clone(), excludes.clone()));
                }
            }
        }
        if let Some(dockerfile) = &self.dockerfile {
            let context = &dockerfile.context;
            let excludes = Excludes::new(&crate::ignore::dockerignore(context))?;
            roots.push((context.clone(), excludes));
        }
        Ok(Sources { roots, generated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_copies_and_inputs_minus_excludes_and_outputs() {
        let base = Path::new("/stack");
        let recipe = Recipe::from_toml_str(
            r#"
base = "scratch"
[[prepare]]
run = "make"
dir = "web"
inputs = ["src", "package.json"]
outputs = ["dist"]
[[layers]]
name = "app"
copy = [{ from = "api/app", to = "/app" }, { from = "web/dist", to = "/www" }]
exclude = ["**/__pycache__", "*.pyc"]
"#,
            base,
        )
        .unwrap();
        let sources = recipe.sources().unwrap();
        let roots: Vec<&Path> = sources.roots().collect();
        assert_eq!(
            roots,
            [
                Path::new("/stack/web/src"),
                Path::new("/stack/web/package.json"),
                Path::new("/stack/api/app"),
            ]
        );
        assert!(sources.feeds(Path::new("/stack/api/app/main.py")));
        assert!(sources.feeds(Path::new("/stack/api/app")));
        assert!(!sources.feeds(Path::new("/stack/api/app/x/__pycache__/m.cpython.pyc")));
        assert!(!sources.feeds(Path::new("/stack/api/app/main.pyc")));
        assert!(sources.feeds(Path::new("/stack/web/src/page.tsx")));
        assert!(!sources.feeds(Path::new("/stack/web/dist/index.html")));
        assert!(!sources.feeds(Path::new("/stack/web/README.md")));
        assert!(!sources.feeds(Path::new("/stack/api/other.py")));
    }
}
