//! The objects a release owns, read from `helm get manifest`: what the
//! readiness wait watches.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The kinds whose readiness hoist computes; every other kind is ready
/// once helm created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    Claim,
    Service,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::Job => "Job",
            Self::Claim => "PersistentVolumeClaim",
            Self::Service => "Service",
        }
    }

    pub(crate) fn is_workload(self) -> bool {
        matches!(self, Self::Deployment | Self::StatefulSet | Self::DaemonSet)
    }
}

/// One object of the release that readiness depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owned {
    pub(crate) kind: Kind,
    pub(crate) name: String,
    /// The label selector of its pods (workloads, Jobs) or endpoints
    /// (Services with a selector), as `k=v,k=v`.
    pub(crate) pods: Option<String>,
}

impl Owned {
    pub(crate) fn object(&self) -> String {
        format!("{}/{}", self.kind.name(), self.name)
    }
}

#[derive(Deserialize)]
struct Doc {
    kind: Option<String>,
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    spec: serde_yaml::Value,
}

#[derive(Deserialize, Default)]
struct Meta {
    name: Option<String>,
}

/// The documents of `manifest` with a kind and a name: kind, name, document.
fn documents(manifest: &str) -> Result<Vec<(String, String, Doc)>, serde_yaml::Error> {
    let mut out = Vec::new();
    for document in serde_yaml::Deserializer::from_str(manifest) {
        let value = serde_yaml::Value::deserialize(document)?;
        if value.is_null() {
            continue;
        }
        let mut doc: Doc = serde_yaml::from_value(value)?;
        if let (Some(kind), Some(name)) = (doc.kind.take(), doc.metadata.name.take()) {
            out.push((kind, name, doc));
        }
    }
    Ok(out)
}

/// The objects of `manifest` that readiness depends on, in manifest order.
/// Hooks are not in `helm get manifest`, so none is here.
///
/// # Errors
///
/// The YAML error of a document that is not an object.
pub(crate) fn owned(manifest: &str) -> Result<Vec<Owned>, serde_yaml::Error> {
    let mut out = Vec::new();
    for (kind, name, doc) in documents(manifest)? {
        let kind = match kind.as_str() {
            "Deployment" => Kind::Deployment,
            "StatefulSet" => Kind::StatefulSet,
            "DaemonSet" => Kind::DaemonSet,
            "Job" => Kind::Job,
            "PersistentVolumeClaim" => Kind::Claim,
            "Service" => Kind::Service,
            _ => continue,
        };
        let pods = match kind {
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet => {
                labels(&doc.spec["selector"]["matchLabels"])
            }
            Kind::Job => Some(format!("job-name={name}")),
            Kind::Service => {
                if doc.spec["type"].as_str() == Some("ExternalName") {
                    continue;
                }
                labels(&doc.spec["selector"])
            }
            Kind::Claim => None,
        };
        if kind == Kind::Service && pods.is_none() {
            // No selector: its endpoints are someone else's business.
            continue;
        }
        out.push(Owned { kind, name, pods });
    }
    Ok(out)
}

fn labels(map: &serde_yaml::Value) -> Option<String> {
    let map: BTreeMap<String, String> = serde_yaml::from_value(map.clone()).ok()?;
    (!map.is_empty()).then(|| {
        map.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// A workload's pod template as helm rendered it: what hoist deployed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Template {
    /// `Kind/name`.
    pub(crate) object: String,
    /// Images by container (init containers too).
    pub(crate) images: BTreeMap<String, String>,
    /// The template's `hoist.dev/config-hash` annotation.
    pub(crate) config_hash: Option<String>,
}

/// The pod templates of the workloads in `manifest`.
///
/// # Errors
///
/// The YAML error of a document that is not an object.
pub(crate) fn templates(manifest: &str) -> Result<Vec<Template>, serde_yaml::Error> {
    let mut out = Vec::new();
    for (kind, name, doc) in documents(manifest)? {
        if !matches!(kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet") {
            continue;
        }
        let template = &doc.spec["template"];
        let mut images = BTreeMap::new();
        for list in ["initContainers", "containers"] {
            for c in template["spec"][list].as_sequence().into_iter().flatten() {
                if let (Some(n), Some(i)) = (c["name"].as_str(), c["image"].as_str()) {
                    images.insert(n.to_owned(), i.to_owned());
                }
            }
        }
        out.push(Template {
            object: format!("{kind}/{name}"),
            images,
            config_hash: template["metadata"]["annotations"]["hoist.dev/config-hash"]
                .as_str()
                .filter(|h| !h.is_empty())
                .map(str::to_owned),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_claims_and_selected_services_are_watched() {
        let manifest = r"---
# Source: x/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: web
      app.kubernetes.io/instance: demo
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app.kubernetes.io/name: web
---
apiVersion: v1
kind: Service
metadata:
  name: external
spec:
  type: ExternalName
  externalName: example.invalid
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
---
";
        assert_eq!(
            templates(manifest).unwrap(),
            vec![Template {
                object: "Deployment/web".into(),
                ..Template::default()
            }]
        );
        let owned = owned(manifest).unwrap();
        assert_eq!(
            owned,
            vec![
                Owned {
                    kind: Kind::Deployment,
                    name: "web".into(),
                    pods: Some("app.kubernetes.io/instance=demo,app.kubernetes.io/name=web".into()),
                },
                Owned {
                    kind: Kind::Service,
                    name: "web".into(),
                    pods: Some("app.kubernetes.io/name=web".into()),
                },
                Owned {
                    kind: Kind::Claim,
                    name: "data".into(),
                    pods: None,
                },
            ]
        );
    }
}
