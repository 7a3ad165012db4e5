//! The crate's error type: one [`Error`] gathering one enum per area.

use std::fmt::{self, Write as _};
use std::path::PathBuf;

use crate::location::{Location, did_you_mean};

/// Everything that can go wrong reading configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `hoist.toml` in the directory or any parent.
    #[error("no {} in {} or any parent directory; run hoist in your project or name the file with `-f`", crate::STACK_FILE, start.display())]
    StackFileNotFound {
        /// Where the search started.
        start: PathBuf,
    },
    /// A file could not be read.
    // The I/O error is part of the message rather than a `source`, so
    // reports that print the chain do not say it twice.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The stack file is malformed or inconsistent.
    #[error(transparent)]
    Stack(#[from] Box<StackError>),
    /// A `.env` file is malformed.
    #[error(transparent)]
    Dotenv(#[from] DotenvError),
    /// The variables could not be mapped.
    #[error(transparent)]
    Env(#[from] EnvError),
}

impl From<StackError> for Error {
    fn from(error: StackError) -> Self {
        Self::Stack(Box::new(error))
    }
}

/// What is wrong with `hoist.toml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// Not valid TOML.
    #[error("{location}: invalid TOML: {message}")]
    Syntax {
        /// Where.
        location: Location,
        /// The parser's reason.
        message: String,
    },
    /// A key hoist does not know.
    #[error("{location}: unknown key `{key}`{}", suggestion_or_expected(.suggestion.as_ref(), .expected))]
    UnknownKey {
        /// Where the key is.
        location: Location,
        /// The key.
        key: String,
        /// The valid key closest to it, if one is close.
        suggestion: Option<String>,
        /// Every valid key at that place.
        expected: Vec<String>,
    },
    /// A value of the wrong type, or a missing field.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong, in the deserializer's words.
        message: String,
    },
    /// A project, namespace or service name Kubernetes would reject.
    #[error(
        "{location}: {what} `{name}` is not a DNS-1123 label ({reason}); use lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters, e.g. `{fixed}`"
    )]
    InvalidName {
        /// Where.
        location: Location,
        /// "project", "namespace" or "service name".
        what: &'static str,
        /// The name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
        /// A name that follows the rules.
        fixed: String,
    },
    /// An environment variable name that is not `[A-Za-z_][A-Za-z0-9_]*`.
    #[error(
        "{location}: `{key}` is not a valid environment variable name; use letters, digits and `_`, not starting with a digit"
    )]
    InvalidKey {
        /// Where.
        location: Location,
        /// The name.
        key: String,
    },
    /// `depends_on` names a service that does not exist.
    #[error("{location}: service `{service}` depends on `{target}`, which is not a service in this stack{}", did_you_mean(.suggestion.as_ref()))]
    UnknownDependency {
        /// Where the dependency is written.
        location: Location,
        /// The service that declares it.
        service: String,
        /// The missing service.
        target: String,
        /// The service name closest to it, if one is close.
        suggestion: Option<String>,
    },
    /// `depends_on` edges form a cycle.
    #[error("{location}: dependency cycle: {}; remove one of these `depends_on` entries", .path.join(" -> "))]
    Cycle {
        /// The `depends_on` entry that closes the cycle.
        location: Location,
        /// The services on the cycle, the first repeated at the end.
        path: Vec<String>,
    },
    /// `--profile` names a profile the stack does not define.
    #[error("{}: no profile `{profile}` in [profiles]{}{}", .file.display(), did_you_mean(.suggestion.as_ref()), defined_list(.defined))]
    UnknownProfile {
        /// The stack file.
        file: PathBuf,
        /// The profile asked for.
        profile: String,
        /// The defined profile closest to it, if one is close.
        suggestion: Option<String>,
        /// Every defined profile.
        defined: Vec<String>,
    },
    /// A key listed twice in lists that contradict each other.
    #[error(
        "{location}: `{key}` of service `{service}` is listed in both `{first}` and `{second}`; keep it in one"
    )]
    ConflictingLists {
        /// Where the second listing is.
        location: Location,
        /// The service.
        service: String,
        /// The key.
        key: String,
        /// The first list.
        first: &'static str,
        /// The second list.
        second: &'static str,
    },
}

fn suggestion_or_expected(suggestion: Option<&String>, expected: &[String]) -> String {
    match (suggestion, expected) {
        (Some(_), _) => did_you_mean(suggestion),
        (None, []) => "; no keys are allowed here".to_owned(),
        (None, expected) => format!(
            "; expected one of {}",
            expected
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn defined_list(profiles: &[String]) -> String {
    if profiles.is_empty() {
        " (the stack defines no profiles; add a `[profiles.<name>]` table)".to_owned()
    } else {
        format!(" (defined: {})", profiles.join(", "))
    }
}

/// A malformed `.env` file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct DotenvError {
    /// Where.
    pub location: Location,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// Variables that cannot be mapped to a `ConfigMap` and a Secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// Required variables without a value (unset or empty), all of them.
    #[error("{} required variable{} no value:{}", .0.len(), if .0.len() == 1 { " has" } else { "s have" }, list(.0))]
    MissingRequired(Vec<Missing>),
    /// Keys listed as plain configuration that look secret, all of them.
    #[error("{} variable{} listed as plain configuration but look{} secret, and would land in a ConfigMap:{}", .0.len(), if .0.len() == 1 { " is" } else { "s are" }, if .0.len() == 1 { "s" } else { "" }, list(.0))]
    LooksSecret(Vec<Refusal>),
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items.iter().fold(String::new(), |mut out, item| {
        let _ = write!(out, "\n  - {item}");
        out
    })
}

/// One required variable that no source sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The service that requires it.
    pub service: String,
    /// The variable.
    pub key: String,
    /// Where `required` lists it.
    pub required_at: Location,
    /// The places that could set it, highest precedence first.
    pub could_be_set_in: Vec<String>,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} for service `{}` (required at {}); set it in {}",
            self.key,
            self.service,
            self.required_at,
            or_list(&self.could_be_set_in)
        )
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// One key listed in `config` that looks secret and is not in `allow_plain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The service.
    pub service: String,
    /// The variable.
    pub key: String,
    /// Where `config` lists it.
    pub listed_at: Location,
    /// Why it looks secret (a name rule, or a value rule's id); never the value.
    pub why: String,
    /// Where its value came from.
    pub source: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of service `{}` (listed in `config` at {}; value from {}) {}; move it to `secret`, or add it to `allow_plain` if it really is public",
            self.key, self.service, self.listed_at, self.source, self.why
        )
    }
}

/// The config crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
