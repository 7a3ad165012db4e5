//! The settings for running the stack on a plain Docker engine: the
//! top-level `engine`, and per service `ready`, `publish`, `volumes` and
//! `replicas` (hoist-cluster's `engine` module reads them).
//!
//! On Kubernetes the charts decide probes, Services, volumes and replica
//! counts; these settings do not change what hoist installs there.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::Ctx;
use super::schema::Service;
use crate::error::StackError;

/// How long `hoist up` waits for a service's readiness check by default.
pub const DEFAULT_READY_DEADLINE: Duration = Duration::from_secs(120);

/// Where `hoist up` runs the stack: `engine = "kubernetes"` (the default)
/// or `engine = "docker"` in `hoist.toml`, `--engine` on the command line.
///
/// Not to be confused with `hoist load --target docker`, which only
/// delivers images into a Docker daemon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Helm releases on the Kubernetes cluster of the current context.
    #[default]
    Kubernetes,
    /// Containers on a private network of the Docker engine at `DOCKER_HOST`.
    Docker,
}

impl Engine {
    /// The name as written in `hoist.toml` and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kubernetes => "kubernetes",
            Self::Docker => "docker",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Engine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "kubernetes" => Ok(Self::Kubernetes),
            "docker" => Ok(Self::Docker),
            other => Err(format!(
                "unknown engine `{other}`; use `kubernetes` or `docker`"
            )),
        }
    }
}

/// `ready = { ... }`: when a service counts as ready, so that its
/// dependents may start. Exactly one of `http`, `tcp` or `exec`.
///
/// ```toml
/// ready = { http = "/ready" }                     # GET on the first declared port: 2xx or 3xx
/// ready = { http = "/healthz", port = 3000 }      # ... on another port
/// ready = { tcp = 5432 }                          # the port accepts connections
/// ready = { exec = ["pg_isready", "-h", "127.0.0.1"], deadline = "60s" }  # exits 0 in the container
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Ready {
    /// An HTTP path to GET.
    pub http: Option<String>,
    /// A TCP port that must accept connections.
    pub tcp: Option<u16>,
    /// A command run in the container (no shell) that must exit 0.
    pub exec: Option<Vec<String>>,
    /// The port for `http`; the first of `ports` when not set.
    pub port: Option<u16>,
    /// How long to wait, e.g. `"90s"`, `"2m"`, `"500ms"`; default 120s.
    pub deadline: Option<String>,
}

/// A validated readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadyCheck {
    /// `GET path` on `port` answers 2xx or 3xx.
    Http {
        /// The path, starting with `/`.
        path: String,
        /// The container port.
        port: u16,
    },
    /// `port` accepts a TCP connection.
    Tcp {
        /// The container port.
        port: u16,
    },
    /// `command` exits 0 inside the container.
    Exec {
        /// The program and its arguments.
        command: Vec<String>,
    },
}

/// `publish = true` (the first declared port, on the same host port) or
/// `publish = 8080` (that host port): the service's first port on
/// 127.0.0.1 of the Docker host. `forward` (for `hoist dev`) takes the same
/// values for the local port forwarded to the service's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// `publish = false`: not published (the default).
    No,
    /// `publish = true`: on the container port's own number.
    Same,
    /// `publish = PORT`: on this host port.
    Port(u16),
}

impl<'de> Deserialize<'de> for Publish {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Publish;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`true`, `false` or a host port number (1-65535)")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Publish, E> {
                Ok(if v { Publish::Same } else { Publish::No })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Publish, E> {
                match u16::try_from(v) {
                    Ok(port) if port > 0 => Ok(Publish::Port(port)),
                    _ => Err(E::custom(format!(
                        "{v} is not a port; use a number from 1 to 65535, or `true` for the container port"
                    ))),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A named volume mounted into a service's containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeMount {
    /// The name in `volumes`, e.g. `data`; the Docker volume is
    /// `<project>-<service>-<name>`.
    pub name: String,
    /// The absolute path in the container.
    pub path: String,
}

impl Service {
    /// The readiness check: `ready` as written, or `None` when not set (the
    /// image's HEALTHCHECK, else a TCP check on the first declared port,
    /// else the container running, decide; see hoist-cluster's engine).
    #[must_use]
    pub fn ready_check(&self) -> Option<ReadyCheck> {
        let ready = self.ready.as_ref()?.get_ref();
        resolve(ready, &self.ports).ok()
    }

    /// How long to wait for the readiness check.
    #[must_use]
    pub fn ready_deadline(&self) -> Duration {
        self.ready
            .as_ref()
            .and_then(|r| r.get_ref().deadline.as_deref())
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or(DEFAULT_READY_DEADLINE)
    }

    /// `(host port, container port)` when `publish` is set.
    #[must_use]
    pub fn published_port(&self) -> Option<(u16, u16)> {
        let container = *self.ports.first()?;
        match self.publish.as_ref().map(Spanned::get_ref) {
            None | Some(Publish::No) => None,
            Some(Publish::Same) => Some((container, container)),
            Some(Publish::Port(host)) => Some((*host, container)),
        }
    }

    /// `hoist dev`: `(local port, container port)` when `forward` is set
    /// (`Some(None)` for `forward = false`, which turns the default off).
    #[must_use]
    pub fn forwarded_port(&self) -> Option<Option<(u16, u16)>> {
        let container = *self.ports.first()?;
        Some(match self.forward.as_ref()?.get_ref() {
            Publish::No => None,
            Publish::Same => Some((container, container)),
            Publish::Port(local) => Some((*local, container)),
        })
    }

    /// The named volumes, sorted by name.
    #[must_use]
    pub fn volume_mounts(&self) -> Vec<VolumeMount> {
        self.volumes
            .iter()
            .map(|(name, path)| VolumeMount {
                name: name.clone(),
                path: path.get_ref().clone(),
            })
            .collect()
    }

    /// Containers to run on the Docker engine (default 1).
    #[must_use]
    pub fn replica_count(&self) -> u16 {
        self.replicas.as_ref().map_or(1, |r| *r.get_ref())
    }
}

fn resolve(ready: &Ready, ports: &[u16]) -> Result<ReadyCheck, String> {
    let set: Vec<&str> = [
        ("http", ready.http.is_some()),
        ("tcp", ready.tcp.is_some()),
        ("exec", ready.exec.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    if set.len() != 1 {
        let which = if set.is_empty() {
            "none of `http`, `tcp`, `exec`".to_owned()
        } else {
            format!("`{}`", set.join("` and `"))
        };
        return Err(format!(
            "sets {which}; set exactly one, e.g. `ready = {{ http = \"/ready\" }}`, `{{ tcp = 5432 }}` or `{{ exec = [\"pg_isready\"] }}`"
        ));
    }
    if ready.port.is_some() && ready.http.is_none() {
        return Err(
            "sets `port`, which only goes with `http`; write the port in `tcp = PORT` instead"
                .to_owned(),
        );
    }
    if let Some(deadline) = &ready.deadline {
        parse_duration(deadline)?;
    }
    if let Some(path) = &ready.http {
        if !path.starts_with('/') || path.chars().any(char::is_whitespace) {
            return Err(format!(
                "has `http = {path:?}`; use a path starting with `/` and without spaces, e.g. \"/ready\""
            ));
        }
        let Some(port) = ready.port.or_else(|| ports.first().copied()) else {
            return Err(
                "has `http` but the service declares no `ports`; add `port = PORT` or `ports = [PORT]`"
                    .to_owned(),
            );
        };
        return Ok(ReadyCheck::Http {
            path: path.clone(),
            port,
        });
    }
    if let Some(port) = ready.tcp {
        return Ok(ReadyCheck::Tcp { port });
    }
    match ready.exec.as_deref() {
        Some([program, ..]) if !program.is_empty() => Ok(ReadyCheck::Exec {
            command: ready.exec.clone().unwrap_or_default(),
        }),
        _ => Err(
            "has an empty `exec`; name a program and its arguments, e.g. [\"pg_isready\"]"
                .to_owned(),
        ),
    }
}

/// `"90s"`, `"2m"`, `"500ms"`: a whole number and one unit.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    let bad = || {
        format!(
            "has `deadline = {text:?}`; write a whole number and a unit: \"500ms\", \"90s\" or \"2m\""
        )
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(bad()),
    };
    if duration.is_zero() {
        return Err(bad());
    }
    Ok(duration)
}

/// Checks one service's engine settings.
pub(super) fn validate(ctx: &Ctx<'_>, name: &str, service: &Service) -> Result<(), StackError> {
    let invalid = |span: std::ops::Range<usize>, message: String| StackError::Invalid {
        location: ctx.location(span.start),
        message,
    };
    if let Some(ready) = &service.ready {
        resolve(ready.get_ref(), &service.ports)
            .map_err(|why| invalid(ready.span(), format!("`ready` of service `{name}` {why}")))?;
    }
    if let Some(publish) = &service.publish
        && *publish.get_ref() != Publish::No
        && service.ports.is_empty()
    {
        return Err(invalid(
            publish.span(),
            format!(
                "service `{name}` sets `publish` but declares no `ports`; add `ports = [PORT]` (the container port to publish)"
            ),
        ));
    }
    if let Some(replicas) = &service.replicas {
        if *replicas.get_ref() == 0 {
            return Err(invalid(
                replicas.span(),
                format!(
                    "`replicas` of service `{name}` is 0; use 1 or more, or remove the service"
                ),
            ));
        }
        if *replicas.get_ref() > 1 && service.published_port().is_some() {
            return Err(invalid(
                replicas.span(),
                format!(
                    "service `{name}` sets `replicas = {}` and `publish`, but one host port takes one container; keep `replicas = 1` or remove `publish`",
                    replicas.get_ref()
                ),
            ));
        }
    }
    for (volume, path) in &service.volumes {
        let valid_name = volume
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && volume
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
        if !valid_name {
            return Err(invalid(
                path.span(),
                format!(
                    "volume name `{volume}` of service `{name}` is not valid; use lowercase letters, digits and `-_.`, starting with a letter or digit"
                ),
            ));
        }
        if !path.get_ref().starts_with('/') {
            return Err(invalid(
                path.span(),
                format!(
                    "volume `{volume}` of service `{name}` is mounted at {:?}; use an absolute path in the container, e.g. \"/var/lib/postgresql\"",
                    path.get_ref()
                ),
            ));
        }
    }
    Ok(())
}

/// The engine settings' span types, kept here so `schema.rs` names them once.
pub(crate) type Volumes = BTreeMap<String, Spanned<String>>;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::Stack;

    use super::*;

    fn parse(services: &str) -> Result<Stack, StackError> {
        Stack::parse(
            Path::new("hoist.toml"),
            format!("project = \"p\"\n{services}"),
            None,
        )
    }

    fn error(services: &str) -> String {
        parse(services).unwrap_err().to_string()
    }

    #[test]
    fn reads_the_engine_and_every_service_setting() {
        let stack = parse(
            r#"engine = "docker"
[services.db]
ports = [5432]
ready = { exec = ["pg_isready", "-h", "127.0.0.1"], deadline = "90s" }
volumes = { data = "/var/lib/postgresql" }
[services.api]
ports = [8000]
ready = { http = "/ready" }
replicas = 2
[services.web]
ports = [3000]
ready = { http = "/healthz", port = 3001 }
publish = 8080
[services.cache]
ports = [6379]
ready = { tcp = 6379 }
publish = true
"#,
        )
        .unwrap();
        assert_eq!(stack.engine, Engine::Docker);
        let db = &stack.services["db"];
        assert_eq!(
            db.ready_check(),
            Some(ReadyCheck::Exec {
                command: vec!["pg_isready".into(), "-h".into(), "127.0.0.1".into()]
            })
        );
        assert_eq!(db.ready_deadline(), Duration::from_secs(90));
        assert_eq!(
            db.volume_mounts(),
            vec![VolumeMount {
                name: "data".into(),
                path: "/var/lib/postgresql".into()
            }]
        );
        assert_eq!(db.published_port(), None);
        let api = &stack.services["api"];
        assert_eq!(
            api.ready_check(),
            Some(ReadyCheck::Http {
                path: "/ready".into(),
                port: 8000
            })
        );
        assert_eq!(api.replica_count(), 2);
        assert_eq!(api.ready_deadline(), DEFAULT_READY_DEADLINE);
        let web = &stack.services["web"];
        assert_eq!(
            web.ready_check(),
            Some(ReadyCheck::Http {
                path: "/healthz".into(),
                port: 3001
            })
        );
        assert_eq!(web.published_port(), Some((8080, 3000)));
        assert_eq!(web.replica_count(), 1);
        let cache = &stack.services["cache"];
        assert_eq!(cache.ready_check(), Some(ReadyCheck::Tcp { port: 6379 }));
        assert_eq!(cache.published_port(), Some((6379, 6379)));
    }

    #[test]
    fn the_engine_defaults_to_kubernetes_and_parses_from_the_command_line() {
        assert_eq!(parse("").unwrap().engine, Engine::Kubernetes);
        assert_eq!("docker".parse::<Engine>(), Ok(Engine::Docker));
        assert_eq!(
            "podman".parse::<Engine>(),
            Err("unknown engine `podman`; use `kubernetes` or `docker`".to_owned())
        );
        assert_eq!(
            error("engine = \"podman\""),
            "hoist.toml:2:10: unknown variant `podman`, expected `kubernetes` or `docker`"
        );
    }

    #[test]
    fn bad_settings_name_the_place_and_the_fix() {
        assert_eq!(
            error("[services.a]\nready = { http = \"/r\", tcp = 1 }"),
            "hoist.toml:3:9: `ready` of service `a` sets `http` and `tcp`; set exactly one, e.g. `ready = { http = \"/ready\" }`, `{ tcp = 5432 }` or `{ exec = [\"pg_isready\"] }`"
        );
        assert_eq!(
            error("[services.a]\nready = { http = \"/r\" }"),
            "hoist.toml:3:9: `ready` of service `a` has `http` but the service declares no `ports`; add `port = PORT` or `ports = [PORT]`"
        );
        assert_eq!(
            error("[services.a]\nready = { exec = [] }"),
            "hoist.toml:3:9: `ready` of service `a` has an empty `exec`; name a program and its arguments, e.g. [\"pg_isready\"]"
        );
        assert_eq!(
            error("[services.a]\nready = { tcp = 1, deadline = \"soon\" }"),
            "hoist.toml:3:9: `ready` of service `a` has `deadline = \"soon\"`; write a whole number and a unit: \"500ms\", \"90s\" or \"2m\""
        );
        assert_eq!(
            error("[services.a]\nports = [1]\nready = { http = \"ready\" }"),
            "hoist.toml:4:9: `ready` of service `a` has `http = \"ready\"`; use a path starting with `/` and without spaces, e.g. \"/ready\""
        );
        assert_eq!(
            error("[services.a]\npublish = true"),
            "hoist.toml:3:11: service `a` sets `publish` but declares no `ports`; add `ports = [PORT]` (the container port to publish)"
        );
        assert_eq!(
            error("[services.a]\nports = [1]\npublish = 70000"),
            "hoist.toml:4:11: 70000 is not a port; use a number from 1 to 65535, or `true` for the container port"
        );
        assert_eq!(
            error("[services.a]\nports = [1]\npublish = true\nreplicas = 2"),
            "hoist.toml:5:12: service `a` sets `replicas = 2` and `publish`, but one host port takes one container; keep `replicas = 1` or remove `publish`"
        );
        assert_eq!(
            error("[services.a]\nreplicas = 0"),
            "hoist.toml:3:12: `replicas` of service `a` is 0; use 1 or more, or remove the service"
        );
        assert_eq!(
            error("[services.a]\nvolumes = { data = \"data\" }"),
            "hoist.toml:3:20: volume `data` of service `a` is mounted at \"data\"; use an absolute path in the container, e.g. \"/var/lib/postgresql\""
        );
        assert_eq!(
            error("[services.a]\nvolumes = { Data = \"/d\" }"),
            "hoist.toml:3:20: volume name `Data` of service `a` is not valid; use lowercase letters, digits and `-_.`, starting with a letter or digit"
        );
    }
}
