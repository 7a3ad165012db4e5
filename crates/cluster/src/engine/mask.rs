//! Keeping the stack's secret values out of what the engine returns.

use aho_corasick::{AhoCorasick, MatchKind};

use hoist_config::REDACTED;

/// Replaces every occurrence of the stack's secret values by
/// `<redacted>`, longest first (so a URL holding a password is masked
/// whole). Empty values are ignored.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    automaton: Option<AhoCorasick>,
}

impl Masker {
    /// A masker for these values.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        secrets.sort();
        secrets.dedup();
        // Building from plain strings only fails past the automaton's size limits.
        let automaton = if secrets.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&secrets)
                .ok()
        };
        Self { automaton }
    }

    /// `text` with every secret value replaced.
    #[must_use]
    pub fn mask(&self, text: &str) -> String {
        match &self.automaton {
            Some(automaton) => {
                let replacements = vec![REDACTED; automaton.patterns_len()];
                automaton.replace_all(text, &replacements)
            }
            None => text.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_value_longest_first() {
        let masker = Masker::new([
            "pw-1234".to_owned(),
            "postgresql://u:pw-1234@db/x".to_owned(),
            String::new(),
        ]);
        assert_eq!(
            masker.mask("url postgresql://u:pw-1234@db/x and pw-1234 again"),
            "url <redacted> and <redacted> again"
        );
        assert_eq!(Masker::default().mask("as is"), "as is");
    }
}
