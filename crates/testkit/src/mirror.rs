//! The reference app's public bases and the Docker Hub mirror that serves
//! them on our machines.
//!
//! `examples/todo-chatbot/hoist.toml` names public, pinned bases such as
//! `python:3.11-slim-bookworm`. No machine of ours reaches Docker Hub, so CI
//! runs a mirror (`.ci/services.sh`), seeds it with Debian-built stand-ins
//! under those names (`cargo xtask bases --seed-mirror`), and exports
//! `HOIST_REGISTRY_MIRRORS=docker.io=HOST:PORT`, which hoist reads. A test
//! that builds the reference app calls [`app_bases`] first: a missing
//! variable, a mirror that does not answer or one that lacks a name is then
//! one clear message instead of a pull failure deep in a build.
//!
//! ```no_run
//! let Some(mirror) = hoist_testkit::mirror::app_bases() else { return };
//! assert_eq!(mirror.diff_ids("backend").len(), 1);
//! ```

use std::path::{Path, PathBuf};

use crate::registry::http_get;
use crate::{Service, services_required};

/// The variable hoist reads its mirrors from: `docker.io=HOST:PORT` here.
pub const MIRRORS: Service = Service {
    var: "HOIST_REGISTRY_MIRRORS",
    what: "a Docker Hub mirror holding the reference app's bases (`cargo xtask bases --seed-mirror`)",
};

/// A Docker Hub image as a registry API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBase {
    /// The reference as the recipe writes it, e.g. `python:3.11-slim-bookworm`.
    pub reference: String,
    /// The repository, e.g. `library/python`.
    pub repository: String,
    /// The tag, e.g. `3.11-slim-bookworm`.
    pub tag: String,
}

impl PublicBase {
    /// `reference` as Docker Hub names it, or `None` when it names another
    /// registry (a first component with `.` or `:` other than Docker Hub's).
    #[must_use]
    pub fn parse(reference: &str) -> Option<Self> {
        let (name, tag) = match reference.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, tag),
            _ => (reference, "latest"),
        };
        let name = match name.split_once('/') {
            Some(("docker.io" | "index.docker.io" | "registry-1.docker.io", rest)) => rest,
            Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => return None,
            _ => name,
        };
        let repository = if name.contains('/') {
            name.to_owned()
        } else {
            format!("library/{name}")
        };
        Some(Self {
            reference: reference.to_owned(),
            repository,
            tag: tag.to_owned(),
        })
    }
}

/// The reference app's stack file.
#[must_use]
pub fn app_stack_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/todo-chatbot/hoist.toml")
}

/// A base the reference app names, and the service whose recipe names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppBase {
    /// The service, e.g. `backend`.
    pub service: String,
    /// The base.
    pub base: PublicBase,
}

/// The Docker Hub bases the reference app's recipes name, by service name.
///
/// # Panics
///
/// When the stack file cannot be read or parsed.
#[must_use]
pub fn app_public_bases() -> Vec<AppBase> {
    let path = app_stack_file();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
    let stack: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()));
    stack
        .get("services")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|services| services.iter())
        .filter_map(|(service, table)| {
            let reference = table.get("image")?.get("base")?.get("registry")?.as_str()?;
            Some(AppBase {
                service: service.clone(),
                base: PublicBase::parse(reference)?,
            })
        })
        .collect()
}

/// A mirror holding every base of the reference app.
#[derive(Debug, Clone)]
pub struct Mirror {
    /// `HOST:PORT`.
    pub address: String,
    /// Each base with the diff_ids of its image there, bottom first.
    pub images: Vec<(AppBase, Vec<String>)>,
}

impl Mirror {
    /// The diff_ids of the image the mirror holds for `service`'s base.
    ///
    /// # Panics
    ///
    /// When `service` names no public base.
    #[must_use]
    pub fn diff_ids(&self, service: &str) -> &[String] {
        self.images
            .iter()
            .find(|(app, _)| app.service == service)
            .map_or_else(
                || panic!("the reference app's {service} names no public base"),
                |(_, ids)| ids.as_slice(),
            )
    }
}

const MANIFEST_TYPES: &str = "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json\r\n";

/// Checks that the Docker Hub mirror in `mirrors` (as
/// `HOIST_REGISTRY_MIRRORS` writes it; the first one listed for
/// `docker.io`) holds every image in `bases`.
///
/// # Errors
///
/// What is missing and the command that provides it.
pub fn check(mirrors: &str, bases: &[AppBase]) -> Result<Mirror, String> {
    let address = mirrors
        .split(';')
        .filter_map(|entry| entry.split_once('='))
        .find(|(registry, _)| {
            matches!(
                registry.trim(),
                "docker.io" | "index.docker.io" | "registry-1.docker.io"
            )
        })
        .and_then(|(_, list)| list.split(',').map(str::trim).find(|m| !m.is_empty()))
        .ok_or_else(|| {
            format!(
                "{} is `{mirrors}`, which names no mirror for docker.io; the reference app's bases are Docker Hub names: set it to docker.io=127.0.0.1:5002 as .ci/services.sh does",
                MIRRORS.var
            )
        })?
        .to_owned();
    if http_get(&address, "/v2/", "").is_none() {
        return Err(format!(
            "the Docker Hub mirror {address} ({}) does not answer; .ci/services.sh starts it",
            MIRRORS.var
        ));
    }
    let mut images = Vec::new();
    for app in bases {
        let base = &app.base;
        let path = format!("/v2/{}/manifests/{}", base.repository, base.tag);
        let diff_ids = match http_get(&address, &path, MANIFEST_TYPES) {
            Some((200, manifest)) => diff_ids(&address, base, &manifest)?,
            _ => {
                return Err(format!(
                    "the Docker Hub mirror {address} ({}) has no {}:{}, which examples/todo-chatbot/hoist.toml names; seed it with `cargo xtask bases --seed-mirror {address}`",
                    MIRRORS.var, base.repository, base.tag,
                ));
            }
        };
        images.push((app.clone(), diff_ids));
    }
    Ok(Mirror { address, images })
}

/// The diff_ids in the config of the image whose `manifest` the mirror gave.
fn diff_ids(address: &str, base: &PublicBase, manifest: &str) -> Result<Vec<String>, String> {
    let unreadable = |what: &str| {
        format!(
            "the Docker Hub mirror {address} gave an unreadable {what} for {}:{}; seed it again with `cargo xtask bases --seed-mirror {address}`",
            base.repository, base.tag
        )
    };
    let manifest: serde_json::Value =
        serde_json::from_str(manifest).map_err(|_| unreadable("manifest"))?;
    let config = manifest["config"]["digest"]
        .as_str()
        .ok_or_else(|| unreadable("manifest"))?;
    let path = format!("/v2/{}/blobs/{config}", base.repository);
    let config: serde_json::Value = match http_get(address, &path, "") {
        Some((200, body)) => serde_json::from_str(&body).map_err(|_| unreadable("config"))?,
        _ => return Err(unreadable("config")),
    };
    config["rootfs"]["diff_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect()
        })
        .ok_or_else(|| unreadable("config"))
}

/// The mirror that serves the reference app's bases here, or `None` (the
/// test skips) when `HOIST_REGISTRY_MIRRORS` is unset.
///
/// # Panics
///
/// When the variable is unset and services are required, or whenever the
/// mirror it names does not hold every base (see [`check`]).
#[must_use]
pub fn app_bases() -> Option<Mirror> {
    let mirrors = crate::service(MIRRORS)?;
    match check(&mirrors, &app_public_bases()) {
        Ok(mirror) => Some(mirror),
        Err(problem) if services_required() => panic!("{problem}"),
        Err(problem) => {
            eprintln!("skipped: {problem}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::LocalRegistry;

    #[test]
    fn docker_hub_references_name_their_repository_and_tag() {
        let parsed = |r: &str| PublicBase::parse(r).map(|b| (b.repository, b.tag));
        let expect = |repository: &str, tag: &str| Some((repository.to_owned(), tag.to_owned()));
        assert_eq!(
            parsed("python:3.11-slim-bookworm"),
            expect("library/python", "3.11-slim-bookworm")
        );
        assert_eq!(
            parsed("docker.io/library/node:20-bookworm-slim"),
            expect("library/node", "20-bookworm-slim")
        );
        assert_eq!(parsed("team/app"), expect("team/app", "latest"));
        assert_eq!(parsed("127.0.0.1:5000/bases/python:3.11"), None);
        assert_eq!(parsed("registry.example.com/python:3.11"), None);
    }

    #[test]
    fn the_reference_app_names_pinned_docker_hub_bases() {
        let bases = app_public_bases();
        let services: Vec<&str> = bases.iter().map(|b| b.service.as_str()).collect();
        assert_eq!(services, ["backend", "database", "frontend"]);
        for AppBase { base, .. } in &bases {
            assert!(
                base.tag != "latest" && base.tag.contains("bookworm"),
                "{base:?} is not pinned"
            );
        }
    }

    #[test]
    fn a_mirror_that_is_unnamed_silent_or_unseeded_is_named_with_the_fix() {
        let bases = vec![AppBase {
            service: "backend".to_owned(),
            base: PublicBase::parse("python:3.11-slim-bookworm").unwrap(),
        }];
        assert_eq!(
            check("quay.io=127.0.0.1:1", &bases).unwrap_err(),
            "HOIST_REGISTRY_MIRRORS is `quay.io=127.0.0.1:1`, which names no mirror for docker.io; the reference app's bases are Docker Hub names: set it to docker.io=127.0.0.1:5002 as .ci/services.sh does"
        );
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        assert_eq!(
            check(&format!("docker.io={closed}"), &bases).unwrap_err(),
            format!(
                "the Docker Hub mirror {closed} (HOIST_REGISTRY_MIRRORS) does not answer; .ci/services.sh starts it"
            )
        );
        let Some(empty) = LocalRegistry::start() else {
            return;
        };
        let address = empty.address();
        assert_eq!(
            check(&format!("docker.io={address}"), &bases).unwrap_err(),
            format!(
                "the Docker Hub mirror {address} (HOIST_REGISTRY_MIRRORS) has no library/python:3.11-slim-bookworm, which examples/todo-chatbot/hoist.toml names; seed it with `cargo xtask bases --seed-mirror {address}`"
            )
        );
    }
}
