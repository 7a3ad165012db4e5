//! From the stack and the environment's sources to each service's variables.
//!
//! Precedence, highest first: the process environment, `--env-file` files
//! (in the order given, later winning), `<file>.<profile>` for each of the
//! service's `env.files`, the service's `env.files` themselves (default
//! `.env`; later winning), and last the `defaults` in `hoist.toml`.
//! Files named in `env.files` and their profile variants may be missing
//! (`.env` files are usually not committed); a `--env-file` must exist.
//!
//! A service takes exactly the variables its `env` section names (in
//! `required`, `keys`, `secret`, `config`, `allow_plain` or `defaults`), so
//! a shared `.env` never leaks the backend's secrets to the frontend.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::classify::{Listing, Reason, Target, classify};
use crate::dotenv::{self, Expand};
use crate::error::{EnvError, Missing, Refusal, Result};
use crate::location::Location;
use crate::secret::SecretValue;
use crate::stack::{EnvSpec, Stack};

/// Where a variable's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A `.env` file, at a line.
    File {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the assignment.
        line: usize,
    },
    /// The environment hoist runs in.
    Process,
    /// A `defaults` entry in the stack file.
    Default(Location),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path, line } => write!(f, "{}:{line}", path.display()),
            Self::Process => f.write_str("process environment"),
            Self::Default(location) => write!(f, "{location} (default)"),
        }
    }
}

impl serde::Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A variable's value: plain, or wrapped so it cannot be printed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    /// Configuration, safe to show.
    Plain(String),
    /// A secret; shows as `<redacted>`.
    Secret(SecretValue),
}

impl Value {
    /// The value itself, secret or not; see [`SecretValue::expose`].
    #[must_use]
    pub fn expose(&self) -> &str {
        match self {
            Self::Plain(value) => value,
            Self::Secret(value) => value.expose(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(value) => f.write_str(value),
            Self::Secret(value) => value.fmt(f),
        }
    }
}

/// One variable of one service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Var {
    /// The variable name.
    pub key: String,
    /// Its value.
    pub value: Value,
    /// Where the value came from.
    pub source: Source,
    /// `ConfigMap` or Secret.
    pub target: Target,
    /// Why it went there.
    pub reason: Reason,
    /// Whether the stack requires it.
    pub required: bool,
}

/// One service's variables, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ServiceEnv {
    /// The project the service belongs to.
    pub project: String,
    /// The namespace its objects go to.
    pub namespace: String,
    /// The service.
    pub service: String,
    /// Its variables.
    pub vars: Vec<Var>,
}

/// Every service's variables.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Mapping {
    /// The project.
    pub project: String,
    /// The namespace.
    pub namespace: String,
    /// The applied profile.
    pub profile: Option<String>,
    /// The services by name.
    pub services: BTreeMap<String, ServiceEnv>,
}

/// The sources besides the stack's own `.env` files.
#[derive(Debug, Clone, Default)]
pub struct EnvInputs {
    /// `--env-file` files, later ones winning.
    pub env_files: Vec<PathBuf>,
    /// The process environment.
    pub process: BTreeMap<String, String>,
}

impl EnvInputs {
    /// `env_files` and this process's environment (variables that are not
    /// valid Unicode are skipped).
    #[must_use]
    pub fn from_process(env_files: Vec<PathBuf>) -> Self {
        Self {
            env_files,
            process: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }
}

/// Maps every service's variables to `ConfigMap` or Secret.
///
/// # Errors
///
/// [`Error::Read`](crate::Error::Read) for an unreadable file,
/// [`DotenvError`](crate::DotenvError) for a malformed one,
/// [`EnvError::MissingRequired`] listing every required variable without a
/// value, and [`EnvError::LooksSecret`] listing every `config` variable that
/// looks secret.
pub fn resolve(stack: &Stack, inputs: &EnvInputs) -> Result<Mapping> {
    // Named on the command line, so a missing one is an error even when no
    // service would read it.
    for path in &inputs.env_files {
        read_optional(path, true)?;
    }
    let mut services = BTreeMap::new();
    let mut missing = Vec::new();
    let mut refused = Vec::new();
    for (name, service) in &stack.services {
        let spec = &service.env;
        let layers = layers(stack, spec, inputs);
        let values = read_layers(&layers, inputs)?;
        let mut vars = Vec::new();
        for key in spec.declared_keys() {
            let required = EnvSpec::lists(&spec.required, key).is_some();
            let found = inputs
                .process
                .get(key)
                .map(|value| (value.clone(), Source::Process))
                .or_else(|| values.get(key).cloned())
                .or_else(|| {
                    spec.defaults.get(key).map(|value| {
                        (
                            value.get_ref().clone(),
                            Source::Default(stack.location(&value.span())),
                        )
                    })
                })
                .filter(|(value, _)| !(required && value.is_empty()));
            let Some((value, source)) = found else {
                if let Some(span) = EnvSpec::lists(&spec.required, key) {
                    missing.push(Missing {
                        service: name.clone(),
                        key: key.to_owned(),
                        required_at: stack.location(&span),
                        could_be_set_in: std::iter::once("the process environment".to_owned())
                            .chain(
                                layers
                                    .iter()
                                    .rev()
                                    .map(|(path, _)| path.display().to_string()),
                            )
                            .collect(),
                    });
                }
                continue;
            };
            match classify(key, &value, listing(spec, key)) {
                Ok((target, reason)) => vars.push(Var {
                    key: key.to_owned(),
                    value: match target {
                        Target::ConfigMap => Value::Plain(value),
                        Target::Secret => Value::Secret(SecretValue::new(value)),
                    },
                    source,
                    target,
                    reason,
                    required,
                }),
                Err(why) => refused.push(Refusal {
                    service: name.clone(),
                    key: key.to_owned(),
                    listed_at: stack
                        .location(&EnvSpec::lists(&spec.config, key).unwrap_or_default()),
                    why,
                    source: source.to_string(),
                }),
            }
        }
        services.insert(
            name.clone(),
            ServiceEnv {
                project: stack.project.clone(),
                namespace: stack.namespace.clone(),
                service: name.clone(),
                vars,
            },
        );
    }
    if !missing.is_empty() {
        return Err(EnvError::MissingRequired(missing).into());
    }
    if !refused.is_empty() {
        return Err(EnvError::LooksSecret(refused).into());
    }
    Ok(Mapping {
        project: stack.project.clone(),
        namespace: stack.namespace.clone(),
        profile: stack.profile.clone(),
        services,
    })
}

fn listing(spec: &EnvSpec, key: &str) -> Listing {
    if EnvSpec::lists(&spec.secret, key).is_some() {
        Listing::Secret
    } else if EnvSpec::lists(&spec.allow_plain, key).is_some() {
        Listing::AllowPlain
    } else if EnvSpec::lists(&spec.config, key).is_some() {
        Listing::Config
    } else {
        Listing::Unlisted
    }
}

/// The service's `.env` files, lowest precedence first, each with whether
/// it must exist.
fn layers(stack: &Stack, spec: &EnvSpec, inputs: &EnvInputs) -> Vec<(PathBuf, bool)> {
    let dir = stack.dir();
    let base = spec
        .files
        .iter()
        .map(|file| (dir.join(file.get_ref()), false));
    let profiled = stack.profile.iter().flat_map(|profile| {
        spec.files
            .iter()
            .map(move |file| (dir.join(format!("{}.{profile}", file.get_ref())), false))
    });
    let explicit = inputs.env_files.iter().map(|path| (path.clone(), true));
    base.chain(profiled).chain(explicit).collect()
}

fn read_layers(
    layers: &[(PathBuf, bool)],
    inputs: &EnvInputs,
) -> Result<BTreeMap<String, (String, Source)>> {
    let mut values: BTreeMap<String, (String, Source)> = BTreeMap::new();
    for (path, must_exist) in layers {
        let Some(text) = read_optional(path, *must_exist)? else {
            continue;
        };
        let process = |name: &str| inputs.process.get(name).cloned();
        let before = |name: &str| values.get(name).map(|(value, _)| value.clone());
        let entries = dotenv::parse(
            path,
            &text,
            Expand {
                first: &process,
                last: &before,
            },
        )?;
        for entry in entries {
            let source = Source::File {
                path: path.clone(),
                line: entry.line,
            };
            values.insert(entry.key, (entry.value, source));
        }
    }
    Ok(values)
}

fn read_optional(path: &Path, must_exist: bool) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !must_exist => Ok(None),
        Err(error) => Err(crate::Error::Read {
            path: path.to_path_buf(),
            error,
        }),
    }
}
