//! The `hoist.toml` schema as serde types.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

/// The document as written, after the selected profile is merged in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStack {
    pub(crate) project: Spanned<String>,
    pub(crate) namespace: Option<Spanned<String>>,
    /// Where `hoist up` runs the stack (see `engine.rs`).
    #[serde(default)]
    pub(crate) engine: super::engine::Engine,
    #[serde(default)]
    pub(crate) services: BTreeMap<String, Service>,
    // Only checked for shape here; profiles are merged before deserializing.
    #[serde(default, rename = "profiles")]
    pub(crate) _profiles: BTreeMap<String, toml::Table>,
}

/// One service of the stack.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Service {
    /// The image recipe, owned by hoist-imager: kept as written, with its
    /// span. [`Stack::deserialize_image`](crate::Stack::deserialize_image)
    /// deserializes it with errors that point into the file.
    pub image: Option<Spanned<toml::Table>>,
    /// The Helm chart that deploys the service.
    pub chart: Option<Chart>,
    /// Services that must be ready before this one rolls out.
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// Ports the service listens on.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// How the environment maps to the service's `ConfigMap` and Secret.
    #[serde(default)]
    pub env: EnvSpec,
    /// Docker engine: when the service is ready (`ready = { http = "/ready" }`).
    pub ready: Option<Spanned<super::engine::Ready>>,
    /// Docker engine: the first port published on 127.0.0.1 (`true` or a host port).
    pub publish: Option<Spanned<super::engine::Publish>>,
    /// Docker engine: named volumes by name, mounted at absolute paths.
    #[serde(default)]
    pub volumes: super::engine::Volumes,
    /// Docker engine: how many containers run the service (default 1).
    pub replicas: Option<Spanned<u16>>,
}

/// A Helm chart and its values files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Chart {
    /// The chart directory, relative to the stack file's directory.
    pub path: PathBuf,
    /// Values files, relative to the stack file's directory, later ones winning.
    #[serde(default)]
    pub values: Vec<PathBuf>,
}

/// A service's environment: where values come from and how they are classified.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EnvSpec {
    /// `.env` files, relative to the stack file's directory, later ones winning.
    #[serde(default = "default_files")]
    pub files: Vec<Spanned<String>>,
    /// Optional variables the service takes when some source sets them.
    #[serde(default)]
    pub keys: Vec<Spanned<String>>,
    /// Variables that must have a value.
    #[serde(default)]
    pub required: Vec<Spanned<String>>,
    /// Variables that always go to the Secret.
    #[serde(default)]
    pub secret: Vec<Spanned<String>>,
    /// Variables that go to the `ConfigMap`; refused if they look secret.
    #[serde(default)]
    pub config: Vec<Spanned<String>>,
    /// Variables kept in the `ConfigMap` even though they look secret.
    #[serde(default)]
    pub allow_plain: Vec<Spanned<String>>,
    /// Values used when no `.env` file or the process environment sets them.
    #[serde(default)]
    pub defaults: BTreeMap<String, Spanned<String>>,
}

impl Default for EnvSpec {
    fn default() -> Self {
        Self {
            files: default_files(),
            keys: Vec::new(),
            required: Vec::new(),
            secret: Vec::new(),
            config: Vec::new(),
            allow_plain: Vec::new(),
            defaults: BTreeMap::new(),
        }
    }
}

fn default_files() -> Vec<Spanned<String>> {
    vec![Spanned::new(0..0, ".env".to_owned())]
}

impl EnvSpec {
    /// Every variable the service takes, sorted: the union of `required`,
    /// `keys`, `secret`, `config`, `allow_plain` and `defaults`.
    #[must_use]
    pub fn declared_keys(&self) -> std::collections::BTreeSet<&str> {
        self.required
            .iter()
            .chain(&self.keys)
            .chain(&self.secret)
            .chain(&self.config)
            .chain(&self.allow_plain)
            .map(|key| key.get_ref().as_str())
            .chain(self.defaults.keys().map(String::as_str))
            .collect()
    }

    /// Whether `key` is in `list`.
    pub(crate) fn lists(list: &[Spanned<String>], key: &str) -> Option<std::ops::Range<usize>> {
        list.iter().find(|k| k.get_ref() == key).map(Spanned::span)
    }
}
