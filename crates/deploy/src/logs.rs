//! `logs`: every pod of a service (or of every service), each line
//! prefixed with its pod and container, JSON lines passed through as they
//! are; the stack's secret values masked when its `.env` can be read.

use std::time::Duration;

use futures::{AsyncBufReadExt as _, StreamExt as _, TryStreamExt as _};
use hoist_config::{EnvInputs, Stack};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, LogParams};
use serde::Serialize;

use crate::cluster::{self, ClusterOptions};
use crate::{Error, Result, plan, select};

/// What `logs` is asked for.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// The service (every service when `None`).
    pub service: Option<String>,
    /// Keep streaming new lines until the pods go or the caller stops.
    pub follow: bool,
    /// Only lines newer than this.
    pub since: Option<Duration>,
    /// At most this many lines per container to start with.
    pub tail: Option<i64>,
    /// Where the stack's variables come from, for masking secret values.
    pub env: EnvInputs,
    /// Which cluster.
    pub cluster: ClusterOptions,
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The service.
    pub service: String,
    /// The pod.
    pub pod: String,
    /// The container.
    pub container: String,
    /// The line as the container wrote it (secret values masked).
    pub line: String,
}

/// Receives log lines as they arrive, from several pods at once.
pub trait LogSink: Send + Sync {
    /// One line.
    fn on_line(&self, line: &LogLine);
}

/// What `logs` read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogsOutcome {
    /// The `pod/container` streams read (pods without a readable log are left out).
    pub streams: Vec<String>,
    /// Lines passed on.
    pub lines: usize,
}

/// Streams the logs of the selected services' pods to `sink`.
///
/// # Errors
///
/// Input errors, [`Error::NoCluster`], and API failures naming the pod.
pub async fn logs(stack: &Stack, options: &LogsOptions, sink: &dyn LogSink) -> Result<LogsOutcome> {
    let names: Vec<String> = options.service.iter().cloned().collect();
    let services = select::ordered(stack, &names, true)?;
    let masks = masks(stack, &options.env);
    let cluster = cluster::connect(stack, &options.cluster).await?;
    let pods = Api::<Pod>::namespaced(cluster.target.client.clone(), &stack.namespace);
    let mut streams = Vec::new();
    for service in &services {
        let release = plan::release_name(stack, service);
        let listed = pods
            .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={release}")))
            .await
            .map_err(|cause| Error::Kube {
                action: format!("listing the pods of release {release}"),
                namespace: stack.namespace.clone(),
                cause,
            })?;
        for pod in listed.items {
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let name = pod.metadata.name.clone().unwrap_or_default();
            for container in pod.spec.map(|s| s.containers).unwrap_or_default() {
                streams.push((service.clone(), name.clone(), container.name));
            }
        }
    }
    let mut outcome = LogsOutcome::default();
    let params = |container: &str| LogParams {
        container: Some(container.to_owned()),
        follow: options.follow,
        since_seconds: options
            .since
            .map(|s| i64::try_from(s.as_secs().max(1)).unwrap_or(i64::MAX)),
        tail_lines: options.tail,
        ..LogParams::default()
    };
    let mask = |line: String| mask(&masks, line);
    let failed = |pod: &str, container: &str, cause| Error::Kube {
        action: format!("reading the log of container {container} in pod {pod}"),
        namespace: stack.namespace.clone(),
        cause,
    };
    // A pod that went away or has not started a container yet has no log
    // to read: it is left out, unless no stream can be read at all.
    let mut readers = Vec::new();
    let mut first_error = None;
    for (service, pod, container) in &streams {
        let reader = match pods.log_stream(pod, &params(container)).await {
            Ok(reader) => reader,
            Err(error) => {
                first_error.get_or_insert_with(|| failed(pod, container, error));
                continue;
            }
        };
        outcome.streams.push(format!("{pod}/{container}"));
        let (service, pod, container) = (service.clone(), pod.clone(), container.clone());
        readers.push(
            reader
                .lines()
                .map_ok(move |line| LogLine {
                    service: service.clone(),
                    pod: pod.clone(),
                    container: container.clone(),
                    line,
                })
                .boxed(),
        );
    }
    if readers.is_empty()
        && let Some(error) = first_error
    {
        return Err(error);
    }
    // Without -f each stream ends on its own; in order, one container after
    // another. With -f they interleave as lines arrive.
    if options.follow {
        let mut all = futures::stream::select_all(readers);
        while let Some(line) = all.next().await {
            let Ok(mut line) = line else { continue };
            line.line = mask(line.line);
            sink.on_line(&line);
            outcome.lines += 1;
        }
    } else {
        for mut reader in readers {
            while let Some(Ok(mut line)) = reader.next().await {
                line.line = mask(line.line);
                sink.on_line(&line);
                outcome.lines += 1;
            }
        }
    }
    Ok(outcome)
}

/// The stack's secret values, to mask in log lines (none when its `.env`
/// cannot be read).
pub(crate) fn masks(stack: &Stack, env: &EnvInputs) -> Vec<String> {
    hoist_config::resolve(stack, env)
        .map(|m| plan::secret_values(&m))
        .unwrap_or_default()
}

/// `line` with every value of `masks` replaced by the redaction mark.
pub(crate) fn mask(masks: &[String], line: String) -> String {
    masks.iter().fold(line, |line, secret| {
        line.replace(secret, hoist_config::REDACTED)
    })
}
