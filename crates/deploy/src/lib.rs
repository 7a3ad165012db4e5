//! hoist-deploy: the composition behind `hoist up` and its lifecycle
//! commands. It reads the stack through hoist-config, builds with
//! hoist-imager, delivers and rolls out with hoist-cluster, and returns
//! typed, serializable outcomes; it reports progress through [`Reporter`]
//! and never prints.
//!
//! | entry point | does |
//! |---|---|
//! | [`up()`] | build (cached) -> deliver by digest to the detected target -> ConfigMap and Secret -> ordered rollout; only what changed |
//! | [`status()`] | per service: release revision, image, ready/desired, restarts, age, URL |
//! | [`logs()`] | every pod of a service, lines prefixed with pod and container |
//! | [`down()`] | releases removed in reverse dependency order; claims kept unless `volumes` |
//! | [`rollback()`] | back to the previous (or a given) revision, with the same readiness gate and diagnosis |
//! | [`render()`] | the config objects and each chart through `helm template`, Secrets redacted |
//! | [`doctor()`] | the workload checks of a deployed stack: the rollout engine's findings on the pods as they are, Services without endpoints, the node, drift, a dependency down under its dependents |
//! | [`explain`] | `doctor --explain`: the findings, redacted, to an OpenAI-compatible endpoint, the answer streamed |
//! | [`dev()`] | an `up`, then a watch of what feeds each image, `.env` and hoist.toml: each change rebuilds and rolls only what it affects; logs of every pod, port forwards that follow new pods |
//! | [`engine`] | `up`, `status`, `logs`, `down` on a plain Docker engine (`--engine docker`): the same build, mapping and selection, images loaded into the daemon, containers gated on readiness |
//!
//! Choices made where the issue is silent:
//!
//! - One Helm release per service, `<project>-<service>`, with
//!   `fullnameOverride` set to the same name, so Service names are
//!   predictable (`http://todo-chatbot-backend:8000`).
//! - `up` checks its inputs first (services, `.env`, recipes), then that the
//!   API server answers within `--timeout` seconds (5 by default) and that
//!   the target has a way to get images; only then does it build, send or
//!   apply anything.
//! - Images go to the registry given (`--registry`, else `[registry]` in
//!   hoist.toml) when there is one, else to the detected target's loader.
//!   Registry images are deployed by `image.digest` with `IfNotPresent`;
//!   loaded images by the tag derived from their digest with
//!   `pullPolicy: Never`, since no registry has them.
//! - `chart.set` values reach helm as a generated values file
//!   (`.hoist/values/<service>.yaml`), so `false` stays a boolean.
//! - `crashloop_restarts` is per service in hoist.toml; the engine takes one
//!   number per run, so the largest of the services deployed applies.
//! - `down` without services removes every release; with services, exactly
//!   those (their dependents are left as they are).
//! - `rollback` without a service rolls back every service that has an
//!   earlier revision, in rollout order.
//! - `logs` reads the pods that exist when it starts; with `follow` it
//!   streams until they end.
//! - The URL is the node's address where the host reaches node ports
//!   (Minikube's IP; 127.0.0.1 for a cluster whose API server is on
//!   loopback; localhost on Docker Desktop), else the command that gets one
//!   (see [`Access`]).
//!
//! ```no_run
//! # async fn example() -> hoist_deploy::Result<()> {
//! use hoist_deploy::{NoReporter, UpOptions, up};
//! let stack = hoist_config::Stack::load("hoist.toml".as_ref(), None)?;
//! let options = UpOptions { rollback: true, ..UpOptions::default() };
//! let outcome = up(&stack, &options, &NoReporter).await?;
//! for service in &outcome.services {
//!     println!("{} {:?} {:?}", service.service, service.image, service.access);
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod access;
mod cluster;
pub mod dev;
mod doctor;
pub mod engine;
mod error;
pub mod explain;
pub mod images;
mod lifecycle;
mod logs;
mod plan;
mod prepare;
mod render;
mod report;
pub mod select;
mod status;
mod up;

pub use access::Access;
pub use cluster::{ClusterOptions, REGISTRY_PASSWORD_VAR, stack_registry};
pub use dev::dev;
pub use doctor::{DoctorFinding, DoctorOptions, DoctorOutcome, doctor, render_doctor};
pub use error::{Error, Result};
pub use images::{BuildSettings, BuildSummary, DeliverSummary};
pub use lifecycle::{DownOptions, RollbackOptions, RollbackOutcome, down, rollback};
pub use logs::{LogLine, LogSink, LogsOptions, LogsOutcome, logs};
pub use plan::release_name;
pub use render::{RenderOnly, RenderOptions, RenderedObject, render};
pub use report::{NoReporter, Reporter, Step, StepState};
pub use status::{StatusOptions, StatusOutcome, StatusRow, status};
pub use up::{ServiceSummary, Skipped, UpOptions, UpOutcome, up};
