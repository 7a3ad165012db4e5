//! The rollout plan: one Helm release per service, `<project>-<service>`,
//! with the values hoist sets.
//!
//! Values hoist passes, per release:
//! - `fullnameOverride=<project>-<service>`, so object names are the
//!   release's (`BACKEND_URL=http://todo-chatbot-backend:8000` works);
//! - the delivered image ([`crate::images::image_values`]);
//! - under `hoist dev`, the chart's `dev_values` after its `values` (and
//!   the rollout waits [`Until::Serving`], not until old pods are gone);
//! - the stack's `chart.set`, written to `.hoist/values/<service>.yaml` and
//!   passed as the last values file, so booleans and numbers keep their
//!   type (helm's `--set-string` would make `false` a truthy string);
//! - the ConfigMap and Secret names and their hash (the engine adds them).

use std::collections::BTreeMap;
use std::path::PathBuf;

use hoist_cluster::rollout::{self, ConfigObjects, ImageRef, Plan, ReleasePlan, Until};
use hoist_config::{Mapping, Stack, Value};

use crate::images::{DeliverSummary, image_values};
use crate::{Error, Result};

/// The Helm release of `service`: `<project>-<service>`.
#[must_use]
pub fn release_name(stack: &Stack, service: &str) -> String {
    format!("{}-{service}", stack.project)
}

/// What a plan is built from.
pub(crate) struct Inputs<'a> {
    pub(crate) stack: &'a Stack,
    pub(crate) levels: &'a [Vec<String>],
    /// The variables; `None` for commands that do not apply configuration.
    pub(crate) mapping: Option<&'a Mapping>,
    /// The delivered image of each service that has one.
    pub(crate) images: &'a BTreeMap<String, DeliverSummary>,
    pub(crate) rollback: bool,
    /// A cycle of `hoist dev`: each chart's `dev_values` apply.
    pub(crate) dev: bool,
}

/// Builds the plan; services without a chart are left out (they are only
/// built and delivered).
///
/// # Errors
///
/// [`Error::Write`] when a generated values file cannot be written.
pub(crate) fn build(inputs: &Inputs<'_>) -> Result<Plan> {
    let stack = inputs.stack;
    let mut levels = Vec::new();
    let mut crashloop = None::<u32>;
    for level in inputs.levels {
        let mut releases = Vec::new();
        for name in level {
            let Some(service) = stack.services.get(name) else {
                continue;
            };
            let Some(chart) = &service.chart else {
                continue;
            };
            crashloop = Some(crashloop.map_or(service.rollout.crashloop_restarts, |c| {
                c.max(service.rollout.crashloop_restarts)
            }));
            let release = release_name(stack, name);
            let dev_values = if inputs.dev {
                &chart.dev_values[..]
            } else {
                &[]
            };
            let mut values_files: Vec<PathBuf> = chart
                .values
                .iter()
                .chain(dev_values)
                .map(|v| stack.dir().join(v))
                .collect();
            if let Some(file) = set_file(stack, name)? {
                values_files.push(file);
            }
            let mut set = vec![("fullnameOverride".to_owned(), release.clone())];
            let image = inputs.images.get(name).map(|delivered| {
                set.extend(image_values(delivered));
                ImageRef {
                    reference: delivered.reference.clone(),
                    digest: delivered.digest.clone(),
                    delivered_to: delivered.target.clone(),
                }
            });
            let config = inputs
                .mapping
                .and_then(|m| m.services.get(name))
                .filter(|_| !service.env.declared_keys().is_empty())
                .map(|env| ConfigObjects {
                    config_map: env.config_map(),
                    secret: env.secret(),
                    hash: env.config_hash(),
                });
            releases.push(ReleasePlan {
                service: name.clone(),
                release,
                chart: stack.dir().join(&chart.path),
                values_files,
                set,
                image,
                config,
                depends_on: service
                    .depends_on
                    .iter()
                    .map(|d| d.get_ref().clone())
                    .collect(),
                deadline: service.rollout.timeout,
            });
        }
        if !releases.is_empty() {
            levels.push(releases);
        }
    }
    Ok(Plan {
        project: stack.project.clone(),
        state_dir: stack.dir().join(".hoist"),
        levels,
        redact: inputs.mapping.map(secret_values).unwrap_or_default(),
        options: rollout::Options {
            rollback: inputs.rollback,
            crashloop_restarts: crashloop.unwrap_or(2),
            // A dev cycle is done once the new pods serve; old ones may still go.
            until: if inputs.dev {
                Until::Serving
            } else {
                Until::Settled
            },
            ..rollout::Options::default()
        },
    })
}

/// The plan of every service of `stack` as deployed, for the commands that
/// act on existing releases (status, down, rollback): no images, and the
/// configuration only when `mapping` is given (for masking).
///
/// # Errors
///
/// As [`build`].
pub(crate) fn existing(stack: &Stack, mapping: Option<&Mapping>) -> Result<Plan> {
    build(&Inputs {
        stack,
        levels: &stack.rollout_levels(),
        mapping,
        images: &BTreeMap::new(),
        rollback: true,
        dev: false,
    })
}

/// Every secret value of the mapping, for masking.
pub(crate) fn secret_values(mapping: &Mapping) -> Vec<String> {
    let mut values: Vec<String> = mapping
        .services
        .values()
        .flat_map(|env| &env.vars)
        .filter_map(|var| match &var.value {
            Value::Secret(secret) => Some(secret.expose().to_owned()),
            Value::Plain(_) => None,
        })
        .filter(|value| !value.is_empty())
        .collect();
    values.sort();
    values.dedup();
    values
}

/// Writes `set` as a nested values file, `.hoist/values/<service>.yaml`.
fn set_file(stack: &Stack, service: &str) -> Result<Option<PathBuf>> {
    let Some(chart) = stack.services.get(service).and_then(|s| s.chart.as_ref()) else {
        return Ok(None);
    };
    if chart.set.is_empty() {
        return Ok(None);
    }
    let mut root = serde_yaml::Mapping::new();
    for (key, value) in &chart.set {
        insert(&mut root, key, toml_to_yaml(value.get_ref()));
    }
    let path = stack
        .dir()
        .join(".hoist/values")
        .join(format!("{service}.yaml"));
    let text = format!(
        "# Generated by hoist from services.{service}.chart.set in {}; do not edit.\n{}",
        stack.path.display(),
        serde_yaml::to_string(&root).unwrap_or_default()
    );
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(path.parent().unwrap_or(stack.dir()))?;
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, &text)?;
        }
        Ok(())
    };
    write().map_err(|cause| Error::Write {
        path: path.clone(),
        cause,
    })?;
    Ok(Some(path))
}

fn insert(root: &mut serde_yaml::Mapping, dotted: &str, value: serde_yaml::Value) {
    let mut parts = dotted.split('.').peekable();
    let mut table = root;
    while let Some(part) = parts.next() {
        let key = serde_yaml::Value::String(part.to_owned());
        if parts.peek().is_none() {
            table.insert(key, value);
            return;
        }
        let entry = table
            .entry(key)
            .or_insert_with(|| serde_yaml::Value::Mapping(serde_yaml::Mapping::new()));
        if !entry.is_mapping() {
            *entry = serde_yaml::Value::Mapping(serde_yaml::Mapping::new());
        }
        let serde_yaml::Value::Mapping(next) = entry else {
            return;
        };
        table = next;
    }
}

fn toml_to_yaml(value: &toml::Value) -> serde_yaml::Value {
    match value {
        toml::Value::Boolean(b) => serde_yaml::Value::Bool(*b),
        toml::Value::Integer(i) => serde_yaml::Value::Number((*i).into()),
        toml::Value::Float(f) => serde_yaml::Value::Number((*f).into()),
        other => serde_yaml::Value::String(match other {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_files_in_order_dev_values_only_under_dev_set_typed_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hoist.toml");
        let text = r#"project = "shop"
[services.db]
chart = { path = "charts/db" }
rollout = { timeout = "90s", crashloop_restarts = 3 }
[services.api]
depends_on = ["db"]
chart = { path = "charts/api", values = ["v.yaml"], dev_values = ["dev.yaml"], set = { "database.fromSecret.enabled" = false, replicaCount = 2, "image.pullPolicy" = "Always" } }
[services.tool]
"#;
        std::fs::write(&path, text).unwrap();
        let stack = Stack::load(&path, None).unwrap();
        let levels = crate::select::levels(&stack, &[], false).unwrap();
        let plan_for = |dev| {
            build(&Inputs {
                stack: &stack,
                levels: &levels,
                mapping: None,
                images: &BTreeMap::new(),
                rollback: true,
                dev,
            })
            .unwrap()
        };
        let plan = plan_for(false);
        let names: Vec<Vec<&str>> = plan
            .levels
            .iter()
            .map(|l| l.iter().map(|r| r.release.as_str()).collect())
            .collect();
        assert_eq!(names, [vec!["shop-db"], vec!["shop-api"]]);
        assert_eq!(plan.options.crashloop_restarts, 3);
        let api = plan.release("api").unwrap();
        assert_eq!(
            api.set,
            [("fullnameOverride".to_owned(), "shop-api".to_owned())]
        );
        assert_eq!(api.values_files.len(), 2, "{:?}", api.values_files);
        assert_eq!(api.values_files[0], dir.path().join("v.yaml"));
        let generated = std::fs::read_to_string(&api.values_files[1]).unwrap();
        assert!(
            generated.ends_with(
                "database:\n  fromSecret:\n    enabled: false\nimage:\n  pullPolicy: Always\nreplicaCount: 2\n"
            ),
            "{generated}"
        );
        assert_eq!(
            plan.release("db").unwrap().deadline,
            std::time::Duration::from_secs(90)
        );
        // `hoist dev`: the dev values after the chart's own, `set` still last.
        assert_eq!(plan.options.until, Until::Settled);
        let dev = plan_for(true);
        assert_eq!(dev.options.until, Until::Serving);
        assert_eq!(
            dev.release("api").unwrap().values_files,
            [
                dir.path().join("v.yaml"),
                dir.path().join("dev.yaml"),
                api.values_files[1].clone()
            ]
        );
    }
}
