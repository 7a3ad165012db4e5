//! Where registry bases come from beyond their reference: credentials (the
//! build's own, then Docker's `config.json` and its credential helpers) and
//! mirrors tried before the registry an image names.
//!
//! Credentials, highest first:
//! 1. [`RegistryAuth`] in the build options: by default `HOIST_REGISTRY_TOKEN`
//!    (bearer), or `HOIST_REGISTRY_USER` with `HOIST_REGISTRY_PASSWORD`
//!    (basic); they apply to every registry and mirror.
//! 2. Docker's `config.json` (in `$DOCKER_CONFIG`, else `~/.docker`), as
//!    `docker login` leaves it: `credHelpers` for the host, its `auths` entry
//!    (base64 `auth`), then `credsStore`; helpers are `docker-credential-NAME`
//!    programs on `PATH`. A helper that has nothing for the host means
//!    anonymous, as it does for docker.
//! 3. Anonymous.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use docker_credential::{CredentialRetrievalError, DockerCredential};

/// Credentials for a registry base. `Debug` never shows a password or token.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum RegistryAuth {
    /// No credentials.
    #[default]
    Anonymous,
    /// HTTP basic auth, or the user and password a token service takes.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// A bearer token.
    Bearer(String),
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { user, .. } => write!(f, "Basic({user}, <redacted>)"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl RegistryAuth {
    /// `HOIST_REGISTRY_TOKEN`, else `HOIST_REGISTRY_USER` with
    /// `HOIST_REGISTRY_PASSWORD`, else anonymous.
    #[must_use]
    pub fn from_env() -> Self {
        if let Some(token) = var("HOIST_REGISTRY_TOKEN") {
            return Self::Bearer(token);
        }
        match (var("HOIST_REGISTRY_USER"), var("HOIST_REGISTRY_PASSWORD")) {
            (Some(user), Some(password)) => Self::Basic { user, password },
            _ => Self::Anonymous,
        }
    }

    pub(crate) fn to_client(&self) -> oci_client::secrets::RegistryAuth {
        match self {
            Self::Anonymous => oci_client::secrets::RegistryAuth::Anonymous,
            Self::Basic { user, password } => {
                oci_client::secrets::RegistryAuth::Basic(user.clone(), password.clone())
            }
            Self::Bearer(token) => oci_client::secrets::RegistryAuth::Bearer(token.clone()),
        }
    }

    /// The secret, to keep it out of messages.
    pub(crate) fn secret(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::Basic { password, .. } => Some(password),
            Self::Bearer(token) => Some(token),
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Registry settings beyond credentials: Docker's config and mirrors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Registries {
    /// The directory of Docker's `config.json`; `None`: not consulted.
    pub docker_config: Option<PathBuf>,
    /// Mirrors by the registry an image names (`docker.io` for Docker Hub,
    /// else `HOST[:PORT]`), each `HOST[:PORT]`, tried in order before it.
    pub mirrors: BTreeMap<String, Vec<String>>,
    /// A malformed `HOIST_REGISTRY_MIRRORS`, reported when a registry base
    /// is pulled rather than when the options are made.
    env_error: Option<String>,
}

/// The variable that adds mirrors: `REGISTRY=MIRROR[,MIRROR...]` entries
/// separated by `;`.
pub const MIRRORS_VAR: &str = "HOIST_REGISTRY_MIRRORS";

impl Registries {
    /// Docker's config directory from `DOCKER_CONFIG`, else `~/.docker`;
    /// mirrors from `HOIST_REGISTRY_MIRRORS`.
    #[must_use]
    pub fn from_env() -> Self {
        let docker_config = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|home| Path::new(&home).join(".docker")));
        let (mirrors, env_error) = match var(MIRRORS_VAR).map(|text| parse_mirrors(&text)) {
            None => (BTreeMap::new(), None),
            Some(Ok(mirrors)) => (mirrors, None),
            Some(Err(error)) => (BTreeMap::new(), Some(error)),
        };
        Self {
            docker_config,
            mirrors,
            env_error,
        }
    }

    /// Adds `mirrors` (e.g. from `[registries]` in hoist.toml) for every
    /// registry these settings have none for: `HOIST_REGISTRY_MIRRORS` wins
    /// registry by registry.
    pub fn add_mirrors_under(&mut self, mirrors: &BTreeMap<String, Vec<String>>) {
        for (registry, list) in mirrors {
            self.mirrors
                .entry(canonical_registry(registry).to_owned())
                .or_insert_with(|| list.clone());
        }
    }

    /// The mirrors of `registry`, in order.
    pub(crate) fn mirrors_of(&self, registry: &str) -> Result<&[String], String> {
        if let Some(error) = &self.env_error {
            return Err(error.clone());
        }
        let registry = canonical_registry(registry);
        Ok(self
            .mirrors
            .iter()
            .find(|(name, _)| canonical_registry(name) == registry)
            .map_or(&[], |(_, list)| list.as_slice()))
    }

    /// The credential for `host` (as the client reaches it: `index.docker.io`
    /// for Docker Hub): `explicit` unless anonymous, else Docker's config.
    pub(crate) fn credential(
        &self,
        explicit: &RegistryAuth,
        host: &str,
    ) -> Result<Credential, String> {
        if *explicit != RegistryAuth::Anonymous {
            let source = match explicit {
                RegistryAuth::Bearer(_) => "HOIST_REGISTRY_TOKEN",
                _ => "HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD",
            };
            return Ok(Credential {
                auth: explicit.clone(),
                source: Source::Env(source),
            });
        }
        let Some(dir) = &self.docker_config else {
            return Ok(Credential::anonymous());
        };
        let path = dir.join("config.json");
        let Ok(text) = std::fs::read(&path) else {
            return Ok(Credential::anonymous());
        };
        // Docker keys Docker Hub by its v1 URL; every other registry by host.
        let server = if canonical_registry(host) == "docker.io" {
            "https://index.docker.io/v1/"
        } else {
            host
        };
        let helper = helper_for(&text, server);
        let source = match &helper {
            Some(name) => Source::Helper {
                program: format!("docker-credential-{name}"),
                config: path.clone(),
            },
            None => Source::DockerConfig(path.clone()),
        };
        match docker_credential::get_credential_from_reader(&text[..], server) {
            Ok(DockerCredential::UsernamePassword(user, password)) => Ok(Credential {
                auth: RegistryAuth::Basic { user, password },
                source,
            }),
            Ok(DockerCredential::IdentityToken(_)) => Err(format!(
                "the credential for {server} in {} is an identity token, which hoist cannot use; run `docker login {}` with a user name and password, or set HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD",
                path.display(),
                login_host(host)
            )),
            Err(CredentialRetrievalError::NoCredentialConfigured) => Ok(Credential::anonymous()),
            // What docker-credential-* helpers say when they hold nothing for the host.
            Err(CredentialRetrievalError::HelperFailure { stdout, .. })
                if stdout.contains("credentials not found") =>
            {
                Ok(Credential::anonymous())
            }
            Err(CredentialRetrievalError::HelperFailure { stdout, stderr, .. }) => Err(format!(
                "{source} failed for {server}: {}; check the helper, or remove it from {}",
                first_line(&stderr)
                    .or(first_line(&stdout))
                    .unwrap_or("no output"),
                path.display()
            )),
            Err(
                CredentialRetrievalError::HelperCommunicationError
                | CredentialRetrievalError::MalformedHelperResponse,
            ) => Err(format!(
                "{source} could not be run or did not answer with {{\"Username\",\"Secret\"}}; install it on PATH, or remove it from {}",
                path.display()
            )),
            Err(error) => Err(format!(
                "{} cannot be used ({error}); fix it, or point DOCKER_CONFIG at another directory",
                path.display()
            )),
        }
    }
}

/// Parses `HOIST_REGISTRY_MIRRORS`: `docker.io=127.0.0.1:5002,127.0.0.1:5003;registry.example.com=...`.
///
/// # Errors
///
/// The message for an entry that is not `REGISTRY=MIRROR[,MIRROR...]`.
pub fn parse_mirrors(text: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut mirrors = BTreeMap::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let parsed = entry.split_once('=').and_then(|(registry, list)| {
            let list: Vec<String> = list.split(',').map(|m| m.trim().to_owned()).collect();
            let valid =
                |host: &str| !host.is_empty() && !host.contains("://") && !host.contains('/');
            (valid(registry.trim()) && list.iter().all(|m| valid(m)))
                .then(|| (canonical_registry(registry.trim()).to_owned(), list))
        });
        let Some((registry, list)) = parsed else {
            return Err(format!(
                "{MIRRORS_VAR}: `{entry}` is not REGISTRY=MIRROR[,MIRROR...] with hosts as HOST[:PORT]; write e.g. {MIRRORS_VAR}=\"docker.io=127.0.0.1:5002\""
            ));
        };
        mirrors.insert(registry, list);
    }
    Ok(mirrors)
}

/// Whether `registry` (`HOST[:PORT]`) is this machine, the only place a
/// registry is spoken to over plain HTTP.
#[must_use]
pub fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Docker Hub's names are one registry: `docker.io`.
fn canonical_registry(name: &str) -> &str {
    match name {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    }
}

/// The host `docker login` takes (none for Docker Hub).
pub(crate) fn login_host(host: &str) -> &str {
    if canonical_registry(host) == "docker.io" {
        ""
    } else {
        host
    }
}

/// The helper Docker would ask for `server`: `credHelpers`, else `credsStore`
/// when the file has no `auth` of its own for it.
fn helper_for(config: &[u8], server: &str) -> Option<String> {
    let config: serde_json::Value = serde_json::from_slice(config).ok()?;
    let name = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(helper) = name(config.get("credHelpers").and_then(|h| h.get(server))) {
        return Some(helper);
    }
    let has_own = docker_credential::get_credential_from_reader(
        serde_json::json!({"auths": config.get("auths")})
            .to_string()
            .as_bytes(),
        server,
    )
    .is_ok();
    (!has_own).then(|| name(config.get("credsStore"))).flatten()
}

fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

/// Where a credential came from, for the fix an error names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    None,
    Env(&'static str),
    DockerConfig(PathBuf),
    Helper { program: String, config: PathBuf },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("no credentials"),
            Self::Env(vars) => f.write_str(vars),
            Self::DockerConfig(path) => write!(f, "{}", path.display()),
            Self::Helper { program, config } => {
                write!(f, "{program} (named in {})", config.display())
            }
        }
    }
}

/// A credential and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Credential {
    pub(crate) auth: RegistryAuth,
    pub(crate) source: Source,
}

impl Credential {
    fn anonymous() -> Self {
        Self {
            auth: RegistryAuth::Anonymous,
            source: Source::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_parse_from_the_variable() {
        let parsed = parse_mirrors(
            "docker.io=127.0.0.1:5002, 127.0.0.1:5003; registry.example.com:5000=mirror.local",
        )
        .unwrap();
        assert_eq!(parsed["docker.io"], ["127.0.0.1:5002", "127.0.0.1:5003"]);
        assert_eq!(parsed["registry.example.com:5000"], ["mirror.local"]);
        assert_eq!(
            parse_mirrors("index.docker.io=m:1").unwrap()["docker.io"],
            ["m:1"]
        );
        assert_eq!(
            parse_mirrors("docker.io=http://m").unwrap_err(),
            "HOIST_REGISTRY_MIRRORS: `docker.io=http://m` is not REGISTRY=MIRROR[,MIRROR...] with hosts as HOST[:PORT]; write e.g. HOIST_REGISTRY_MIRRORS=\"docker.io=127.0.0.1:5002\""
        );
        assert!(parse_mirrors("docker.io").is_err());
    }

    #[test]
    fn the_variable_wins_over_the_stack_file_registry_by_registry() {
        let mut registries = Registries {
            mirrors: parse_mirrors("docker.io=env:1").unwrap(),
            ..Registries::default()
        };
        registries.add_mirrors_under(&BTreeMap::from([
            ("docker.io".to_owned(), vec!["file:1".to_owned()]),
            (
                "registry.example.com:5000".to_owned(),
                vec!["file:2".to_owned()],
            ),
        ]));
        assert_eq!(registries.mirrors_of("index.docker.io").unwrap(), ["env:1"]);
        assert_eq!(
            registries.mirrors_of("registry.example.com:5000").unwrap(),
            ["file:2"]
        );
        assert!(
            registries
                .mirrors_of("registry.example.com:6000")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn docker_config_auths_give_basic_credentials_and_name_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let password = format!("pw-{}", std::process::id());
        let auth = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("me:{password}"),
        );
        std::fs::write(
            dir.path().join("config.json"),
            serde_json::json!({"auths": {
                "https://index.docker.io/v1/": {"auth": auth},
                "127.0.0.1:5999": {"auth": auth},
            }})
            .to_string(),
        )
        .unwrap();
        let registries = Registries {
            docker_config: Some(dir.path().to_path_buf()),
            ..Registries::default()
        };
        for host in ["index.docker.io", "127.0.0.1:5999"] {
            let found = registries
                .credential(&RegistryAuth::Anonymous, host)
                .unwrap();
            assert_eq!(
                found.auth,
                RegistryAuth::Basic {
                    user: "me".into(),
                    password: password.clone()
                }
            );
            assert_eq!(
                found.source,
                Source::DockerConfig(dir.path().join("config.json"))
            );
        }
        let none = registries
            .credential(&RegistryAuth::Anonymous, "127.0.0.1:1")
            .unwrap();
        assert_eq!(none.auth, RegistryAuth::Anonymous);
        let explicit = RegistryAuth::Bearer("t".into());
        let env = registries.credential(&explicit, "127.0.0.1:5999").unwrap();
        assert_eq!(
            (env.auth, env.source),
            (explicit, Source::Env("HOIST_REGISTRY_TOKEN"))
        );
    }

    #[test]
    fn a_broken_docker_config_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
        let registries = Registries {
            docker_config: Some(dir.path().to_path_buf()),
            ..Registries::default()
        };
        assert_eq!(
            registries
                .credential(&RegistryAuth::Anonymous, "127.0.0.1:5999")
                .unwrap_err(),
            format!(
                "{}/config.json cannot be used (Unable to read config); fix it, or point DOCKER_CONFIG at another directory",
                dir.path().display()
            )
        );
    }

    #[test]
    fn identity_tokens_and_missing_helpers_are_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            serde_json::json!({
                "auths": {"a.example:1": {"identitytoken": format!("t-{}", std::process::id())}},
                "credHelpers": {"b.example:1": "hoist-test-absent"},
            })
            .to_string(),
        )
        .unwrap();
        let registries = Registries {
            docker_config: Some(dir.path().to_path_buf()),
            ..Registries::default()
        };
        let error = |host| {
            registries
                .credential(&RegistryAuth::Anonymous, host)
                .unwrap_err()
        };
        assert_eq!(
            error("a.example:1"),
            format!(
                "the credential for a.example:1 in {} is an identity token, which hoist cannot use; run `docker login a.example:1` with a user name and password, or set HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD",
                config.display()
            )
        );
        assert_eq!(
            error("b.example:1"),
            format!(
                "docker-credential-hoist-test-absent (named in {0}) could not be run or did not answer with {{\"Username\",\"Secret\"}}; install it on PATH, or remove it from {0}",
                config.display()
            )
        );
    }

    #[test]
    fn helpers_come_from_cred_helpers_then_the_store() {
        let config = br#"{"auths": {"a:1": {"auth": "dTpw"}, "b:1": {}}, "credsStore": "store", "credHelpers": {"c:1": "ecr"}}"#;
        assert_eq!(helper_for(config, "c:1").as_deref(), Some("ecr"));
        assert_eq!(helper_for(config, "b:1").as_deref(), Some("store"));
        assert_eq!(helper_for(config, "a:1"), None);
    }
}
