//! A running stack looked at once, with the rollout engine's rules
//! (`hoist doctor`): the same diagnosis as a wait ends with, on the pods
//! as they are now, plus the rules that only a look at a running stack
//! needs (see `diagnose::live`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Event, Node, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::ListParams;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;

use super::diagnose::live::{self, Resources, Tier};
use super::diagnose::{self, Context, Draft};
use super::error::RolloutError;
use super::evidence::Redactor;
use super::fingerprint::{self, Recorded};
use super::kstatus::Status;
use super::manifest::{self, Kind};
use super::outcome::{Cause, Finding, Severity};
use super::plan::Target;
use super::wait::{event_at, parse_selector, with_logs};

const INSTANCE: &str = "app.kubernetes.io/instance";

/// One tier of the stack to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The service (its tier).
    pub service: String,
    /// Its Helm release.
    pub release: String,
    /// The services it depends on.
    pub depends_on: Vec<String>,
}

/// How [`super::inspect`] judges.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// Restarts after which a crash-looping container is a finding.
    pub crashloop_restarts: u32,
    /// Values masked in every finding and log line (the stack's secrets).
    pub redact: Vec<String>,
}

impl Default for InspectOptions {
    fn default() -> Self {
        Self {
            crashloop_restarts: 2,
            redact: Vec::new(),
        }
    }
}

/// What [`super::inspect`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// Every finding: per tier in the order given, then the cluster's.
    pub findings: Vec<Finding>,
    /// Per tier: Ready or why not.
    pub tiers: Vec<TierState>,
}

impl Inspection {
    /// Whether any finding is an error.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.cause.severity() == Severity::Error)
    }
}

/// A tier as it is now.
#[derive(Debug, Clone, Serialize)]
pub struct TierState {
    /// The service.
    pub service: String,
    /// Its release's current revision, `None` when not installed.
    pub revision: Option<u32>,
    /// Ready: its workloads Ready with a replica, its Services with an endpoint.
    pub ready: bool,
    /// Why not, when not.
    pub reason: Option<String>,
}

impl TierState {
    /// `Ready`, or `not Ready: <object>: <why>`.
    #[must_use]
    pub fn describe(&self) -> String {
        if self.ready {
            "Ready".to_owned()
        } else {
            format!("not Ready: {}", self.reason.as_deref().unwrap_or_default())
        }
    }
}

/// The namespace, read once.
struct Snapshot {
    pods: Vec<Arc<Pod>>,
    claims: Vec<Arc<PersistentVolumeClaim>>,
    events: Vec<Arc<Event>>,
    services: Vec<Service>,
    endpoints: Vec<Endpoints>,
    nodes: Option<Vec<Node>>,
    classes: Option<Vec<StorageClass>>,
    /// Every pod of the cluster, for the nodes' room (`None` if forbidden).
    cluster_pods: Option<Vec<Pod>>,
    workloads: BTreeMap<String, Vec<Recorded>>,
}

async fn list<K>(target: &Target, what: &str) -> Result<Vec<K>, RolloutError>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let ns = target.namespace.as_str();
    Ok(Api::<K>::namespaced(target.client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(RolloutError::kube(ns, format!("listing {what}")))?
        .items)
}

impl Snapshot {
    async fn read(target: &Target) -> Result<Self, RolloutError> {
        let client = &target.client;
        let mut events: Vec<Arc<Event>> = arcs(list::<Event>(target, "events").await?);
        events.sort_by_key(|e| event_at(e));
        Ok(Self {
            pods: arcs(list::<Pod>(target, "pods").await?),
            claims: arcs(list::<PersistentVolumeClaim>(target, "PersistentVolumeClaims").await?),
            events,
            services: list::<Service>(target, "Services").await?,
            endpoints: list::<Endpoints>(target, "Endpoints").await?,
            // Cluster-scoped: unknown when the user may not read them.
            nodes: Api::<Node>::all(client.clone())
                .list(&ListParams::default())
                .await
                .ok()
                .map(|l| l.items),
            classes: Api::<StorageClass>::all(client.clone())
                .list(&ListParams::default())
                .await
                .ok()
                .map(|l| l.items),
            cluster_pods: Api::<Pod>::all(client.clone())
                .list(&ListParams::default().fields("status.phase!=Succeeded,status.phase!=Failed"))
                .await
                .ok()
                .map(|l| l.items),
            workloads: fingerprint::read(client, &target.namespace).await?,
        })
    }

    fn pods_of(&self, release: &str) -> Vec<Arc<Pod>> {
        self.pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| p.labels().get(INSTANCE).map(String::as_str) == Some(release))
            .cloned()
            .collect()
    }

    /// The claims the release labels or its pods mount.
    fn claims_of(&self, release: &str, pods: &[Arc<Pod>]) -> Vec<Arc<PersistentVolumeClaim>> {
        let mounted: BTreeSet<&str> = pods
            .iter()
            .flat_map(|p| p.spec.iter().flat_map(|s| s.volumes.iter().flatten()))
            .filter_map(|v| v.persistent_volume_claim.as_ref())
            .map(|c| c.claim_name.as_str())
            .collect();
        self.claims
            .iter()
            .filter(|c| {
                c.labels().get(INSTANCE).map(String::as_str) == Some(release)
                    || mounted.contains(c.name_any().as_str())
            })
            .cloned()
            .collect()
    }

    fn events_about(&self, names: &BTreeSet<String>) -> Vec<Arc<Event>> {
        self.events
            .iter()
            .filter(|e| {
                e.involved_object
                    .name
                    .as_ref()
                    .is_some_and(|n| names.contains(n))
            })
            .cloned()
            .collect()
    }
}

fn arcs<K>(v: Vec<K>) -> Vec<Arc<K>> {
    v.into_iter().map(Arc::new).collect()
}

/// Looks at `subjects` in the target's namespace.
pub(crate) async fn inspect(
    target: &Target,
    subjects: &[Subject],
    options: &InspectOptions,
) -> Result<Inspection, RolloutError> {
    let ns = target.namespace.as_str();
    let snapshot = Snapshot::read(target).await?;
    let mut drafts: Vec<Draft> = Vec::new();
    let mut tiers = Vec::new();
    let mut states = Vec::new();
    let mut stack = Resources::default();
    for subject in subjects {
        let release = subject.release.as_str();
        let current = target.helm.status(release, ns).await?;
        let workloads = snapshot
            .workloads
            .get(release)
            .map_or(&[][..], Vec::as_slice);
        let pods = snapshot.pods_of(release);
        stack = pods
            .iter()
            .map(|p| live::pod_requests(p))
            .fold(stack, |a, b| a + b);
        let mut without_endpoints = Vec::new();
        if let Some(current) = &current {
            let tier = TierInput {
                subject,
                revision: current.revision,
                workloads,
                pods: &pods,
            };
            let found =
                tier_findings(target, &snapshot, &tier, options, &mut without_endpoints).await?;
            drafts.extend(found);
        } else {
            drafts.push(plain(live::finding(
                &subject.service,
                format!("release/{release}"),
                Cause::Other,
                format!("{} is not installed: no release {release} in namespace {ns}", subject.service),
                Some("`hoist up` installs it (check `--namespace` or the profile if it should be there)".to_owned()),
            )));
        }
        let not_ready = live::tier_state(workloads, &without_endpoints, current.is_some());
        states.push(TierState {
            service: subject.service.clone(),
            revision: current.as_ref().map(|r| r.revision),
            ready: not_ready.is_none(),
            reason: not_ready.as_ref().map(|(o, why)| format!("{o}: {why}")),
        });
        tiers.push(Tier {
            service: subject.service.clone(),
            depends_on: subject.depends_on.clone(),
            not_ready,
        });
    }
    drafts.extend(live::dependencies(&tiers).into_iter().map(plain));
    if let Some(nodes) = &snapshot.nodes {
        drafts.extend(nodes.iter().flat_map(live::node_conditions).map(plain));
        if let Some(all) = &snapshot.cluster_pods {
            let others = all
                .iter()
                .filter(|p| p.namespace().as_deref() != Some(ns))
                .filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name.is_some()))
                .map(live::pod_requests)
                .fold(Resources::default(), |a, b| a + b);
            drafts.extend(live::capacity(stack, others, nodes).map(plain));
        }
    }
    let redactor = Redactor::new(&options.redact);
    let mut findings = Vec::new();
    for draft in drafts {
        findings.push(redactor.finding(with_logs(&target.client, ns, draft).await));
    }
    Ok(Inspection {
        findings,
        tiers: states,
    })
}

fn plain(finding: Finding) -> Draft {
    Draft {
        finding,
        logs: None,
    }
}

/// One finding per object, container and cause: the first one made.
fn dedup(drafts: &mut Vec<Draft>) {
    let mut seen = BTreeSet::new();
    drafts.retain(|d| {
        let f = &d.finding;
        seen.insert((
            f.object.clone(),
            f.container.clone(),
            format!("{:?}", f.cause),
        ))
    });
}

/// The Helm releases that own workloads in the target's namespace.
pub(crate) async fn releases(target: &Target) -> Result<Vec<String>, RolloutError> {
    Ok(fingerprint::read(&target.client, &target.namespace)
        .await?
        .into_keys()
        .collect())
}

/// One installed tier, for [`tier_findings`].
struct TierInput<'a> {
    subject: &'a Subject,
    revision: u32,
    workloads: &'a [Recorded],
    pods: &'a [Arc<Pod>],
}

/// The rollout engine's rules on the tier's pods and claims, then its
/// workloads' progress and drift and its Services' endpoints.
async fn tier_findings(
    target: &Target,
    snapshot: &Snapshot,
    tier: &TierInput<'_>,
    options: &InspectOptions,
    without_endpoints: &mut Vec<String>,
) -> Result<Vec<Draft>, RolloutError> {
    let ns = target.namespace.as_str();
    let (subject, workloads, pods) = (tier.subject, tier.workloads, tier.pods);
    let release = subject.release.as_str();
    let revision = Some(tier.revision);
    let text = target.helm.manifest(release, ns, None).await?;
    let owned = manifest::owned(&text).unwrap_or_default();
    let templates = manifest::templates(&text).unwrap_or_default();
    let claims = snapshot.claims_of(release, pods);
    let mut names: BTreeSet<String> = pods.iter().map(|p| p.name_any()).collect();
    names.extend(claims.iter().map(|c| c.name_any()));
    names.extend(owned.iter().map(|o| o.name.clone()));
    let events = snapshot.events_about(&names);
    let ctx = Context {
        service: &subject.service,
        image: None,
        crashloop_restarts: options.crashloop_restarts,
        pods,
        claims: &claims,
        events: &events,
        nodes: snapshot.nodes.as_deref(),
        classes: snapshot.classes.as_deref(),
    };
    // Terminal states first: their findings are the more precise
    // ones where both name the same thing (a pending claim).
    let mut found = diagnose::terminal(&ctx);
    found.extend(diagnose::at_deadline(&ctx));
    // The manifests of the revisions hoist recorded, where the
    // release has moved on from them.
    let mut recorded_templates = BTreeMap::new();
    for r in workloads.iter().filter_map(|w| w.revision) {
        if Some(r) != revision && !recorded_templates.contains_key(&r) {
            let text = target.helm.manifest(release, ns, Some(r)).await.ok();
            let parsed = text.and_then(|t| manifest::templates(&t).ok());
            recorded_templates.insert(r, parsed.unwrap_or_default());
        }
    }
    for w in workloads {
        if let Status::Failed(why) = &w.status {
            found.push(plain(live::finding(
                &subject.service,
                w.object.clone(),
                Cause::ProgressDeadline,
                why.clone(),
                Some("see the findings about its pods".to_owned()),
            )));
        }
        let deployed = templates.iter().find(|t| t.object == w.object);
        let then = w
            .revision
            .and_then(|r| recorded_templates.get(&r))
            .and_then(|ts| ts.iter().find(|t| t.object == w.object));
        if let Some(f) = live::drift(&subject.service, w, deployed, revision, then) {
            found.push(plain(f));
        }
    }
    for o in owned
        .iter()
        .filter(|o| o.kind == Kind::Service && o.pods.is_some())
    {
        let Some(svc) = snapshot.services.iter().find(|s| s.name_any() == o.name) else {
            continue;
        };
        let endpoints = snapshot.endpoints.iter().find(|e| e.name_any() == o.name);
        let selector = o.pods.as_deref().map(parse_selector).unwrap_or_default();
        let matching: Vec<Arc<Pod>> = snapshot
            .pods
            .iter()
            .filter(|p| super::wait::matches(&selector, p.labels()))
            .cloned()
            .collect();
        if let Some(f) = live::no_endpoints(&subject.service, svc, endpoints, &matching) {
            without_endpoints.push(f.object.clone());
            found.push(plain(f));
        }
    }
    dedup(&mut found);
    Ok(found)
}
