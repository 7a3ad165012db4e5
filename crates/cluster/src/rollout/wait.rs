//! The readiness wait of one release: kube-runtime reflectors over the
//! namespace's workloads, pods, claims, endpoints and events, evaluated on
//! every change, under the service's deadline. No polling: the loop only
//! wakes when the API server sends a change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Endpoints, Event, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, LogParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::diagnose::{self, Context, Draft, LogRequest};
use super::events::{Event as Progress, Reporter};
use super::kstatus::{self, Replicas, Status};
use super::manifest::{Kind, Owned};
use super::outcome::{Cause, Finding};
use super::plan::{ImageRef, Until};

/// Pods and events this much older than the wait's start still count as
/// its own (clock skew between hoist and the API server).
const SLACK: Duration = Duration::from_secs(2);

/// What one wait is about.
pub(crate) struct Wait<'a> {
    pub(crate) client: &'a Client,
    pub(crate) namespace: &'a str,
    pub(crate) service: &'a str,
    pub(crate) image: Option<&'a ImageRef>,
    pub(crate) owned: &'a [Owned],
    pub(crate) deadline: Duration,
    pub(crate) crashloop_restarts: u32,
    /// When a rolling Deployment counts as Ready.
    pub(crate) until: Until,
    /// When the change being waited for was made (the helm call).
    pub(crate) since: Timestamp,
    pub(crate) reporter: &'a dyn Reporter,
}

/// How a wait ended.
pub(crate) struct Waited {
    /// Empty when Ready.
    pub(crate) findings: Vec<Finding>,
    pub(crate) replicas: Replicas,
    pub(crate) restarts: u32,
    /// The service's pods and events at the end, for the evidence.
    pub(crate) pods: Vec<Arc<Pod>>,
    pub(crate) events: Vec<Arc<Event>>,
}

struct Stores {
    deployments: Store<Deployment>,
    replica_sets: Store<ReplicaSet>,
    statefulsets: Store<StatefulSet>,
    daemonsets: Store<DaemonSet>,
    jobs: Store<Job>,
    claims: Store<PersistentVolumeClaim>,
    endpoints: Store<Endpoints>,
    pods: Store<Pod>,
    events: Store<Event>,
}

type Changes = futures::stream::BoxStream<'static, Result<(), String>>;

fn reflect<K>(api: Api<K>, streams: &mut Vec<Changes>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    )
    .map(|r| r.map(drop).map_err(|e| e.to_string()));
    streams.push(stream.boxed());
    store
}

impl Wait<'_> {
    /// Waits until every owned object is Ready, a terminal state is seen,
    /// or the deadline passes.
    pub(crate) async fn run(&self) -> Waited {
        let ns = self.namespace;
        let mut streams: Vec<Changes> = Vec::new();
        let stores = Stores {
            deployments: reflect(Api::namespaced(self.client.clone(), ns), &mut streams),
            replica_sets: reflect(Api::namespaced(self.client.clone(), ns), &mut streams),
            statefulsets: reflect(Api::namespaced(self.client.clone(), ns), &mut streams),
            daemonsets: reflect(Api::namespaced(self.client.clone(), ns), &mut streams),
            jobs: reflect(Api::namespaced(self.client.clone(), ns), &mut streams),
            claims: reflect(Api::namespaced(self.client.clone(), ns), &mut streams),
            endpoints: reflect(Api::namespaced(self.client.clone(), ns), &mut streams),
            pods: reflect(Api::namespaced(self.client.clone(), ns), &mut streams),
            events: reflect(Api::namespaced(self.client.clone(), ns), &mut streams),
        };
        // Nodes and classes change rarely: read once; unknown if forbidden.
        let nodes = Api::<Node>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .ok()
            .map(|l| l.items);
        let classes = Api::<StorageClass>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .ok()
            .map(|l| l.items);
        let mut changes = futures::stream::select_all(streams);
        let mut seen = Seen::default();
        let mut last_error = None;
        let result = tokio::time::timeout(self.deadline, async {
            while let Some(change) = changes.next().await {
                if let Err(error) = change {
                    last_error = Some(error);
                    continue;
                }
                let view = self.view(&stores);
                seen.report(self, &view);
                let ctx = self.context(&view, nodes.as_deref(), classes.as_deref());
                let mut terminal = diagnose::terminal(&ctx);
                terminal.extend(view.failed.iter().cloned());
                if !terminal.is_empty() {
                    return Some(terminal);
                }
                if view.not_ready.is_empty() {
                    return None;
                }
            }
            Some(Vec::new())
        })
        .await;
        let view = self.view(&stores);
        let drafts = match result {
            Ok(None) => Vec::new(),
            Ok(Some(drafts)) => drafts,
            Err(_elapsed) => {
                let ctx = self.context(&view, nodes.as_deref(), classes.as_deref());
                let mut drafts = diagnose::at_deadline(&ctx);
                drafts.push(self.deadline_finding(&view, last_error.as_deref()));
                drafts
            }
        };
        let mut findings = Vec::new();
        for draft in drafts {
            findings.push(self.with_logs(draft).await);
        }
        Waited {
            findings,
            replicas: view.replicas,
            restarts: view.restarts,
            pods: view.all_pods,
            events: view.events,
        }
    }

    fn deadline_finding(&self, view: &View, last_error: Option<&str>) -> Draft {
        let mut message = format!(
            "not Ready after {}s: {}",
            self.deadline.as_secs(),
            view.not_ready
                .iter()
                .map(|(o, why)| format!("{o} ({why})"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(error) = last_error {
            use std::fmt::Write as _;
            let _ = write!(message, "; the last API error was: {error}");
        }
        Draft {
            finding: Finding {
                service: self.service.to_owned(),
                object: view.not_ready.first().map_or_else(|| "(release)".to_owned(), |(o, _)| o.clone()),
                pod: None,
                container: None,
                cause: Cause::DeadlineExceeded,
                message,
                fix: Some("see the other findings; raise the service's deadline in hoist.toml if it is only slow".to_owned()),
                logs: Vec::new(),
            },
            logs: None,
        }
    }

    async fn with_logs(&self, draft: Draft) -> Finding {
        with_logs(self.client, self.namespace, draft).await
    }

    fn context<'v>(
        &'v self,
        view: &'v View,
        nodes: Option<&'v [Node]>,
        classes: Option<&'v [StorageClass]>,
    ) -> Context<'v> {
        Context {
            service: self.service,
            image: self.image,
            crashloop_restarts: self.crashloop_restarts,
            pods: &view.pods,
            claims: &view.claims,
            events: &view.events,
            nodes,
            classes,
        }
    }

    fn view(&self, stores: &Stores) -> View {
        let since = self.since - SLACK;
        let selectors: Vec<BTreeMap<String, String>> = self
            .owned
            .iter()
            .filter(|o| o.kind != Kind::Service)
            .filter_map(|o| o.pods.as_deref())
            .map(parse_selector)
            .collect();
        let all_pods: Vec<Arc<Pod>> = stores
            .pods
            .state()
            .into_iter()
            .filter(|p| selectors.iter().any(|s| matches(s, p.labels())))
            .collect();
        let mut view = View::default();
        let mut rolling = false;
        for o in self.owned {
            let (status, replicas) = object_status(stores, o, &all_pods, self.until);
            if let Some(r) = replicas {
                view.replicas.ready += r.ready;
                view.replicas.desired += r.desired;
            }
            match status {
                Status::Ready => {}
                Status::InProgress(why) => {
                    rolling |= o.kind.is_workload();
                    view.not_ready.push((o.object(), why));
                }
                Status::Failed(why) => {
                    let cause = match o.kind {
                        Kind::Deployment => Cause::ProgressDeadline,
                        Kind::Claim => Cause::ClaimPending,
                        _ => Cause::Other,
                    };
                    view.failed.push(Draft {
                        finding: Finding {
                            service: self.service.to_owned(),
                            object: o.object(),
                            pod: None,
                            container: None,
                            cause,
                            message: why,
                            fix: None,
                            logs: Vec::new(),
                        },
                        logs: None,
                    });
                    view.not_ready.push((o.object(), "failed".into()));
                }
            }
        }
        view.pods = all_pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| {
                !rolling
                    || p.metadata
                        .creation_timestamp
                        .as_ref()
                        .is_none_or(|t| t.0 >= since)
            })
            .cloned()
            .collect();
        view.restarts = diagnose::restarts(view.pods.iter().map(AsRef::as_ref));
        self.related(stores, &mut view, &all_pods, since);
        view.all_pods = all_pods;
        view
    }

    /// The claims the release owns or its pods mount, and the events of
    /// all of them since `since`.
    fn related(&self, stores: &Stores, view: &mut View, all_pods: &[Arc<Pod>], since: Timestamp) {
        let mut claim_names: BTreeSet<String> = self
            .owned
            .iter()
            .filter(|o| o.kind == Kind::Claim)
            .map(|o| o.name.clone())
            .collect();
        for p in &view.pods {
            for v in p.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
                if let Some(c) = &v.persistent_volume_claim {
                    claim_names.insert(c.claim_name.clone());
                }
            }
        }
        view.claims = claim_names
            .iter()
            .filter_map(|n| by_name(&stores.claims, n))
            .collect();
        let names: BTreeSet<String> = all_pods
            .iter()
            .map(|p| p.name_any())
            .chain(claim_names)
            .chain(self.owned.iter().map(|o| o.name.clone()))
            .collect();
        let mut events: Vec<Arc<Event>> = stores
            .events
            .state()
            .into_iter()
            .filter(|e| {
                e.involved_object
                    .name
                    .as_ref()
                    .is_some_and(|n| names.contains(n))
            })
            .filter(|e| event_at(e).is_none_or(|t| t >= since))
            .collect();
        events.sort_by_key(|e| event_at(e));
        view.events = events;
    }
}

/// The finding of `draft` with the log lines it asks for.
pub(crate) async fn with_logs(client: &Client, namespace: &str, draft: Draft) -> Finding {
    let mut finding = draft.finding;
    if let Some(request) = draft.logs {
        finding.logs = logs(client, namespace, &request, request.previous).await;
        // The instance asked for may be gone already (replaced, or the
        // kubelet removed it): the other one is the next best evidence.
        if finding.logs.first().is_some_and(|l| {
            l.starts_with("(no log lines") || l.starts_with("unable to retrieve container logs")
        }) {
            let other = logs(client, namespace, &request, !request.previous).await;
            if !other
                .first()
                .is_some_and(|l| l.starts_with("(no log lines"))
            {
                finding.logs = other;
            }
        }
    }
    finding
}

/// The last 30 log lines of the request's container.
async fn logs(
    client: &Client,
    namespace: &str,
    request: &LogRequest,
    previous: bool,
) -> Vec<String> {
    let params = LogParams {
        container: Some(request.container.clone()),
        previous,
        tail_lines: Some(30),
        ..LogParams::default()
    };
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    match tokio::time::timeout(Duration::from_secs(10), pods.logs(&request.pod, &params)).await {
        Ok(Ok(text)) => text.lines().map(str::to_owned).collect(),
        Ok(Err(e)) => vec![format!("(no log lines: {e})")],
        Err(_) => vec!["(no log lines: the API server did not answer within 10s)".to_owned()],
    }
}

/// The status of one owned object (with its replicas, for workloads).
fn object_status(
    stores: &Stores,
    o: &Owned,
    pods: &[Arc<Pod>],
    until: Until,
) -> (Status, Option<Replicas>) {
    let (status, replicas) = match o.kind {
        Kind::Deployment => by_name(&stores.deployments, &o.name)
            .map(|d| match until {
                Until::Settled => (kstatus::deployment(&d), kstatus::deployment_replicas(&d)),
                Until::Serving => kstatus::deployment_serving(&d, &stores.replica_sets.state()),
            })
            .unzip(),
        Kind::StatefulSet => by_name(&stores.statefulsets, &o.name)
            .map(|s| (kstatus::statefulset(&s), kstatus::statefulset_replicas(&s)))
            .unzip(),
        Kind::DaemonSet => by_name(&stores.daemonsets, &o.name)
            .map(|d| (kstatus::daemonset(&d), kstatus::daemonset_replicas(&d)))
            .unzip(),
        Kind::Job => (
            by_name(&stores.jobs, &o.name).map(|j| kstatus::job(&j)),
            None,
        ),
        Kind::Claim => (
            by_name(&stores.claims, &o.name).map(|c| kstatus::claim(&c)),
            None,
        ),
        Kind::Service => (
            by_name(&stores.endpoints, &o.name).map(|e| kstatus::endpoints(&e)),
            None,
        ),
    };
    let mut status = status.unwrap_or_else(|| Status::InProgress("not created yet".into()));
    let settled = until == Until::Settled || o.kind != Kind::Deployment;
    if settled && status == Status::Ready && o.kind.is_workload() {
        let selector = o.pods.as_deref().map(parse_selector).unwrap_or_default();
        let old = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_some() && matches(&selector, p.labels()))
            .count();
        if old > 0 {
            status = Status::InProgress(format!("{old} old pods still terminating"));
        }
    }
    (status, replicas)
}

pub(crate) fn event_at(e: &Event) -> Option<Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

fn by_name<K>(store: &Store<K>, name: &str) -> Option<Arc<K>>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store.find(|o| o.meta().name.as_deref() == Some(name))
}

pub(crate) fn parse_selector(s: &str) -> BTreeMap<String, String> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

pub(crate) fn matches(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[derive(Default)]
struct View {
    not_ready: Vec<(String, String)>,
    failed: Vec<Draft>,
    replicas: Replicas,
    restarts: u32,
    /// Pods of the current revision, not terminating.
    pods: Vec<Arc<Pod>>,
    all_pods: Vec<Arc<Pod>>,
    claims: Vec<Arc<PersistentVolumeClaim>>,
    events: Vec<Arc<Event>>,
}

/// What was reported already, so only changes are.
#[derive(Default)]
struct Seen {
    pods: BTreeMap<String, String>,
    progress: Option<Replicas>,
}

impl Seen {
    fn report(&mut self, wait: &Wait<'_>, view: &View) {
        for pod in &view.all_pods {
            let state = diagnose::pod_state(pod);
            let name = pod.name_any();
            if self.pods.get(&name) != Some(&state) {
                wait.reporter.on_event(&Progress::Pod {
                    service: wait.service.to_owned(),
                    pod: name.clone(),
                    state: state.clone(),
                });
                self.pods.insert(name, state);
            }
        }
        if self.progress != Some(view.replicas) {
            self.progress = Some(view.replicas);
            wait.reporter.on_event(&Progress::Progress {
                service: wait.service.to_owned(),
                ready: view.replicas.ready,
                desired: view.replicas.desired,
            });
        }
    }
}
