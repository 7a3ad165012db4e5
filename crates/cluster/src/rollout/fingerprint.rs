//! "Nothing changed, nothing done": per service a fingerprint of the
//! chart's files, the values files, the values hoist sets (image digest,
//! config names and hash included) and the image digest.
//!
//! Where it is recorded: after a service became Ready, hoist writes the
//! labels `hoist.dev/fingerprint` (the first 40 hex digits of the SHA-256),
//! `hoist.dev/fingerprint-generation` (the workload's `metadata.generation`
//! then) and `hoist.dev/revision` on each workload (Deployment, StatefulSet,
//! DaemonSet) of the release, by a merge patch with field manager `hoist`.
//! Labels, because on Kubernetes 1.20 any annotation change bumps a
//! Deployment's generation. Helm's three-way merge keeps labels it did not
//! set. A later pass lists the
//! namespace's workloads (one list per kind for the whole plan) and skips a
//! service when each of its workloads carries the same fingerprint at the
//! same `metadata.generation` (so a `helm rollback` or `kubectl edit` in
//! between, which changes the spec, is noticed) and is Ready. A release
//! with no workload is never skipped.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use sha2::{Digest, Sha256};

use super::error::RolloutError;
use super::kstatus::{self, Replicas, Status};
use super::manifest::{Kind, Owned};
use super::plan::ReleasePlan;

/// The labels: the fingerprint, the generation it was recorded at, the
/// release revision. Labels, not annotations: on Kubernetes 1.20 an
/// annotation change bumps a Deployment's generation, a label change does not.
const FINGERPRINT: &str = "hoist.dev/fingerprint";
const GENERATION: &str = "hoist.dev/fingerprint-generation";
const REVISION: &str = "hoist.dev/revision";
const RELEASE_ANNOTATION: &str = "meta.helm.sh/release-name";
/// The pod template annotation the charts set from `configHash`.
const CONFIG_HASH: &str = "hoist.dev/config-hash";

/// The fingerprint of `release`.
pub(crate) fn compute(release: &ReleasePlan) -> Result<String, RolloutError> {
    let read_error = |path: &Path| {
        let (service, path) = (release.service.clone(), path.to_path_buf());
        move |source| RolloutError::Read {
            service,
            path,
            source,
        }
    };
    let mut h = Sha256::new();
    let mut field = |tag: &str, bytes: &[u8]| {
        h.update(tag.as_bytes());
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    let mut files = Vec::new();
    collect(&release.chart, &release.chart, &mut files).map_err(read_error(&release.chart))?;
    files.sort();
    for rel in files {
        let path = release.chart.join(&rel);
        let bytes = std::fs::read(&path).map_err(read_error(&path))?;
        field("chart-file", rel.as_bytes());
        field("content", &bytes);
    }
    for values in &release.values_files {
        let bytes = std::fs::read(values).map_err(read_error(values))?;
        field("values-file", &bytes);
    }
    for (k, v) in release.helm_values() {
        field("set", format!("{k}={v}").as_bytes());
    }
    if let Some(image) = &release.image {
        field("image", image.reference.as_bytes());
        field("digest", image.digest.as_bytes());
    }
    if let Some(config) = &release.config {
        field("config-hash", config.hash.as_bytes());
    }
    // 160 bits: a label value holds at most 63 characters.
    Ok(hex::encode(h.finalize())[..40].to_owned())
}

/// Relative paths of every file under `dir` (or `""` for a packaged chart).
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    if dir.is_file() {
        out.push(String::new());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            out.push(
                path.strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    Ok(())
}

/// A workload as the last pass left it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) fingerprint: Option<String>,
    pub(crate) generation: i64,
    pub(crate) at_generation: Option<i64>,
    pub(crate) revision: Option<u32>,
    pub(crate) ready: bool,
    pub(crate) replicas: Replicas,
    pub(crate) config_hash: Option<String>,
    pub(crate) created: Option<k8s_openapi::jiff::Timestamp>,
    /// `Kind/name`.
    pub(crate) object: String,
    /// Its pod template's images, by container (init containers too).
    pub(crate) images: BTreeMap<String, String>,
    /// Its status in words when not Ready, or `Failed` with the reason.
    pub(crate) status: Status,
}

/// Every release's workloads in `namespace`: one list per workload kind.
pub(crate) async fn read(
    client: &kube::Client,
    namespace: &str,
) -> Result<BTreeMap<String, Vec<Recorded>>, RolloutError> {
    let mut out: BTreeMap<String, Vec<Recorded>> = BTreeMap::new();
    read_kind::<Deployment>(
        client,
        namespace,
        &mut out,
        kstatus::deployment,
        kstatus::deployment_replicas,
        |d| d.spec.as_ref().map(|s| &s.template),
    )
    .await?;
    read_kind::<StatefulSet>(
        client,
        namespace,
        &mut out,
        kstatus::statefulset,
        kstatus::statefulset_replicas,
        |s| s.spec.as_ref().map(|s| &s.template),
    )
    .await?;
    read_kind::<DaemonSet>(
        client,
        namespace,
        &mut out,
        kstatus::daemonset,
        kstatus::daemonset_replicas,
        |d| d.spec.as_ref().map(|s| &s.template),
    )
    .await?;
    Ok(out)
}

/// Lists the workloads of kind `K` into `out`, by release.
async fn read_kind<K>(
    client: &kube::Client,
    namespace: &str,
    out: &mut BTreeMap<String, Vec<Recorded>>,
    status: fn(&K) -> Status,
    replicas: fn(&K) -> Replicas,
    template: fn(&K) -> Option<&PodTemplateSpec>,
) -> Result<(), RolloutError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let list = Api::<K>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map_err(RolloutError::kube(namespace, format!("listing {kind}s")))?;
    for o in list.items {
        let template = template(&o);
        let hash = template
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(CONFIG_HASH).cloned());
        let images = template
            .and_then(|t| t.spec.as_ref())
            .map(|s| {
                s.init_containers
                    .iter()
                    .flatten()
                    .chain(&s.containers)
                    .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        push(
            out,
            &o,
            status(&o),
            replicas(&o),
            hash,
            (format!("{kind}/{}", o.name_any()), images),
        );
    }
    Ok(())
}

fn push<K: ResourceExt>(
    out: &mut BTreeMap<String, Vec<Recorded>>,
    o: &K,
    status: Status,
    replicas: Replicas,
    config_hash: Option<String>,
    (object, images): (String, BTreeMap<String, String>),
) {
    let Some(release) = o.annotations().get(RELEASE_ANNOTATION) else {
        return;
    };
    let labels = o.labels();
    out.entry(release.clone()).or_default().push(Recorded {
        fingerprint: labels.get(FINGERPRINT).cloned(),
        generation: o.meta().generation.unwrap_or(0),
        at_generation: labels.get(GENERATION).and_then(|g| g.parse().ok()),
        revision: labels.get(REVISION).and_then(|r| r.parse().ok()),
        ready: status == Status::Ready,
        replicas,
        config_hash: config_hash.filter(|h| !h.is_empty()),
        created: o.meta().creation_timestamp.as_ref().map(|t| t.0),
        object,
        images,
        status,
    });
}

/// Whether `workloads` show `fingerprint`, unchanged since, and are Ready.
pub(crate) fn unchanged(workloads: &[Recorded], fingerprint: &str) -> bool {
    !workloads.is_empty()
        && workloads.iter().all(|w| {
            w.ready
                && w.fingerprint.as_deref() == Some(fingerprint)
                && w.at_generation == Some(w.generation)
        })
}

/// Writes `fingerprint` on the release's workloads.
pub(crate) async fn record(
    client: &kube::Client,
    namespace: &str,
    owned: &[Owned],
    fingerprint: &str,
    revision: Option<u32>,
) -> Result<(), RolloutError> {
    for o in owned.iter().filter(|o| o.kind.is_workload()) {
        let result = match o.kind {
            Kind::Deployment => {
                annotate::<Deployment>(client, namespace, &o.name, fingerprint, revision).await
            }
            Kind::StatefulSet => {
                annotate::<StatefulSet>(client, namespace, &o.name, fingerprint, revision).await
            }
            _ => annotate::<DaemonSet>(client, namespace, &o.name, fingerprint, revision).await,
        };
        result.map_err(|source| RolloutError::Kube {
            action: format!("recording the fingerprint on {}", o.object()),
            namespace: namespace.to_owned(),
            source,
        })?;
    }
    Ok(())
}

async fn annotate<K>(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    fingerprint: &str,
    revision: Option<u32>,
) -> Result<(), kube::Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let generation = api.get(name).await?.meta().generation.unwrap_or(0);
    let mut labels = serde_json::Map::new();
    labels.insert(FINGERPRINT.to_owned(), fingerprint.into());
    labels.insert(GENERATION.to_owned(), generation.to_string().into());
    if let Some(r) = revision {
        labels.insert(REVISION.to_owned(), r.to_string().into());
    }
    let patch = serde_json::json!({"metadata": {"labels": labels}});
    let params = PatchParams {
        field_manager: Some("hoist".to_owned()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(fp: &str, generation: i64, recorded: i64, ready: bool) -> Recorded {
        Recorded {
            fingerprint: Some(fp.into()),
            generation,
            at_generation: Some(recorded),
            revision: Some(1),
            ready,
            replicas: Replicas::default(),
            config_hash: None,
            created: None,
            object: "Deployment/web".into(),
            images: BTreeMap::new(),
            status: if ready {
                Status::Ready
            } else {
                Status::InProgress("0/1 ready".into())
            },
        }
    }

    #[test]
    fn skipped_only_when_same_fingerprint_same_generation_and_ready() {
        assert!(unchanged(&[recorded("a", 2, 2, true)], "a"));
        assert!(
            !unchanged(&[recorded("a", 2, 2, true)], "b"),
            "changed plan"
        );
        assert!(
            !unchanged(&[recorded("a", 3, 2, true)], "a"),
            "spec changed since (helm rollback, kubectl edit)"
        );
        assert!(!unchanged(&[recorded("a", 2, 2, false)], "a"), "not Ready");
        assert!(!unchanged(&[], "a"), "no workload");
    }
}
