//! How each service's configuration is named and versioned, without
//! Kubernetes types: object names, labels, the content hash that rolls its
//! pods; and the same variables as a Docker environment list. The objects
//! themselves are in `k8s` (feature `k8s`).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::classify::Target;
use crate::mapping::ServiceEnv;

/// SHA-256 (hex) over named sections of sorted data.
fn hash_data(sections: &[(&str, BTreeMap<String, String>)]) -> String {
    let mut hasher = Sha256::new();
    for (section, data) in sections {
        hasher.update(section.as_bytes());
        hasher.update([0]);
        for (key, value) in data {
            // Lengths first, so no two different maps hash the same bytes.
            hasher.update((key.len() as u64).to_be_bytes());
            hasher.update(key.as_bytes());
            hasher.update((value.len() as u64).to_be_bytes());
            hasher.update(value.as_bytes());
        }
    }
    hex::encode(hasher.finalize())
}

/// The pod template annotation whose change rolls the pods when the
/// configuration changes, without an image rebuild.
pub const CONFIG_HASH_ANNOTATION: &str = "hoist.dev/config-hash";

impl ServiceEnv {
    /// `<project>-<service>-config-<hash10>`: named by the first ten hex
    /// digits of the SHA-256 over its data, as kustomize's generators name
    /// theirs, so a change makes a new (immutable) object and a rollback
    /// finds the old one.
    #[must_use]
    pub fn config_map_name(&self) -> String {
        let hash = hash_data(&[("configmap", self.data(Target::ConfigMap))]);
        format!("{}-{}-config-{}", self.project, self.service, &hash[..10])
    }

    /// `<project>-<service>-secret-<hash10>`, as [`ServiceEnv::config_map_name`]
    /// over the Secret's data.
    #[must_use]
    pub fn secret_name(&self) -> String {
        let hash = hash_data(&[("secret", self.data(Target::Secret))]);
        format!("{}-{}-secret-{}", self.project, self.service, &hash[..10])
    }

    /// The label selector of every configuration object hoist made for the
    /// service, all revisions: `app.kubernetes.io/name=<service>,...`.
    #[must_use]
    pub fn selector(&self) -> String {
        self.labels()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The `app.kubernetes.io` labels of the service's objects: `name` is
    /// the service, `instance` and `part-of` the project, `component`
    /// `configuration`, `managed-by` hoist.
    #[must_use]
    pub fn labels(&self) -> BTreeMap<String, String> {
        [
            ("app.kubernetes.io/name", self.service.as_str()),
            ("app.kubernetes.io/instance", self.project.as_str()),
            ("app.kubernetes.io/component", "configuration"),
            ("app.kubernetes.io/part-of", self.project.as_str()),
            ("app.kubernetes.io/managed-by", "hoist"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// The variables that go to `target`, by name, values exposed.
    pub(crate) fn data(&self, target: Target) -> BTreeMap<String, String> {
        self.vars
            .iter()
            .filter(|var| var.target == target)
            .map(|var| (var.key.clone(), var.value.expose().to_owned()))
            .collect()
    }

    /// The SHA-256 (hex) over the sorted data of the `ConfigMap` and the
    /// Secret, for [`CONFIG_HASH_ANNOTATION`] on the pod template.
    #[must_use]
    pub fn config_hash(&self) -> String {
        hash_data(&[
            ("configmap", self.data(Target::ConfigMap)),
            ("secret", self.data(Target::Secret)),
        ])
    }

    /// The variables as `KEY=value` for a container on Docker, secrets
    /// included: pass it to the engine, never print it.
    #[must_use]
    pub fn docker_env(&self) -> Vec<String> {
        self.vars
            .iter()
            .map(|var| format!("{}={}", var.key, var.value.expose()))
            .collect()
    }
}
