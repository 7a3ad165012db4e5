//! `dev`: the inner loop. An `up`, then a watch of every path that feeds a
//! service's image and of the stack's `.env` files and hoist.toml; on a
//! change, a cycle through the same composition as `up` for the affected
//! services only; meanwhile the services' logs (following new pods) and
//! port forwards to 127.0.0.1 that survive pod replacement.
//!
//! Choices made where the issue is silent:
//!
//! - What feeds an image is the imager's [`hoist_imager::Sources`]: layer
//!   `copy` sources (with the layer's excludes), prepare `inputs`, a
//!   Dockerfile context (with its `.dockerignore`); prepare `outputs` are
//!   never sources, so a build does not trigger the next cycle. A file whose
//!   content is what the last cycle saw (an editor's touch, `npm ci`
//!   rewriting `package-lock.json` as it was) is not a change.
//! - Events are debounced ([`DevOptions::debounce`], 50 ms by default);
//!   what arrives while a cycle runs is merged into the next cycle.
//! - A source change rebuilds the services it feeds and rolls out exactly
//!   those (`--only` semantics); a `.env` change rebuilds nothing and rolls
//!   every selected service through the engine, which leaves alone those
//!   whose configuration hash did not change; a hoist.toml change reloads
//!   the stack and runs a full `up` of the selection (cached builds). A
//!   changed namespace, registry or selection needs a restart of `dev`.
//! - A cycle that fails (a build error, a rollout rolled back) is reported
//!   and the loop keeps watching; images whose rollout did not succeed are
//!   not kept as the "current" image, so a later `.env` cycle never deploys
//!   them.
//! - Forwarded: every service with `forward` in hoist.toml; when no service
//!   has one, every service with `publish` (the frontend of the reference
//!   app); `DevOptions::forwards` (the CLI's `--port SERVICE=PORT`) adds or
//!   moves forwards. The local port is `forward`'s (or the first of `ports`
//!   for `true`/`publish`), fixed for the whole session: the URL printed
//!   once keeps working. Each connection goes to the newest Ready pod of the
//!   release's Service selector, resolved when the connection opens, so a
//!   replaced pod is followed at the next connection; one port-forward
//!   stream to that pod is kept open ahead for it (`streams`).
//! - Logs: every container of every pod of the selected releases, from the
//!   start of each container started during the session (the last 10 lines
//!   of those already running), a new stream for each restart; secret
//!   values of the stack are masked.
//! - Stopping (the `shutdown` future, Ctrl-C in the CLI) stops watching,
//!   forwarding and logs and leaves the deployment; `cleanup` removes it as
//!   `down` does (claims kept).
//! - On the Docker engine ([`DevOptions::engine`], else hoist.toml's
//!   `engine`) the same loop runs `up --engine docker` for each cycle; what
//!   differs (published ports instead of forwards, a failed start-up not
//!   kept beside the old container) is in the `docker` module's notes, and
//!   in the README.
//!
//! ```no_run
//! # async fn example() -> hoist_deploy::Result<()> {
//! use hoist_deploy::dev::{DevOptions, NoDevReporter, dev};
//! let stack = hoist_config::Stack::load("hoist.toml".as_ref(), None)?;
//! let outcome = dev(stack, &DevOptions::default(), &NoDevReporter, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! println!("{} cycles", outcome.cycles);
//! # Ok(()) }
//! ```

mod cycle;
mod docker;
mod event;
mod forward;
mod logs;
mod streams;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use hoist_config::{Engine, Stack};
use serde::Serialize;

pub use event::{CycleOutcome, DevEvent, DevReporter, NoDevReporter, Timings};

use crate::lifecycle::{DownOptions, down};
use crate::up::Session;
use crate::{Result, UpOptions, prepare};
use cycle::Runner;

/// What `dev` is asked to do.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The services, variables, cluster, build settings and rollback of
    /// every cycle, as for `up`.
    pub up: UpOptions,
    /// Forwards added or moved: service and local port.
    pub forwards: Vec<(String, u16)>,
    /// Remove the deployment when stopped, as `down` does.
    pub cleanup: bool,
    /// How long the file system must be quiet before a cycle starts.
    pub debounce: Duration,
    /// Stream the services' logs.
    pub logs: bool,
    /// Where the stack runs; `None`: hoist.toml's `engine`.
    pub engine: Option<Engine>,
}

impl Default for DevOptions {
    fn default() -> Self {
        Self {
            up: UpOptions {
                rollback: true,
                ..UpOptions::default()
            },
            forwards: Vec::new(),
            cleanup: false,
            debounce: Duration::from_millis(50),
            logs: true,
            engine: None,
        }
    }
}

/// What a `dev` session did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DevOutcome {
    /// Cycles run, the first `up` included.
    pub cycles: u32,
    /// Cycles that ended with every rolled service Ready.
    pub succeeded: u32,
    /// The releases (on the Docker engine, the containers) removed on the
    /// way out (`cleanup`).
    pub removed: Vec<String>,
}

/// Runs the loop on `stack` until `shutdown` completes.
///
/// Inputs are checked and the forwarded ports bound before anything is
/// built, so a busy port or a bad `.env` stops it at once; after that a
/// failing cycle is reported through `reporter` and the loop goes on.
///
/// # Errors
///
/// Input errors, [`crate::Error::Forward`] for a port that cannot be bound,
/// [`crate::Error::Watch`], [`crate::Error::NoCluster`] and the other
/// connection errors of `up`; `cleanup`'s errors.
pub async fn dev(
    stack: Stack,
    options: &DevOptions,
    reporter: &dyn DevReporter,
    shutdown: impl Future<Output = ()>,
) -> Result<DevOutcome> {
    let mut stack = stack;
    let on_docker = options.engine.unwrap_or(stack.engine) == Engine::Docker;
    let selection = prepare::select(&stack, &options.up)?;
    let forwards = if on_docker {
        docker::check(options)?;
        Vec::new()
    } else {
        forward::plan(&stack, &selection.services, &options.forwards)?
    };
    let listeners = forward::bind(&forwards)?;
    let mut watcher = watch::Watcher::start(&stack, &selection, &options.up.env, options.debounce)?;
    reporter.on_dev(&DevEvent::Watching {
        roots: watcher.roots(),
    });
    let session = if on_docker {
        None
    } else {
        Some(Session::open(&stack, &options.up.cluster).await?)
    };
    let runner = session.as_ref().map_or(Runner::Docker, Runner::Cluster);
    let (running, started) = tokio::sync::mpsc::unbounded_channel();
    // The stack as the session started (the cycles may reload it).
    let initial = stack.clone();
    // Forwards and logs run beside the cycles, in this task: the old pods
    // keep serving through the forward while a cycle rolls new ones.
    let background = async {
        match &session {
            Some(session) => {
                beside_cluster(
                    &initial, session, &selection, &forwards, listeners, options, reporter,
                )
                .await;
            }
            None if options.logs => {
                docker::follow(&initial, options, started, reporter).await;
            }
            None => {}
        }
        // Nothing left to serve: wait for the loop.
        std::future::pending::<()>().await;
    };
    let cycles = async {
        let mut state = cycle::State::default();
        let mut outcome = DevOutcome::default();
        let mut published = BTreeSet::new();
        let mut ended = |result: Option<CycleOutcome>, outcome: &mut DevOutcome| {
            outcome.cycles += 1;
            outcome.succeeded += u32::from(result.as_ref().is_some_and(CycleOutcome::succeeded));
            if let Some(CycleOutcome::Docker(up)) = &result {
                let _ = running.send(docker::after_cycle(up, &mut published, reporter));
            }
        };
        let first = state
            .run(
                &mut stack,
                runner,
                options,
                &cycle::Change::everything(),
                reporter,
            )
            .await;
        ended(first, &mut outcome);
        for forward in &forwards {
            reporter.on_dev(&DevEvent::Forwarding {
                service: forward.service.clone(),
                url: format!("http://127.0.0.1:{}", forward.local),
                port: forward.remote,
            });
        }
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let change = tokio::select! {
                () = &mut shutdown => break,
                change = watcher.next() => change?,
            };
            let Some(change) = change else { break };
            let result = state
                .run(&mut stack, runner, options, &change, reporter)
                .await;
            if change.stack_file {
                watcher.update(&stack, &options.up)?;
            }
            ended(result, &mut outcome);
        }
        Ok::<_, crate::Error>((outcome, stack))
    };
    let (mut outcome, stack) = tokio::select! {
        () = background => unreachable!("the background work never ends by itself"),
        result = cycles => result?,
    };
    drop(watcher);
    reporter.on_dev(&DevEvent::Stopping {
        cleanup: options.cleanup,
    });
    if options.cleanup {
        outcome.removed = remove(&stack, &selection.services, options, on_docker, reporter).await?;
    }
    Ok(outcome)
}

/// `cleanup`: what `down` removes, as `down` does (claims and volumes kept).
async fn remove(
    stack: &Stack,
    services: &[String],
    options: &DevOptions,
    on_docker: bool,
    reporter: &dyn DevReporter,
) -> Result<Vec<String>> {
    let down_options = DownOptions {
        // The engine removes the whole project.
        services: if on_docker {
            Vec::new()
        } else {
            services.to_vec()
        },
        volumes: false,
        env: options.up.env.clone(),
        cluster: options.up.cluster.clone(),
    };
    Ok(if on_docker {
        crate::engine::down(stack, &down_options).await?.containers
    } else {
        down(stack, &down_options, reporter).await?.releases
    })
}

/// The forwards and the pods' logs of a session on the cluster, until they
/// end.
async fn beside_cluster(
    stack: &Stack,
    session: &Session,
    selection: &prepare::Selection,
    forwards: &[forward::Forward],
    listeners: Vec<tokio::net::TcpListener>,
    options: &DevOptions,
    reporter: &dyn DevReporter,
) {
    let client = &session.cluster.target.client;
    let namespace = &stack.namespace;
    let releases: BTreeMap<String, String> = selection
        .services
        .iter()
        .map(|s| (crate::plan::release_name(stack, s), s.clone()))
        .collect();
    let masks = crate::logs::masks(stack, &options.up.env);
    let serving = futures::future::join_all(
        forwards
            .iter()
            .zip(listeners)
            .map(|(f, l)| forward::serve(l, client, namespace, f, reporter)),
    );
    let following = async {
        if options.logs {
            logs::follow(client, namespace, &releases, &masks, reporter).await;
        }
    };
    futures::future::join(serving, following).await;
}
