//! Places in files, and the nearest-name suggestions that errors carry.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a file: path, 1-based line and 1-based column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The file, as it was named to hoist.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `source`, the text of `file`.
    #[must_use]
    pub fn at_offset(file: &Path, source: &str, offset: usize) -> Self {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self {
            file: file.to_path_buf(),
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// The candidate closest to `wrong`, when one is close enough to be a typo.
pub(crate) fn nearest<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (wrong.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(wrong, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// `; did you mean `x`?`, or nothing.
pub(crate) fn did_you_mean(suggestion: Option<&String>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let source = "a = 1\nbé = 2\n";
        let at = |offset| Location::at_offset(Path::new("f"), source, offset).to_string();
        assert_eq!(at(0), "f:1:1");
        assert_eq!(at(6), "f:2:1");
        // 'é' is two bytes but one column; offset 9 is the space after it.
        assert_eq!(at(9), "f:2:3");
        assert_eq!(at(999), "f:3:1");
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(nearest("imagee", ["image", "chart"]), Some("image"));
        assert_eq!(
            nearest("dependson", ["depends_on", "ports"]),
            Some("depends_on")
        );
        assert_eq!(nearest("zzzzzz", ["image", "chart"]), None);
    }
}
