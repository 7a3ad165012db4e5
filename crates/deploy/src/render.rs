//! `render`: everything `up` would apply, without a cluster: each service's
//! ConfigMap and Secret, then its chart through `helm template` with the
//! values `up` passes. Secret values are redacted unless asked for: the
//! config Secrets, every `Secret` a chart renders, and any secret value of
//! the stack wherever it appears.
//!
//! The image values are those of the last build (`.hoist/images/<service>`),
//! named as the registry given (`--registry` or `[registry]`) or a local
//! load would name them; a service never built renders with its chart's
//! default image.

use std::collections::BTreeMap;

use hoist_cluster::deliver::{ImageSource, RegistryTarget, Via};
use hoist_cluster::env::Environment;
use hoist_cluster::helm::Helm;
use hoist_config::{EnvInputs, Stack};
use serde::{Deserialize as _, Serialize};
use serde_json::Value as Json;

use crate::images::{self, DeliverSummary};
use crate::{Error, Result, plan, select};

/// Which objects to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RenderOnly {
    /// Configuration objects and charts.
    #[default]
    All,
    /// Only the ConfigMaps and Secrets.
    Config,
    /// Only the charts' objects.
    Charts,
}

/// What `render` is asked for.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// The services (every service when empty); exactly those.
    pub services: Vec<String>,
    /// Which objects.
    pub only: RenderOnly,
    /// Show Secret values (base64, as applied) instead of `<redacted>`.
    pub show_secrets: bool,
    /// Where variables come from besides the stack's `.env` files.
    pub env: EnvInputs,
    /// The registry images would go to (`--registry`); else `[registry]`.
    pub registry: Option<RegistryTarget>,
    /// PATH (for helm) and the registry password.
    pub environment: Option<Environment>,
}

/// One rendered object, with the service it belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedObject {
    /// The service.
    pub service: String,
    /// `config` (hoist's ConfigMap and Secret) or `chart`.
    pub source: &'static str,
    /// The object.
    pub object: Json,
}

/// Renders the selected services' objects in rollout order.
///
/// # Errors
///
/// Input errors, [`crate::Error::Cluster`] when helm is missing, and
/// [`crate::Error::Helm`] when a chart does not render.
pub async fn render(stack: &Stack, options: &RenderOptions) -> Result<Vec<RenderedObject>> {
    let levels = select::levels(stack, &options.services, true)?;
    let mapping = hoist_config::resolve(stack, &options.env)?;
    let environment = options
        .environment
        .clone()
        .unwrap_or_else(Environment::current);
    let mut objects = Vec::new();
    if options.only != RenderOnly::Charts {
        for name in levels.iter().flatten() {
            let Some(env) = mapping.services.get(name) else {
                continue;
            };
            if stack.services[name].env.declared_keys().is_empty() {
                continue;
            }
            let secret = if options.show_secrets {
                env.secret()
            } else {
                env.redacted_secret()
            };
            for object in [to_json(&env.config_map()), to_json(&secret)] {
                objects.push(RenderedObject {
                    service: name.clone(),
                    source: "config",
                    object,
                });
            }
        }
    }
    if options.only == RenderOnly::Config {
        return Ok(objects);
    }
    let registry = options
        .registry
        .clone()
        .or_else(|| crate::cluster::stack_registry(stack, &environment));
    let mut delivered = BTreeMap::new();
    for name in levels.iter().flatten() {
        if let Some(image) = last_built(stack, name, registry.as_ref()) {
            delivered.insert(name.clone(), image);
        }
    }
    let plan = plan::build(&plan::Inputs {
        stack,
        levels: &levels,
        mapping: Some(&mapping),
        images: &delivered,
        rollback: true,
        dev: false,
    })?;
    let helm = Helm::find(&environment, None, None).map_err(hoist_cluster::Error::from)?;
    let masks = if options.show_secrets {
        Vec::new()
    } else {
        plan.redact.clone()
    };
    for release in plan.releases() {
        let text = helm.template(release, &stack.namespace).await?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(document).map_err(|e| Error::Rendered {
                service: release.service.clone(),
                reason: e.to_string(),
            })?;
            if value.is_null() {
                continue;
            }
            let mut object = serde_json::to_value(&value).map_err(|e| Error::Rendered {
                service: release.service.clone(),
                reason: e.to_string(),
            })?;
            if !options.show_secrets {
                redact_secret(&mut object);
                mask(&mut object, &masks);
            }
            objects.push(RenderedObject {
                service: release.service.clone(),
                source: "chart",
                object,
            });
        }
    }
    Ok(objects)
}

fn to_json<T: Serialize>(object: &T) -> Json {
    serde_json::to_value(object).unwrap_or(Json::Null)
}

/// The image of the last build of `service`, named as delivery would name it.
fn last_built(
    stack: &Stack,
    service: &str,
    registry: Option<&RegistryTarget>,
) -> Option<DeliverSummary> {
    let out = images::out_dir(stack, service);
    let image = ImageSource {
        layout: out.join("oci"),
        archive: out.join("image.tar"),
        name: images::image_name(stack, service),
    }
    .open()
    .ok()?;
    let (reference, via, target) = match registry {
        Some(registry) => {
            let mut repository = registry.host.clone();
            if let Some(prefix) = &registry.prefix {
                repository = format!("{repository}/{prefix}");
            }
            (
                format!("{repository}/{}@{}", image.source.name, image.digest),
                Via::Registry,
                registry.host.clone(),
            )
        }
        None => (
            image.local_reference(),
            Via::DockerDaemon,
            "the local cluster".to_owned(),
        ),
    };
    Some(DeliverSummary {
        reference,
        digest: image.digest.clone(),
        bytes_sent: 0,
        skipped: true,
        via,
        target,
    })
}

/// Replaces the values of a rendered `Secret`'s `data` and `stringData`.
fn redact_secret(object: &mut Json) {
    if object.get("kind").and_then(Json::as_str) != Some("Secret") {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(Json::Object(map)) = object.get_mut(field) {
            for value in map.values_mut() {
                *value = Json::String(hoist_config::REDACTED.to_owned());
            }
        }
    }
}

/// Masks every secret value of the stack wherever it appears in a string.
fn mask(value: &mut Json, secrets: &[String]) {
    match value {
        Json::String(text) => {
            for secret in secrets {
                if text.contains(secret.as_str()) {
                    *text = text.replace(secret.as_str(), hoist_config::REDACTED);
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(|v| mask(v, secrets)),
        Json::Object(map) => map.values_mut().for_each(|v| mask(v, secrets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_secrets_and_planted_values_are_redacted() {
        let mut object = serde_json::json!({
            "kind": "Secret",
            "data": { "password": "c2VjcmV0" },
            "stringData": { "url": "postgresql://u:hunter2@db" },
        });
        redact_secret(&mut object);
        assert_eq!(object["data"]["password"], "<redacted>");
        assert_eq!(object["stringData"]["url"], "<redacted>");
        let mut config = serde_json::json!({
            "kind": "ConfigMap",
            "data": { "NOTE": "uses hunter2 here", "list": ["hunter2"] },
        });
        mask(&mut config, &["hunter2".to_owned()]);
        assert_eq!(
            config,
            serde_json::json!({
                "kind": "ConfigMap",
                "data": { "NOTE": "uses <redacted> here", "list": ["<redacted>"] },
            })
        );
    }
}
