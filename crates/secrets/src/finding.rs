//! What a scan reports.

use std::fmt;

use serde::Serialize;

use crate::Rule;

/// One secret found: where, and by which rule. It never carries the value,
/// so it is safe to print, log and serialize.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// The path as the user knows it: the in-image path of a file, or a
    /// context such as `config.Env` or `history[3].created_by`.
    pub path: String,
    /// The 1-based line, or the 1-based entry index for `Env` and labels;
    /// `None` for findings about a whole file (a `.env` file, a binary file).
    pub line: Option<usize>,
    /// The rule that matched.
    pub rule: Rule,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{line}: {} ({})",
                self.path,
                self.rule,
                self.rule.description()
            ),
            None => write!(
                f,
                "{}: {} ({})",
                self.path,
                self.rule,
                self.rule.description()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_path_line_and_rule() {
        let finding = Finding {
            path: "/app/settings.py".into(),
            line: Some(12),
            rule: Rule::OpenAiKey,
        };
        assert_eq!(
            finding.to_string(),
            "/app/settings.py:12: openai-key (OpenAI API key)"
        );
        let finding = Finding {
            path: "/app/.env".into(),
            line: None,
            rule: Rule::DotEnvFile,
        };
        assert_eq!(finding.to_string(), "/app/.env: dotenv-file (.env file)");
    }
}
