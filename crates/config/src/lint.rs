//! The `.env.example` lint: every variable the stack uses is documented
//! there, and nothing in it looks like a real secret.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use crate::dotenv::{self, Expand};
use crate::error::Result;
use crate::location::Location;
use crate::stack::{EnvSpec, Stack};
use hoist_secrets::{Allowlist, Scanner};

/// The example file's name, next to the stack file.
pub const EXAMPLE_FILE: &str = ".env.example";

/// One problem with `.env.example`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// There is no example file.
    NoExample {
        /// Where it should be.
        path: PathBuf,
    },
    /// A variable the stack uses is not in the example.
    Undocumented {
        /// The example file.
        example: PathBuf,
        /// The first service that uses it.
        service: String,
        /// The variable.
        key: String,
        /// Where the stack file declares it.
        declared_at: Location,
    },
    /// A value in the example looks like a real secret.
    LooksSecret {
        /// Where.
        location: Location,
        /// The variable.
        key: String,
        /// The hoist-secrets rule it matches.
        rule: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoExample { path } => write!(
                f,
                "{}: missing; create it with a `KEY=` line for every variable the stack uses",
                path.display()
            ),
            Self::Undocumented {
                example,
                service,
                key,
                declared_at,
            } => write!(
                f,
                "{}: `{key}` (used by service `{service}`, declared at {declared_at}) is not documented; add a `{key}=` line with a comment saying what it is",
                example.display()
            ),
            Self::LooksSecret {
                location,
                key,
                rule,
            } => write!(
                f,
                "{location}: the value of `{key}` looks like a real secret (rule `{rule}`); replace it with a placeholder such as `{key}=change-me`"
            ),
        }
    }
}

/// Lints `.env.example` next to the stack file.
///
/// # Errors
///
/// [`Error::Read`](crate::Error::Read) when the file exists but cannot be
/// read, and [`DotenvError`](crate::DotenvError) when it is malformed.
pub fn lint_example(stack: &Stack) -> Result<Vec<Finding>> {
    let path = stack.dir().join(EXAMPLE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(vec![Finding::NoExample { path }]);
        }
        Err(error) => return Err(crate::Error::Read { path, error }),
    };
    // An example may refer to variables only a real environment has.
    let empty = |_: &str| Some(String::new());
    let entries = dotenv::parse(
        &path,
        &text,
        Expand {
            first: &|_| None,
            last: &empty,
        },
    )?;
    let documented: BTreeSet<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let mut findings = Vec::new();
    let mut reported = BTreeSet::new();
    for (name, service) in &stack.services {
        for key in service.env.declared_keys() {
            if !documented.contains(key) && reported.insert(key) {
                findings.push(Finding::Undocumented {
                    example: path.clone(),
                    service: name.clone(),
                    key: key.to_owned(),
                    declared_at: stack.location(&declared_span(&service.env, key)),
                });
            }
        }
    }
    // An example file documents credentials with placeholders
    // (`postgresql://todo:change-me@...`), so it is judged the way image
    // content is (placeholders and documentation hosts pass), not by the
    // stricter value rules that route a live variable into a Secret.
    let scanner = Scanner::new(Allowlist::new());
    for entry in &entries {
        let assignment = [format!("{}={}", entry.key, entry.value)];
        if let Some(rule) = scanner
            .scan_env(".env.example", &assignment)
            .first()
            .map(|f| f.rule)
        {
            findings.push(Finding::LooksSecret {
                location: Location {
                    file: path.clone(),
                    line: entry.line,
                    column: 1,
                },
                key: entry.key.clone(),
                rule: rule.to_string(),
            });
        }
    }
    Ok(findings)
}

fn declared_span(spec: &EnvSpec, key: &str) -> std::ops::Range<usize> {
    [
        &spec.required,
        &spec.keys,
        &spec.secret,
        &spec.config,
        &spec.allow_plain,
    ]
    .into_iter()
    .find_map(|list| EnvSpec::lists(list, key))
    .or_else(|| spec.defaults.get(key).map(toml::Spanned::span))
    .unwrap_or_default()
}
