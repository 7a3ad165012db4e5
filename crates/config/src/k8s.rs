//! Each service's `ConfigMap` and Secret as Kubernetes objects (feature
//! `k8s`); their names, labels and hash are in `identity`.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::classify::Target;
use crate::identity::CONFIG_HASH_ANNOTATION;
use crate::mapping::ServiceEnv;
use crate::secret::REDACTED;

impl ServiceEnv {
    fn meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels()),
            annotations: Some(BTreeMap::from([(
                CONFIG_HASH_ANNOTATION.to_owned(),
                self.config_hash(),
            )])),
            ..ObjectMeta::default()
        }
    }

    /// The `ConfigMap` with the plain variables. It exists (maybe empty) for
    /// every service, so charts can reference it unconditionally.
    #[must_use]
    pub fn config_map(&self) -> ConfigMap {
        ConfigMap {
            metadata: self.meta(self.config_map_name()),
            data: Some(self.data(Target::ConfigMap)),
            // Content-named: a change is a new object, never an edit.
            immutable: Some(true),
            ..ConfigMap::default()
        }
    }

    /// The Secret with the secret variables, values included: for applying
    /// to a cluster, never for printing (see [`ServiceEnv::redacted_secret`]).
    #[must_use]
    pub fn secret(&self) -> Secret {
        Secret {
            metadata: self.meta(self.secret_name()),
            type_: Some("Opaque".to_owned()),
            data: Some(
                self.data(Target::Secret)
                    .into_iter()
                    .map(|(k, v)| (k, ByteString(v.into_bytes())))
                    .collect(),
            ),
            immutable: Some(true),
            ..Secret::default()
        }
    }

    /// The Secret for showing: every value replaced by `<redacted>` in
    /// `stringData`, so the redaction reads as one.
    #[must_use]
    pub fn redacted_secret(&self) -> Secret {
        let mut secret = self.secret();
        let keys = secret.data.take().unwrap_or_default().into_keys();
        secret.string_data = Some(keys.map(|k| (k, REDACTED.to_owned())).collect());
        secret
    }
}
