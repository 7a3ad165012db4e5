//! `dev` on the Docker engine (`--engine docker`, or `engine = "docker"` in
//! hoist.toml): the same watch and the same cycles, each an `up --engine
//! docker` of exactly the services the change affects (`--only`). What
//! differs from the cluster:
//!
//! - No forwards: a service is reached at its `publish` port on 127.0.0.1
//!   of the Docker host, which the loop announces once it serves
//!   ([`DevEvent::Published`]); `--port` is refused.
//! - A start-up that fails leaves the failed container stopped with its
//!   logs, as `up --engine docker` does; the old container was replaced, so
//!   nothing serves that service until the next cycle (the published port
//!   is one container's at a time). The finding is reported and the loop
//!   keeps watching.
//! - Logs: each service's containers once the first cycle that runs them
//!   ends, followed through their replacements (the same container names);
//!   all of a container's lines when the cycle made it, the last 10 when it
//!   was running before the session.
//! - `cleanup` removes the project's containers and network, as `hoist down
//!   --engine docker` does (volumes kept).

use std::collections::BTreeSet;

use futures::StreamExt as _;
use hoist_cluster::engine::Action;
use hoist_config::Stack;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{DevEvent, DevOptions, DevReporter};
use crate::engine::EngineUpOutcome;
use crate::{LogLine, LogsOptions, Result};

/// What the Docker engine cannot do, refused before anything starts.
///
/// # Errors
///
/// A `--port` forward asked for.
pub(super) fn check(options: &DevOptions) -> Result<()> {
    match options.forwards.first() {
        Some((service, _)) => Err(crate::engine::plan_error(
            service,
            "on the Docker engine a service is reached at its `publish` port on 127.0.0.1 (hoist.toml), not through a forward: leave --port out and set `publish`, or use --engine kubernetes",
        )),
        None => Ok(()),
    }
}

/// A service to follow: its name, and how many of its lines to start with
/// (`None`: all of them).
pub(super) type Follow = (String, Option<i64>);

/// What a finished cycle adds: the services whose containers now exist,
/// and the published URLs not announced before.
pub(super) fn after_cycle(
    outcome: &EngineUpOutcome,
    announced: &mut BTreeSet<String>,
    reporter: &dyn DevReporter,
) -> Vec<Follow> {
    for url in &outcome.urls {
        if announced.insert(url.url.clone()) {
            reporter.on_dev(&DevEvent::Published {
                service: url.service.clone(),
                url: url.url.clone(),
            });
        }
    }
    outcome
        .services
        .iter()
        .filter_map(|s| {
            let run = s.run.as_ref()?;
            let before = run.containers.iter().all(|c| c.action == Action::Unchanged);
            Some((s.service.clone(), before.then_some(10)))
        })
        .collect()
}

/// Streams the log lines of each service announced on `started`, until the
/// loop stops; a service is followed once, through its replacements.
pub(super) async fn follow(
    stack: &Stack,
    options: &DevOptions,
    mut started: UnboundedReceiver<Vec<Follow>>,
    reporter: &dyn DevReporter,
) {
    let mut streams = futures::stream::SelectAll::new();
    let mut followed = BTreeSet::new();
    loop {
        tokio::select! {
            services = started.recv() => {
                let Some(services) = services else { break };
                for (service, tail) in services {
                    if !followed.insert(service.clone()) {
                        continue;
                    }
                    let logs = LogsOptions {
                        service: Some(service),
                        follow: true,
                        since: None,
                        tail,
                        env: options.up.env.clone(),
                        cluster: options.up.cluster.clone(),
                    };
                    // A daemon that stopped answering shows in the next cycle.
                    if let Ok(stream) = crate::engine::logs(stack, &logs).await {
                        streams.push(stream);
                    }
                }
            }
            Some(item) = streams.next(), if !streams.is_empty() => {
                if let Ok(line) = item {
                    reporter.on_line(&LogLine {
                        service: line.service,
                        pod: line.container,
                        container: String::new(),
                        line: line.line,
                    });
                }
            }
        }
    }
    std::future::pending::<()>().await;
}
