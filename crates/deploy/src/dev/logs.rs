//! Aggregated logs: a kube-runtime watcher on the pods of the selected
//! releases; every container that runs (or has just ended) gets a follow
//! stream, a restarted container a new one, so new pods are followed as
//! they replace old ones.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{AsyncBufReadExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;
use kube::runtime::watcher;

use crate::{LogLine, LogSink};

/// Lines shown of a container already running when the loop starts.
const TAIL_OF_RUNNING: i64 = 10;

/// Follows the logs of `releases` (release name -> service) until dropped.
pub(crate) async fn follow(
    client: &kube::Client,
    namespace: &str,
    releases: &BTreeMap<String, String>,
    masks: &[String],
    sink: &dyn LogSink,
) {
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let names: Vec<&str> = releases.keys().map(String::as_str).collect();
    let selector = format!("app.kubernetes.io/instance in ({})", names.join(","));
    let config = watcher::Config::default().labels(&selector);
    let mut events = std::pin::pin!(watcher(pods.clone(), config));
    // (pod uid, container, restart count): one stream each.
    let mut streamed: HashSet<(String, String, i32)> = HashSet::new();
    let mut streams = FuturesUnordered::new();
    let mut initial = true;
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { return };
                let pod = match event {
                    Ok(watcher::Event::Apply(pod)) => { initial = false; pod }
                    Ok(watcher::Event::InitApply(pod)) => pod,
                    Ok(watcher::Event::InitDone) => { initial = false; continue }
                    Ok(watcher::Event::Init | watcher::Event::Delete(_)) => continue,
                    // The watcher retries by itself; wait a little so an
                    // unreachable API server is not hammered.
                    Err(_) => { tokio::time::sleep(Duration::from_secs(1)).await; continue }
                };
                for (container, restarts) in started(&pod) {
                    let uid = pod.metadata.uid.clone().unwrap_or_default();
                    if !streamed.insert((uid, container.clone(), restarts)) {
                        continue;
                    }
                    let Some(service) = pod
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("app.kubernetes.io/instance"))
                        .and_then(|r| releases.get(r))
                    else {
                        continue;
                    };
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    streams.push(stream(
                        &pods,
                        service.clone(),
                        name,
                        container,
                        initial.then_some(TAIL_OF_RUNNING),
                        masks,
                        sink,
                    ));
                }
            }
            Some(()) = streams.next(), if !streams.is_empty() => {}
        }
    }
}

/// The containers of `pod` that have a log to read: running, or ended
/// (a crash's last words), with their restart counts.
fn started(pod: &Pod) -> Vec<(String, i32)> {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref());
    statuses
        .into_iter()
        .flatten()
        .filter(|c| {
            c.state
                .as_ref()
                .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
        })
        .map(|c| (c.name.clone(), c.restart_count))
        .collect()
}

/// One container's log until it ends.
async fn stream(
    pods: &Api<Pod>,
    service: String,
    pod: String,
    container: String,
    tail: Option<i64>,
    masks: &[String],
    sink: &dyn LogSink,
) {
    let params = LogParams {
        container: Some(container.clone()),
        follow: true,
        tail_lines: tail,
        ..LogParams::default()
    };
    let Ok(reader) = pods.log_stream(&pod, &params).await else {
        return;
    };
    let mut lines = reader.lines();
    while let Some(Ok(line)) = lines.next().await {
        sink.on_line(&LogLine {
            service: service.clone(),
            pod: pod.clone(),
            container: container.clone(),
            line: crate::logs::mask(masks, line),
        });
    }
}
