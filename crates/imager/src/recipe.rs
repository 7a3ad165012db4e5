//! The image recipe: what `[services.<name>.image]` in `hoist.toml` says.
//!
//! ```toml
//! [services.backend.image]
//! base = { rootfs = "${HOIST_BASES_DIR}/python.tar" }   # or "scratch",
//! # { oci-layout = "DIR[:TAG]" }, { docker-archive = "FILE" },
//! # { registry = "127.0.0.1:5000/bases/python:3.11" }, { registry = "python:3.11-slim" }
//! budget = { uncompressed = "500MB", compressed = "200MB" }
//!
//! [[services.backend.image.prepare]]
//! run = "pip install --target build/deps -r requirements.txt"
//! inputs = ["requirements.txt"]
//! outputs = ["build/deps"]
//!
//! [[services.backend.image.layers]]          # in order: dependencies first
//! name = "deps"
//! copy = [{ from = "build/deps", to = "/app/deps" }]
//! exclude = ["**/__pycache__"]              # .dockerignore syntax, `!` re-includes
//! owner = "0:0"                              # the default
//!
//! [services.backend.image.config]
//! user = "10001"                             # a uid, `uid:gid` or a name from the base's /etc/passwd
//! workdir = "/app"
//! env = { PYTHONPATH = "/app/deps" }
//! ports = [8000]
//! entrypoint = ["python3", "-m", "uvicorn"]
//! cmd = ["app.main:app"]
//! labels = { "org.example.team" = "todo" }
//!
//! [services.backend.image.annotations]
//! source = "https://example.com/todo"        # revision and created come from the build
//!
//! [services.backend.image.profiles.offline]  # shallow override, chosen with --profile
//! base = { rootfs = "${HOIST_BASES_DIR}/python.tar" }
//! ```
//!
//! Relative host paths are relative to the directory of `hoist.toml`;
//! `${VAR}` in a host path is replaced by the environment variable `VAR`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors in a recipe: each names the key and what to write instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecipeError {
    /// The TOML did not match the recipe's shape.
    #[error("invalid image recipe: {0}")]
    Parse(String),
    /// A `${VAR}` in a path names an unset variable.
    #[error(
        "image recipe path `{path}` uses ${{{var}}}, which is not set; export {var} or write the path out"
    )]
    UnsetVariable {
        /// The path as written.
        path: String,
        /// The variable.
        var: String,
    },
    /// The image would run as root.
    #[error("image config user `{user}` is root; set `user` to a non-root uid such as \"10001\"")]
    RootUser {
        /// The user as written.
        user: String,
    },
    /// Neither the recipe nor the base names a user.
    #[error(
        "the image has no user and would run as root; set `user` in [config] to a non-root uid such as \"10001\""
    )]
    NoUser,
    /// `user` is a name the base image's /etc/passwd does not have.
    #[error(
        "image config user `{user}` is not in the base image's /etc/passwd; use a numeric uid such as \"10001\""
    )]
    UnknownUser {
        /// The user as written.
        user: String,
    },
    /// A size could not be read.
    #[error("budget `{value}` is not a size; write e.g. \"500MB\", \"1.5GiB\" or a byte count")]
    BadSize {
        /// The size as written.
        value: String,
    },
    /// The stack file could not be read.
    #[error("failed to read {}: {source}", path.display())]
    ReadStack {
        /// The stack file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The stack file has no image table for the service.
    #[error("{} has no [services.{service}.image] table", path.display())]
    NoImageTable {
        /// The stack file.
        path: PathBuf,
        /// The service.
        service: String,
    },
    /// An image path is not absolute.
    #[error("layer `{layer}`: image path `{to}` must be absolute (start with /)")]
    RelativeImagePath {
        /// The layer.
        layer: String,
        /// The path.
        to: String,
    },
}

/// An image recipe, ready to build.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Recipe {
    /// Where the image starts from.
    #[serde(default)]
    pub base: Base,
    /// Host commands run before packing (e.g. `npm ci && npm run build`).
    #[serde(default)]
    pub prepare: Vec<Prepare>,
    /// Layers in order, dependencies before application code.
    #[serde(default)]
    pub layers: Vec<Layer>,
    /// The image config.
    #[serde(default)]
    pub config: ImageConfig,
    /// OCI annotations.
    #[serde(default)]
    pub annotations: Annotations,
    /// Size budgets; [`Budget::default_for_service`] when absent.
    #[serde(default)]
    pub budget: Option<Budget>,
    /// Secret-scan allowlist entries (`{ path = "glob", rule = "rule-id" }`).
    #[serde(default)]
    pub secrets: SecretsConfig,
    /// Build from a Dockerfile on a Docker daemon instead (the base and
    /// layers then come from the daemon's image; scan, budget and outputs
    /// are the same).
    #[serde(default)]
    pub dockerfile: Option<crate::DockerfileRecipe>,
    /// Accepted for older recipes and ignored: layers are stored
    /// uncompressed, and a registry push gzips at level 6 (see
    /// [`crate::gzip::LEVEL`]).
    #[serde(default)]
    pub compression_level: Option<u32>,
    /// Named overrides of top-level keys, chosen with `--profile`.
    #[serde(default, skip_serializing)]
    pub profiles: BTreeMap<String, toml::Table>,
    /// The directory relative host paths are resolved against.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// The base image.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Base {
    /// No base: the image holds only its own layers.
    #[default]
    Scratch,
    /// A root filesystem as a tar file or a directory.
    Rootfs(PathBuf),
    /// An OCI image layout, `DIR` or `DIR:TAG`.
    OciLayout(String),
    /// A `docker save` archive.
    DockerArchive(PathBuf),
    /// An image in an OCI registry, e.g. `127.0.0.1:5000/bases/python:3.11`
    /// or `python:3.11-slim` (Docker Hub); credentials and mirrors as
    /// [`crate::Registries`] says.
    Registry(String),
}

/// A host command run before packing, cached by its inputs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Prepare {
    /// The command, run with `sh -c` in `dir`.
    pub run: String,
    /// Files or directories whose content decides whether to run again.
    #[serde(default)]
    pub inputs: Vec<PathBuf>,
    /// What it produces; a missing output makes it run again.
    #[serde(default)]
    pub outputs: Vec<PathBuf>,
    /// The working directory (default: the recipe's directory).
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

/// One layer: host paths copied to image paths.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Layer {
    /// A short name for reports and the cache.
    pub name: String,
    /// What to copy.
    pub copy: Vec<Copy>,
    /// .dockerignore-style patterns, relative to each `from`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `uid:gid` for every entry (default `0:0`).
    #[serde(default)]
    pub owner: Option<String>,
    /// Octal permission bits forced on files (default: kept from the host).
    #[serde(default)]
    pub file_mode: Option<String>,
    /// Octal permission bits forced on directories (default: kept).
    #[serde(default)]
    pub dir_mode: Option<String>,
}

/// A host path and where it lands in the image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Copy {
    /// A file or directory on the host.
    pub from: PathBuf,
    /// An absolute path in the image; a directory's contents go under it.
    pub to: String,
}

/// The image config.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// A uid, `uid:gid` or a user name from the base's /etc/passwd; never root.
    #[serde(default)]
    pub user: Option<String>,
    /// The working directory.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Environment variables, added to the base's.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Exposed TCP ports.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// The entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// The default arguments.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Labels, added to the base's.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// OCI annotations written into the manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Annotations {
    /// `org.opencontainers.image.source`.
    #[serde(default)]
    pub source: Option<String>,
    /// `org.opencontainers.image.revision`; the build's revision wins.
    #[serde(default)]
    pub revision: Option<String>,
}

/// Size budgets in bytes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// The most the layers may hold uncompressed.
    #[serde(deserialize_with = "de_size")]
    pub uncompressed: u64,
    /// The most the compressed layers may weigh, when set.
    #[serde(default, deserialize_with = "de_opt_size")]
    pub compressed: Option<u64>,
}

impl Budget {
    /// The default budget: 300 MB uncompressed for a service named
    /// `frontend`, 500 MB for any other.
    #[must_use]
    pub fn default_for_service(service: &str) -> Self {
        let mb = if service == "frontend" { 300 } else { 500 };
        Self {
            uncompressed: mb * 1_000_000,
            compressed: None,
        }
    }
}

/// Secret-scan settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// Findings to accept, as `{ path = "glob", rule = "rule-id" }`.
    #[serde(default)]
    pub allow: Vec<toml::Value>,
}

impl Recipe {
    /// Reads a recipe from the `[services.<name>.image]` table of `hoist.toml`.
    ///
    /// # Errors
    ///
    /// [`RecipeError`] when the table does not match the recipe's shape, a
    /// `${VAR}` is unset, a path is not absolute or the user is root.
    pub fn from_table(table: toml::Table, base_dir: &Path) -> Result<Self, RecipeError> {
        Self::from_table_with_profile(table, base_dir, None)
    }

    /// Like [`Recipe::from_table`], with the profile's overrides applied.
    ///
    /// # Errors
    ///
    /// As [`Recipe::from_table`].
    pub fn from_table_with_profile(
        mut table: toml::Table,
        base_dir: &Path,
        profile: Option<&str>,
    ) -> Result<Self, RecipeError> {
        if let Some(profile) = profile {
            let overrides = table
                .get("profiles")
                .and_then(toml::Value::as_table)
                .and_then(|profiles| profiles.get(profile))
                .and_then(toml::Value::as_table)
                .cloned();
            // Profiles are stack-wide: an image without an override for one
            // keeps its defaults.
            if let Some(overrides) = overrides {
                table.extend(overrides);
            }
        }
        let mut recipe: Recipe = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| RecipeError::Parse(e.message().to_owned()))?;
        recipe.base_dir = base_dir.to_path_buf();
        recipe.resolve_paths()?;
        recipe.validate()?;
        Ok(recipe)
    }

    /// Reads the recipe of `service` from the stack file at `path`
    /// (`[services.<service>.image]`); its relative paths are relative to the
    /// file's directory.
    ///
    /// # Errors
    ///
    /// As [`Recipe::from_table`]; [`RecipeError::ReadStack`] when the file
    /// cannot be read, [`RecipeError::Parse`] for bad TOML, and
    /// [`RecipeError::NoImageTable`] when the service has no image table.
    pub fn from_stack_file(path: &Path, service: &str) -> Result<Self, RecipeError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecipeError::ReadStack {
            path: path.to_path_buf(),
            source,
        })?;
        let stack: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| RecipeError::Parse(e.to_string()))?;
        let table = stack
            .get("services")
            .and_then(|services| services.get(service))
            .and_then(|service| service.get("image"))
            .and_then(toml::Value::as_table)
            .ok_or_else(|| RecipeError::NoImageTable {
                path: path.to_path_buf(),
                service: service.to_owned(),
            })?;
        Self::from_table(table.clone(), path.parent().unwrap_or(Path::new(".")))
    }

    /// Reads a standalone recipe (the body of an image table).
    ///
    /// # Errors
    ///
    /// As [`Recipe::from_table`], and [`RecipeError::Parse`] for bad TOML.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Self, RecipeError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| RecipeError::Parse(e.to_string()))?;
        Self::from_table(table, base_dir)
    }

    /// The budget that applies to service `service`.
    #[must_use]
    pub fn budget_for(&self, service: &str) -> Budget {
        self.budget
            .unwrap_or_else(|| Budget::default_for_service(service))
    }

    fn resolve_paths(&mut self) -> Result<(), RecipeError> {
        let base_dir = self.base_dir.clone();
        let resolve = |path: &Path| -> Result<PathBuf, RecipeError> {
            let expanded = expand_vars(&path.to_string_lossy())?;
            Ok(base_dir.join(expanded))
        };
        self.base = match &self.base {
            Base::Scratch => Base::Scratch,
            Base::Registry(reference) => Base::Registry(expand_vars(reference)?),
            Base::Rootfs(path) => Base::Rootfs(resolve(path)?),
            Base::DockerArchive(path) => Base::DockerArchive(resolve(path)?),
            Base::OciLayout(spec) => {
                let expanded = expand_vars(spec)?;
                Base::OciLayout(base_dir.join(expanded).to_string_lossy().into_owned())
            }
        };
        if let Some(dockerfile) = &mut self.dockerfile {
            dockerfile.context = resolve(&dockerfile.context)?;
        }
        for layer in &mut self.layers {
            for copy in &mut layer.copy {
                copy.from = resolve(&copy.from)?;
            }
        }
        for step in &mut self.prepare {
            step.dir = Some(match &step.dir {
                Some(dir) => resolve(dir)?,
                None => base_dir.clone(),
            });
            let dir = step.dir.clone().unwrap_or_default();
            for path in step.inputs.iter_mut().chain(step.outputs.iter_mut()) {
                *path = dir.join(expand_vars(&path.to_string_lossy())?);
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), RecipeError> {
        for layer in &self.layers {
            for copy in &layer.copy {
                if !copy.to.starts_with('/') {
                    return Err(RecipeError::RelativeImagePath {
                        layer: layer.name.clone(),
                        to: copy.to.clone(),
                    });
                }
            }
        }
        if let Some(user) = &self.config.user {
            let uid = user.split(':').next().unwrap_or_default();
            if uid == "0" || uid == "root" {
                return Err(RecipeError::RootUser { user: user.clone() });
            }
        }
        Ok(())
    }
}

/// Replaces `${VAR}` with the environment variable's value.
fn expand_vars(text: &str) -> Result<String, RecipeError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let var = &after[..end];
        match std::env::var(var) {
            Ok(value) if !value.is_empty() => out.push_str(&value),
            _ => {
                return Err(RecipeError::UnsetVariable {
                    path: text.to_owned(),
                    var: var.to_owned(),
                });
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses "500MB", "1.5GiB", "300 kB" or a plain byte count.
pub(crate) fn parse_size(value: &str) -> Result<u64, RecipeError> {
    let bad = || RecipeError::BadSize {
        value: value.to_owned(),
    };
    let trimmed = value.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // Checked non-negative; sizes fit.
    Ok((number * factor as f64).round() as u64)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeRepr {
    Bytes(u64),
    Text(String),
}

fn de_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match SizeRepr::deserialize(d)? {
        SizeRepr::Bytes(n) => Ok(n),
        SizeRepr::Text(text) => parse_size(&text).map_err(serde::de::Error::custom),
    }
}

fn de_opt_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    de_size(d).map(Some)
}

/// Parses an octal mode such as "0755".
pub(crate) fn parse_mode(text: &str) -> Option<u32> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8).ok()
}

/// Parses `uid:gid` (or `uid`, meaning `uid:uid`).
pub(crate) fn parse_owner(text: &str) -> Option<(u64, u64)> {
    let (uid, gid) = text.split_once(':').unwrap_or((text, text));
    Some((uid.parse().ok()?, gid.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPE: &str = r#"
        base = { rootfs = "bases/python.tar" }
        budget = { uncompressed = "500MB", compressed = "1.5GiB" }
        [[layers]]
        name = "app"
        copy = [{ from = "src", to = "/app" }]
        exclude = ["**/__pycache__"]
        [config]
        user = "10001"
        ports = [8000]
        env = { B = "2", A = "1" }
        [profiles.offline]
        base = "scratch"
    "#;

    #[test]
    fn reads_a_service_recipe_from_a_stack_file() {
        let dir = tempfile::tempdir().unwrap();
        let stack = dir.path().join("hoist.toml");
        std::fs::write(
            &stack,
            "[services.api.image]\nbase = \"scratch\"\n[services.api.image.config]\nuser = \"10001\"\n[services.db]\n",
        )
        .unwrap();
        let recipe = Recipe::from_stack_file(&stack, "api").unwrap();
        assert_eq!(recipe.base, Base::Scratch);
        assert_eq!(recipe.base_dir, dir.path());
        let error = Recipe::from_stack_file(&stack, "db").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{} has no [services.db.image] table", stack.display())
        );
    }

    #[test]
    fn reads_a_recipe_and_resolves_paths() {
        let recipe = Recipe::from_toml_str(RECIPE, Path::new("/src/app")).unwrap();
        assert_eq!(
            recipe.base,
            Base::Rootfs(PathBuf::from("/src/app/bases/python.tar"))
        );
        assert_eq!(recipe.layers[0].copy[0].from, PathBuf::from("/src/app/src"));
        assert_eq!(
            recipe.budget,
            Some(Budget {
                uncompressed: 500_000_000,
                compressed: Some(1_610_612_736)
            })
        );
        assert_eq!(recipe.config.env.keys().collect::<Vec<_>>(), ["A", "B"]);
    }

    #[test]
    fn a_profile_overrides_top_level_keys() {
        let table: toml::Table = RECIPE.parse().unwrap();
        let recipe =
            Recipe::from_table_with_profile(table, Path::new("/x"), Some("offline")).unwrap();
        assert_eq!(recipe.base, Base::Scratch);
    }

    #[test]
    fn root_is_refused_with_the_fix() {
        let err = Recipe::from_toml_str("[config]\nuser = \"0:0\"", Path::new("/x")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "image config user `0:0` is root; set `user` to a non-root uid such as \"10001\""
        );
    }

    #[test]
    fn unset_variables_are_named() {
        let err = Recipe::from_toml_str(
            "base = { rootfs = \"${HOIST_IMAGER_TEST_UNSET}/p.tar\" }",
            Path::new("/x"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "image recipe path `${HOIST_IMAGER_TEST_UNSET}/p.tar` uses ${HOIST_IMAGER_TEST_UNSET}, which is not set; export HOIST_IMAGER_TEST_UNSET or write the path out"
        );
    }

    #[test]
    fn relative_image_paths_are_refused() {
        let err = Recipe::from_toml_str(
            "[[layers]]\nname = \"a\"\ncopy = [{ from = \"x\", to = \"app\" }]",
            Path::new("/x"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer `a`: image path `app` must be absolute (start with /)"
        );
    }

    #[test]
    fn sizes_parse_in_both_unit_systems() {
        assert_eq!(parse_size("300MB").unwrap(), 300_000_000);
        assert_eq!(parse_size("2 KiB").unwrap(), 2048);
        assert_eq!(parse_size("17").unwrap(), 17);
        assert_eq!(
            parse_size("lots").unwrap_err().to_string(),
            "budget `lots` is not a size; write e.g. \"500MB\", \"1.5GiB\" or a byte count"
        );
    }
}
