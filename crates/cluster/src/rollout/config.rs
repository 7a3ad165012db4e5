//! The configuration objects hoist applies itself before a release: the
//! namespace when missing, each service's content-named immutable ConfigMap
//! and Secret by server-side apply (field manager `hoist`), and pruning of
//! old ones that no stored revision of the release references.

use std::collections::BTreeSet;
use std::io::Read;

use base64::Engine;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};

use super::error::RolloutError;
use super::plan::ConfigObjects;

/// How many of a service's newest configuration objects are kept anyway.
const KEEP: usize = 3;

/// Creates `namespace` unless it exists (as `helm --create-namespace`).
pub(crate) async fn ensure_namespace(
    client: &kube::Client,
    namespace: &str,
) -> Result<(), RolloutError> {
    let api: Api<Namespace> = Api::all(client.clone());
    if api
        .get_opt(namespace)
        .await
        .map_err(RolloutError::kube(namespace, "reading the namespace"))?
        .is_some()
    {
        return Ok(());
    }
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    api.patch(namespace, &PatchParams::apply("hoist"), &Patch::Apply(&ns))
        .await
        .map_err(RolloutError::kube(namespace, "creating the namespace"))?;
    Ok(())
}

/// Applies the ConfigMap and the Secret into `namespace`.
pub(crate) async fn apply(
    client: &kube::Client,
    namespace: &str,
    objects: &ConfigObjects,
) -> Result<(), RolloutError> {
    let params = PatchParams::apply("hoist").force();
    // Content-named and immutable: one that exists holds this content, and
    // applying it again would be refused (`data: {}` against a stored null).
    let mut cm = objects.config_map.clone();
    cm.metadata.namespace = Some(namespace.to_owned());
    let name = cm.name_any();
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": cm.metadata, "data": cm.data, "immutable": cm.immutable});
    let api = Api::<ConfigMap>::namespaced(client.clone(), namespace);
    let exists = api
        .get_metadata_opt(&name)
        .await
        .map_err(RolloutError::kube(
            namespace,
            format!("reading ConfigMap {name}"),
        ))?;
    if exists.is_none() {
        api.patch(&name, &params, &Patch::Apply(&cm))
            .await
            .map_err(RolloutError::kube(
                namespace,
                format!("applying ConfigMap {name}"),
            ))?;
    }
    let mut secret = objects.secret.clone();
    secret.metadata.namespace = Some(namespace.to_owned());
    let name = secret.name_any();
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": secret.metadata, "type": secret.type_, "data": secret.data, "immutable": secret.immutable});
    let api = Api::<Secret>::namespaced(client.clone(), namespace);
    // Only whether it exists: metadata, so its values are not even read.
    let exists = api
        .get_metadata_opt(&name)
        .await
        .map_err(RolloutError::kube(
            namespace,
            format!("reading Secret {name}"),
        ))?;
    if exists.is_none() {
        api.patch(&name, &params, &Patch::Apply(&secret))
            .await
            .map_err(RolloutError::kube(
                namespace,
                format!("applying Secret {name}"),
            ))?;
    }
    Ok(())
}

/// The text of every revision helm keeps of `release` (its storage
/// Secrets `sh.helm.release.v1.<release>.v<n>`: base64 of gzip of JSON).
async fn stored_revisions(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> Result<Vec<String>, RolloutError> {
    let lp = ListParams::default().labels(&format!("owner=helm,name={release}"));
    let list = Api::<Secret>::namespaced(client.clone(), namespace)
        .list(&lp)
        .await
        .map_err(RolloutError::kube(
            namespace,
            format!("listing the stored revisions of release {release}"),
        ))?;
    let mut out = Vec::new();
    for secret in list.items {
        let Some(data) = secret.data.as_ref().and_then(|d| d.get("release")) else {
            continue;
        };
        let Ok(gz) = base64::engine::general_purpose::STANDARD.decode(&data.0) else {
            continue;
        };
        let mut text = String::new();
        if flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_string(&mut text)
            .is_ok()
        {
            out.push(text);
        }
    }
    Ok(out)
}

/// Deletes the service's older configuration objects: kept are the
/// current ones, those any stored revision of `release` names (so `helm
/// rollback` finds them), and the newest few.
pub(crate) async fn prune(
    client: &kube::Client,
    namespace: &str,
    release: &str,
    objects: &ConfigObjects,
) -> Result<Vec<String>, RolloutError> {
    let Some(selector) = objects.selector() else {
        return Ok(Vec::new());
    };
    let revisions = stored_revisions(client, namespace, release).await?;
    let current: BTreeSet<String> = [objects.config_map_name(), objects.secret_name()].into();
    let pick = |objects: Vec<(String, Created)>| unused(objects.into_iter(), &current, &revisions);
    let mut deleted = delete_matching::<ConfigMap>(client, namespace, &selector, pick).await?;
    deleted.extend(delete_matching::<Secret>(client, namespace, &selector, pick).await?);
    Ok(deleted)
}

/// Deletes the objects of kind `K` labelled `selector` that `pick` chooses
/// from their names and creation times; their `Kind/name`.
pub(crate) async fn delete_matching<K>(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
    pick: impl FnOnce(Vec<(String, Created)>) -> Vec<String>,
) -> Result<Vec<String>, RolloutError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let api = Api::<K>::namespaced(client.clone(), namespace);
    let list = api
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(RolloutError::kube(
            namespace,
            format!("listing {kind}s {selector}"),
        ))?;
    let objects = list
        .items
        .iter()
        .map(|o| (o.name_any(), o.creation_timestamp()))
        .collect();
    let mut deleted = Vec::new();
    for name in pick(objects) {
        api.delete(&name, &DeleteParams::default())
            .await
            .map_err(RolloutError::kube(
                namespace,
                format!("deleting {kind} {name}"),
            ))?;
        deleted.push(format!("{kind}/{name}"));
    }
    Ok(deleted)
}

pub(crate) type Created = Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>;

fn unused(
    objects: impl Iterator<Item = (String, Created)>,
    current: &BTreeSet<String>,
    revisions: &[String],
) -> Vec<String> {
    let mut objects: Vec<_> = objects.collect();
    objects.sort_by(|a, b| b.1.as_ref().map(|t| t.0).cmp(&a.1.as_ref().map(|t| t.0)));
    objects
        .into_iter()
        .skip(KEEP)
        .map(|(name, _)| name)
        .filter(|name| {
            !current.contains(name) && !revisions.iter().any(|r| r.contains(&format!("\"{name}\"")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn old_objects_go_unless_current_newest_or_referenced() {
        let at = |s: i64| Some(Time(Timestamp::from_second(s).unwrap()));
        let objects = (1..=6).map(|i| (format!("app-config-{i}"), at(i)));
        let current = BTreeSet::from(["app-config-1".to_owned()]);
        let revisions =
            vec![r#"{"config":{"config":{"existingConfigMap":"app-config-2"}}}"#.to_owned()];
        assert_eq!(
            unused(objects, &current, &revisions),
            vec!["app-config-3".to_owned()]
        );
    }
}
