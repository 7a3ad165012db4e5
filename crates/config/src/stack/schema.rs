//! The `hoist.toml` schema as serde types.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Where images go for clusters that pull from a registry.
    pub(crate) registry: Option<Registry>,
    /// How registry bases are reached.
    #[serde(default)]
    pub(crate) registries: Registries,
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
    /// `hoist dev`: forward the service's first port to 127.0.0.1 (`true`:
    /// on its own number; a number: on that local port; `false`: not even
    /// when it would be by default).
    pub forward: Option<Spanned<super::engine::Publish>>,
    /// Docker engine: named volumes by name, mounted at absolute paths.
    #[serde(default)]
    pub volumes: super::engine::Volumes,
    /// Docker engine: how many containers run the service (default 1).
    pub replicas: Option<Spanned<u16>>,
    /// How `hoist up` waits for the service and when it gives up.
    #[serde(default)]
    pub rollout: RolloutSpec,
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
    /// Values files `hoist dev` alone adds after `values` (relative to the
    /// stack file's directory), e.g. probes every second and no drain, so a
    /// saved file serves within seconds; `hoist up` never reads them.
    #[serde(default)]
    pub dev_values: Vec<PathBuf>,
    /// Non-secret chart values hoist passes with `--set`, e.g.
    /// `set = { "database.fromSecret.enabled" = false }`. Strings, integers,
    /// floats and booleans; a key whose last part names a secret or a value
    /// that looks like one is refused (secrets belong in `.env`).
    #[serde(default)]
    pub set: BTreeMap<String, Spanned<toml::Value>>,
}

impl Chart {
    /// The `set` values as `--set` pairs, in key order, values as text.
    #[must_use]
    pub fn set_values(&self) -> Vec<(String, String)> {
        self.set
            .iter()
            .map(|(key, value)| (key.clone(), scalar_text(value.get_ref())))
            .collect()
    }
}

/// A scalar TOML value as `--set` takes it (strings unquoted).
pub(crate) fn scalar_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `[services.<name>.rollout]`: how long `hoist up` waits for the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RolloutSpec {
    /// How long the service may take to become ready before the rollout
    /// fails: `"5m"`, `"90s"`, `"2m30s"`. Default 5 minutes.
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// How many restarts of a container count as a crash loop. Default 2.
    #[serde(default = "default_crashloop_restarts")]
    pub crashloop_restarts: u32,
}

impl Default for RolloutSpec {
    fn default() -> Self {
        Self {
            timeout: default_timeout(),
            crashloop_restarts: default_crashloop_restarts(),
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(300)
}

fn default_crashloop_restarts() -> u32 {
    2
}

fn duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    let parsed = humantime::parse_duration(&text).map_err(|error| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({error}); write e.g. \"5m\", \"90s\" or \"2m30s\""
        ))
    })?;
    if parsed.is_zero() {
        return Err(serde::de::Error::custom(
            "a rollout timeout of zero would fail every rollout; write e.g. \"5m\"",
        ));
    }
    Ok(parsed)
}

/// `[registry]`: where images go for a cluster that pulls from a registry
/// (any cluster hoist cannot load images into). `--registry` wins over it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Registry {
    /// `HOST[:PORT][/PREFIX]`, e.g. `registry.example.com/team`.
    pub address: Spanned<String>,
    /// Plain HTTP instead of HTTPS (only for a registry you run yourself).
    #[serde(default)]
    pub insecure: bool,
    /// The user to push as; the password is read from
    /// `HOIST_REGISTRY_PASSWORD`, never from this file.
    pub user: Option<String>,
}

/// `[registries]`: how the registries that image bases name are reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Registries {
    /// Mirrors by the registry an image reference names (`docker.io` for
    /// Docker Hub, else `HOST[:PORT]`), each `HOST[:PORT]`, tried in order
    /// before it: `mirrors = { "docker.io" = ["127.0.0.1:5002"] }`.
    #[serde(default)]
    pub mirrors: BTreeMap<String, Vec<Spanned<String>>>,
}

impl Registries {
    /// The mirrors without their spans.
    #[must_use]
    pub fn mirror_hosts(&self) -> BTreeMap<String, Vec<String>> {
        self.mirrors
            .iter()
            .map(|(registry, list)| {
                let hosts = list.iter().map(|m| m.get_ref().clone()).collect();
                (registry.clone(), hosts)
            })
            .collect()
    }
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
