//! `.dockerignore`-style exclude patterns: globs relative to the copied
//! directory, the last matching pattern wins, `!` re-includes, and a pattern
//! that matches a directory excludes everything under it.

use globset::{GlobBuilder, GlobMatcher};

/// A compiled exclude list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Excludes {
    patterns: Vec<(GlobMatcher, bool)>,
}

impl Excludes {
    /// Compiles the patterns; a bad one is reported with its text.
    pub(crate) fn new(patterns: &[String]) -> Result<Self, String> {
        let mut compiled = Vec::new();
        for pattern in patterns {
            let (negated, body) = match pattern.strip_prefix('!') {
                Some(body) => (true, body),
                None => (false, pattern.as_str()),
            };
            let body = body
                .trim_start_matches("./")
                .trim_start_matches('/')
                .trim_end_matches('/');
            let glob = GlobBuilder::new(body)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("exclude pattern `{pattern}`: {e}"))?;
            compiled.push((glob.compile_matcher(), negated));
        }
        Ok(Self { patterns: compiled })
    }

    /// Whether `relative` (slash-separated, no leading slash) is excluded.
    pub(crate) fn excluded(&self, relative: &str) -> bool {
        let mut excluded = false;
        for (glob, negated) in &self.patterns {
            if prefixes(relative).any(|prefix| glob.is_match(prefix)) {
                excluded = !negated;
            }
        }
        excluded
    }

    /// Whether a directory can be skipped whole (nothing re-includes below it).
    pub(crate) fn prune(&self, relative: &str) -> bool {
        self.excluded(relative) && !self.patterns.iter().any(|(_, negated)| *negated)
    }
}

/// The patterns of `context`'s `.dockerignore` (none when it has none).
pub(crate) fn dockerignore(context: &std::path::Path) -> Vec<String> {
    let ignore = std::fs::read_to_string(context.join(".dockerignore")).unwrap_or_default();
    ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// `a`, `a/b`, `a/b/c` for `a/b/c`.
fn prefixes(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(|(i, _)| &path[..i])
        .chain(std::iter::once(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(patterns: &[&str]) -> Excludes {
        Excludes::new(&patterns.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn directory_patterns_exclude_their_contents() {
        let e = ex(&["node_modules", "**/__pycache__", "*.pyc"]);
        assert!(e.excluded("node_modules/x/y.js"));
        assert!(e.excluded("pkg/__pycache__/m.cpython-311.pyc"));
        assert!(e.excluded("m.pyc"));
        assert!(!e.excluded("pkg/m.pyc"));
        assert!(!e.excluded("src/node_modules_notes.txt"));
        assert!(e.prune("node_modules"));
    }

    #[test]
    fn the_last_matching_pattern_wins() {
        let e = ex(&["*.md", "!README.md"]);
        assert!(e.excluded("CHANGES.md"));
        assert!(!e.excluded("README.md"));
        assert!(!e.prune("docs"));
    }

    #[test]
    fn bad_patterns_are_named() {
        let err = Excludes::new(&["a[".to_owned()]).unwrap_err();
        assert!(err.starts_with("exclude pattern `a[`: "), "{err}");
    }
}
