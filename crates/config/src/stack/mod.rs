//! The stack file: loading, profiles, validation and rollout order.

mod engine;
mod merge;
mod schema;
mod validate;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub use engine::{DEFAULT_READY_DEADLINE, Engine, Publish, Ready, ReadyCheck, VolumeMount};
pub use schema::{Chart, EnvSpec, Registries, Registry, RolloutSpec, Service};

use crate::error::{Result, StackError};
use crate::location::{Location, nearest};

/// A loaded, validated `hoist.toml` with one profile (or none) applied.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Stack {
    /// The stack file, as it was named.
    pub path: PathBuf,
    /// The project name: the `app.kubernetes.io/part-of` label and the
    /// prefix of every object name.
    pub project: String,
    /// The Kubernetes namespace; the project name when not set.
    pub namespace: String,
    /// Where `hoist up` runs the stack (`engine`; default Kubernetes).
    pub engine: Engine,
    /// The applied profile.
    pub profile: Option<String>,
    /// Every profile the file defines, sorted.
    pub profiles: Vec<String>,
    /// The services by name.
    pub services: BTreeMap<String, Service>,
    /// `[registry]`: where images go for clusters that pull from a registry.
    pub registry: Option<Registry>,
    /// `[registries]`: mirrors for the registries image bases name.
    pub registries: Registries,
    source: String,
}

impl Stack {
    /// Reads and validates the stack file at `path` with `profile` applied.
    ///
    /// # Errors
    ///
    /// [`Error::Read`](crate::Error::Read) when the file cannot be read, and
    /// [`StackError`] when it is malformed or inconsistent.
    pub fn load(path: &Path, profile: Option<&str>) -> Result<Self> {
        let source = std::fs::read_to_string(path).map_err(|error| crate::Error::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Ok(Self::parse(path, source, profile)?)
    }

    /// Validates `source`, the text of the stack file at `path`.
    ///
    /// Every profile is checked, not just the selected one, so a mistake in
    /// `production` shows up while working on `local`.
    ///
    /// # Errors
    ///
    /// [`StackError`] when the text is malformed or inconsistent, or
    /// `profile` is not defined.
    pub fn parse(path: &Path, source: String, profile: Option<&str>) -> Result<Self, StackError> {
        let ctx = Ctx {
            path,
            source: &source,
        };
        let profiles = ctx.profile_names()?;
        if let Some(wanted) = profile
            && !profiles.iter().any(|p| p == wanted)
        {
            return Err(StackError::UnknownProfile {
                file: path.to_path_buf(),
                profile: wanted.to_owned(),
                suggestion: nearest(wanted, profiles.iter().map(String::as_str)).map(str::to_owned),
                defined: profiles,
            });
        }
        // Validate the base and every other profile first, then build the selected one.
        for other in std::iter::once(None).chain(profiles.iter().map(|p| Some(p.as_str()))) {
            if other != profile {
                ctx.build(other)?;
            }
        }
        let raw = ctx.build(profile)?;
        Ok(Self {
            path: path.to_path_buf(),
            namespace: raw
                .namespace
                .map_or_else(|| raw.project.get_ref().clone(), Spanned::into_inner),
            project: raw.project.into_inner(),
            engine: raw.engine,
            profile: profile.map(str::to_owned),
            profiles,
            services: raw.services,
            registry: raw.registry,
            registries: raw.registries,
            source,
        })
    }

    /// The directory relative paths in the stack file start from.
    #[must_use]
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    /// The location of byte `span.start` in the stack file, for errors about
    /// values the caller took from it (such as [`Service::image`]).
    #[must_use]
    pub fn location(&self, span: &Range<usize>) -> Location {
        Location::at_offset(&self.path, &self.source, span.start)
    }

    /// Deserializes `[services.<service>.image]` (with the profile applied)
    /// into the image recipe type `T`, with errors that point into the file
    /// and unknown keys answered with the nearest valid one.
    ///
    /// Returns `None` when the service has no image table.
    ///
    /// # Errors
    ///
    /// [`StackError::Invalid`] or [`StackError::UnknownKey`] when the table
    /// does not fit `T`.
    pub fn deserialize_image<T: DeserializeOwned>(
        &self,
        service: &str,
    ) -> Result<Option<T>, StackError> {
        let ctx = Ctx {
            path: &self.path,
            source: &self.source,
        };
        let mut root = ctx.merged(self.profile.as_deref())?;
        let image = take(root.get_mut(), "services")
            .and_then(|(_, mut services)| take(&mut services, service))
            .and_then(|(_, mut table)| take(&mut table, "image"));
        let Some((span, image)) = image else {
            return Ok(None);
        };
        let value = Spanned::new(span, DeValue::Table(image));
        T::deserialize(toml::de::ValueDeserializer::from(value))
            .map(Some)
            .map_err(|error| ctx.error(&error))
    }

    /// The rollout order: levels of services, each level depending only on
    /// earlier ones, so the services of one level can roll out in parallel.
    /// Names within a level are sorted.
    #[must_use]
    pub fn rollout_levels(&self) -> Vec<Vec<String>> {
        validate::levels(&self.services)
    }
}

fn take<'i>(table: &mut DeTable<'i>, key: &str) -> Option<(Range<usize>, DeTable<'i>)> {
    let value = table.remove(key)?;
    let span = value.span();
    match value.into_inner() {
        DeValue::Table(table) => Some((span, table)),
        _ => None,
    }
}

/// The stack file's text and name, for parsing and for locating errors.
struct Ctx<'a> {
    path: &'a Path,
    source: &'a str,
}

impl<'a> Ctx<'a> {
    fn location(&self, offset: usize) -> Location {
        Location::at_offset(self.path, self.source, offset)
    }

    fn parse(&self) -> Result<Spanned<DeTable<'a>>, StackError> {
        DeTable::parse(self.source).map_err(|error| StackError::Syntax {
            location: self.location(error.span().map_or(0, |s| s.start)),
            message: error.message().to_owned(),
        })
    }

    fn profile_names(&self) -> Result<Vec<String>, StackError> {
        let root = self.parse()?;
        let Some(profiles) = root.get_ref().get("profiles") else {
            return Ok(Vec::new());
        };
        let DeValue::Table(profiles) = profiles.get_ref() else {
            return Err(StackError::Invalid {
                location: self.location(profiles.span().start),
                message: "`profiles` must be a table of profile tables, e.g. `[profiles.local]`"
                    .to_owned(),
            });
        };
        for (name, body) in profiles {
            if let Some(nested) = body.get_ref().as_table().and_then(|t| t.get("profiles")) {
                return Err(StackError::Invalid {
                    location: self.location(nested.span().start),
                    message: format!(
                        "profile `{}` defines `profiles`; profiles cannot be nested, move it to the top level",
                        name.get_ref()
                    ),
                });
            }
        }
        Ok(profiles.keys().map(|k| k.get_ref().to_string()).collect())
    }

    /// The document with `profile` merged over it.
    fn merged(&self, profile: Option<&str>) -> Result<Spanned<DeTable<'a>>, StackError> {
        let mut root = self.parse()?;
        if let Some(profile) = profile {
            let over = root
                .get_ref()
                .get("profiles")
                .and_then(|p| p.get_ref().as_table())
                .and_then(|p| p.get(profile))
                .cloned();
            match over.map(|o| (o.span(), o.into_inner())) {
                Some((_, DeValue::Table(over))) => merge::deep_merge(root.get_mut(), over),
                Some((span, _)) => {
                    return Err(StackError::Invalid {
                        location: self.location(span.start),
                        message: format!(
                            "profile `{profile}` must be a table of overrides, e.g. `[profiles.{profile}]`"
                        ),
                    });
                }
                None => {}
            }
        }
        Ok(root)
    }

    fn build(&self, profile: Option<&str>) -> Result<schema::RawStack, StackError> {
        let root = self.merged(profile)?;
        let names = service_name_spans(root.get_ref());
        let raw: schema::RawStack =
            serde::Deserialize::deserialize(toml::de::Deserializer::from(root))
                .map_err(|e| self.error(&e))?;
        validate::stack(self, &raw, &names)?;
        Ok(raw)
    }

    fn error(&self, error: &toml::de::Error) -> StackError {
        let location = self.location(error.span().map_or(0, |s| s.start));
        match unknown_field(error.message()) {
            Some((key, expected)) => StackError::UnknownKey {
                location,
                suggestion: nearest(&key, expected.iter().map(String::as_str)).map(str::to_owned),
                key,
                expected,
            },
            None => StackError::Invalid {
                location,
                message: match error.message().strip_prefix("missing field ") {
                    Some(field) => format!("missing required key {field}; add it"),
                    None => error.message().to_owned(),
                },
            },
        }
    }
}

fn service_name_spans(root: &DeTable<'_>) -> BTreeMap<String, Range<usize>> {
    root.get("services")
        .and_then(|s| s.get_ref().as_table())
        .map(|services| {
            services
                .keys()
                .map(|k| (k.get_ref().to_string(), k.span()))
                .collect()
        })
        .unwrap_or_default()
}

/// Picks serde's "unknown field `x`, expected one of `a`, `b`" apart, so the
/// error can suggest the nearest valid key.
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((key.to_owned(), expected))
}
