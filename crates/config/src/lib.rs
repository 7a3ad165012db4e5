//! hoist-config: the stack file (`hoist.toml`) and `.env` files, mapped to
//! one `ConfigMap` and one Secret per service.
//!
//! hoist finds `hoist.toml` the way cargo finds `Cargo.toml`: in the current
//! directory or the nearest parent that has one ([`find_stack_file`]).
//!
//! # The stack file
//!
//! ```toml
//! project = "todo-chatbot"        # DNS-1123 label; prefixes every object name
//! namespace = "todo"              # default: the project name
//! engine = "kubernetes"           # where `hoist up` runs it: "kubernetes" (default) or "docker"
//!
//! [services.backend]
//! depends_on = ["database"]       # rolls out after these are ready
//! ports = [8000]
//! # `set`: non-secret chart values `hoist up` passes with --set (refused
//! # when the key's last part or the value looks like a secret).
//! # `dev_values`: values files `hoist dev` alone adds after `values` (and
//! # before `set`), e.g. fast probes and no drain; `hoist up` never reads them.
//! chart = { path = "charts/backend", values = ["charts/backend/values-local.yaml"], dev_values = ["charts/backend/values-dev.yaml"], set = { replicaCount = 2 } }
//! # How long `hoist up` waits for the service to be ready, and how many
//! # container restarts count as a crash loop.
//! rollout = { timeout = "5m", crashloop_restarts = 2 }   # the defaults
//! # Docker engine only (`engine = "docker"`, `hoist up --engine docker`):
//! ready = { http = "/ready" }     # or { tcp = 5432 }, { exec = ["pg_isready"] }; deadline = "120s"
//! publish = 8000                  # first port on 127.0.0.1:8000 (`true`: its own number)
//! volumes = { data = "/var/lib/app" }  # Docker volume <project>-<service>-data, kept by `down`
//! replicas = 1                    # containers <project>-<service>-1..n
//!
//! # `hoist dev` only: forward the first port to 127.0.0.1:3000 (`true`: its
//! # own number; `false`: not forwarded). Without any `forward` in the stack,
//! # `hoist dev` forwards the services that `publish`.
//! forward = 3000
//!
//! [services.backend.image]        # owned by hoist-imager; kept as written
//!
//! [services.backend.env]
//! files = [".env"]                # default [".env"]; missing files are skipped
//! required = ["DATABASE_URL", "JWT_SECRET"]
//! keys = ["LOG_LEVEL", "OPENAI_API_KEY"]  # optional: taken when set
//! secret = ["DATABASE_URL"]       # always Secret
//! config = ["LOG_LEVEL"]          # always `ConfigMap`; refused if it looks secret
//! allow_plain = []                # `ConfigMap` even though it looks secret
//! defaults = { LOG_LEVEL = "info" }
//!
//! [registry]                      # for clusters that pull images from a registry
//! address = "registry.example.com/team"   # HOST[:PORT][/PREFIX]; `--registry` wins
//! insecure = false                # plain HTTP, only for a registry you run yourself
//! user = "ci"                     # the password comes from HOIST_REGISTRY_PASSWORD
//!
//! [registries]                    # how registry bases (`base = { registry = ... }`) are reached
//! mirrors = { "docker.io" = ["127.0.0.1:5002"] }  # HOST[:PORT], tried in order before the registry
//!
//! [profiles.production.services.backend.env.defaults]
//! LOG_LEVEL = "warning"           # a profile overrides any field
//! ```
//!
//! - Names (project, namespace, services) are DNS-1123 labels; variable names
//!   are `[A-Za-z_][A-Za-z0-9_]*`.
//! - Unknown keys are errors that suggest the nearest valid key; every error
//!   names the file, line and column.
//! - `depends_on` targets must exist and must not form a cycle;
//!   [`Stack::rollout_levels`] gives the order.
//! - `[profiles.<name>]` is deep-merged over the document before it is read
//!   (tables merge key by key, anything else replaces). Every profile is
//!   validated on every load, not only the selected one.
//! - `engine`, `ready`, `publish`, `volumes` and `replicas` are read by the
//!   Docker-engine run only (hoist-cluster's `engine` module); on
//!   Kubernetes the charts decide probes, Services, volumes and replicas.
//!   `ready` sets exactly one of `http` (a path, on `port` or the first of
//!   `ports`; 2xx or 3xx passes), `tcp` (a port) or `exec` (a command, no
//!   shell, run in the container; exit 0 passes), and optionally
//!   `deadline` (`"500ms"`, `"90s"`, `"2m"`; default 120s). `publish`
//!   needs `ports` and `replicas = 1`. The engine is not
//!   `hoist load --target docker`, which only delivers images to a daemon.
//! - A service takes exactly the variables its `env` names; see [`mapping`]
//!   for where values come from and in which precedence, and [`dotenv`] for
//!   the `.env` syntax.
//!
//! # Classification
//!
//! Explicit lists first (`secret`, then `allow_plain`, then `config`), then
//! name rules, then value rules (both from hoist-secrets). A variable listed
//! in `config` that looks secret by name or value is refused unless it is
//! also in `allow_plain`.
//!
//! ```no_run
//! use hoist_config::{EnvInputs, Stack, find_stack_file, resolve};
//!
//! let path = find_stack_file(std::path::Path::new("."))?;
//! let stack = Stack::load(&path, Some("local"))?;
//! let mapping = resolve(&stack, &EnvInputs::from_process(Vec::new()))?;
//! for env in mapping.services.values() {
//!     println!("{} -> {} / {} ({})", env.service, env.config_map_name(), env.secret_name(), env.config_hash());
//! #   #[cfg(feature = "k8s")]
//!     let objects = (env.config_map(), env.secret()); // feature `k8s`
//! #   #[cfg(feature = "k8s")]
//! #   let _ = objects;
//! }
//! # Ok::<(), hoist_config::Error>(())
//! ```
//!
//! # Features
//!
//! - `k8s` (default): `ServiceEnv::config_map`, `ServiceEnv::secret` and
//!   `ServiceEnv::redacted_secret` as k8s-openapi objects. Without it the
//!   crate still parses, validates, classifies and maps (object names,
//!   labels and [`ServiceEnv::config_hash`] included) but does not build
//!   k8s-openapi, most of its compile time. The fuzz targets in `fuzz/`
//!   depend on it that way, because their instrumented build compiles every
//!   dependency again.
#![deny(missing_docs)]

mod classify;
pub mod dotenv;
mod error;
mod identity;
#[cfg(feature = "k8s")]
mod k8s;
mod lint;
mod location;
pub mod mapping;
mod secret;
mod stack;

use std::path::{Path, PathBuf};

pub use classify::{Listing, Reason, Target, classify};
pub use error::{DotenvError, EnvError, Error, Missing, Refusal, Result, StackError};
pub use identity::CONFIG_HASH_ANNOTATION;
pub use lint::{EXAMPLE_FILE, Finding, lint_example};
pub use location::Location;
pub use mapping::{EnvInputs, Mapping, ServiceEnv, Source, Value, Var, resolve};
pub use secret::{REDACTED, SecretValue};
pub use stack::{
    Chart, DEFAULT_READY_DEADLINE, Engine, EnvSpec, Publish, Ready, ReadyCheck, Registries,
    Registry, RolloutSpec, Service, Stack, VolumeMount,
};

/// The stack file's name.
pub const STACK_FILE: &str = "hoist.toml";

/// Finds `hoist.toml` in `start` or its nearest parent that has one.
///
/// # Errors
///
/// [`Error::StackFileNotFound`] when no directory up to the root has one.
pub fn find_stack_file(start: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    absolute
        .ancestors()
        .map(|dir| dir.join(STACK_FILE))
        .find(|candidate| candidate.is_file())
        .ok_or(Error::StackFileNotFound { start: absolute })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_stack_file_upwards() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("a/b/c");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(root.path().join("a").join(STACK_FILE), "").unwrap();
        assert_eq!(
            find_stack_file(&nested).unwrap(),
            root.path().join("a").join(STACK_FILE)
        );
    }

    #[test]
    fn missing_stack_file_names_the_start_and_the_fix() {
        let root = tempfile::tempdir().unwrap();
        let err = find_stack_file(root.path()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "no hoist.toml in {} or any parent directory; run hoist in your project or name the file with `-f`",
                root.path().display()
            )
        );
    }
}
