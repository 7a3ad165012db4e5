//! The process environment as a value, so that detection and checks can be
//! run (and tested) against any environment without touching global state.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A snapshot of environment variables.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// The current process environment.
    #[must_use]
    pub fn current() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    /// An environment holding exactly these variables.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// The value of `name`, when set and not empty.
    #[must_use]
    pub fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// Sets `name` (builder style), for tests and overrides.
    #[must_use]
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// The user's home directory (`HOME`), or `/` when unset.
    #[must_use]
    pub fn home(&self) -> PathBuf {
        self.var("HOME")
            .map_or_else(|| PathBuf::from("/"), PathBuf::from)
    }
}
