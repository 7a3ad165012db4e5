//! The values hoist sets (image, `ConfigMap`, Secret, config hash, database
//! wiring) and what they turn into in the rendered pods.

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::RELEASE;
use super::helm::{Tools, UMBRELLA, documents};
use super::policy::Rendered;

/// The pod template of the Deployment `name`.
pub(super) fn pod_template<'a>(rendered: &'a Rendered, name: &str) -> &'a PodTemplateSpec {
    let deployment = rendered
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Deployment {name}"));
    &deployment.spec.as_ref().expect("Deployment spec").template
}

pub(super) fn pod(template: &PodTemplateSpec) -> &PodSpec {
    template.spec.as_ref().expect("pod spec")
}

fn names<'a>(metas: impl Iterator<Item = &'a ObjectMeta>) -> Vec<&'a str> {
    metas.filter_map(|m| m.name.as_deref()).collect()
}

/// `--set` before each of `values`.
fn set_args<'a>(values: &[&'a str]) -> Vec<&'a str> {
    values.iter().flat_map(|v| ["--set", v]).collect()
}

/// The pod's first container takes hoist's `ConfigMap` and Secret through
/// envFrom, and the pod carries hoist's config hash ("c0ffee" in these tests).
fn assert_takes_hoists_objects(template: &PodTemplateSpec, config_map: &str, secret: &str) {
    let annotations = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref());
    let hash = annotations.and_then(|a| a.get("hoist.dev/config-hash"));
    assert_eq!(hash.map(String::as_str), Some("c0ffee"));
    let main = &pod(template).containers[0];
    let env_from: Vec<_> = main.env_from.iter().flatten().collect();
    let names: Vec<Option<&str>> = env_from
        .iter()
        .map(|e| {
            let from_config = e.config_map_ref.as_ref().map(|r| r.name.as_str());
            from_config.or_else(|| e.secret_ref.as_ref().map(|r| r.name.as_str()))
        })
        .collect();
    assert_eq!(names, [Some(config_map), Some(secret)]);
    assert!(env_from[0].config_map_ref.is_some() && env_from[1].secret_ref.is_some());
}

#[test]
fn the_image_config_and_secret_hoist_sets_reach_the_backend() {
    let Some(tools) = Tools::find() else { return };
    let digest = format!("sha256:{}", "ab".repeat(32));
    let digest_set = format!("todo-backend.image.digest={digest}");
    let sets = [
        "todo-backend.image.repository=127.0.0.1:5000/todo-backend",
        "todo-backend.image.tag=v1",
        &digest_set,
        "todo-backend.config.existingConfigMap=todo-backend-config",
        "todo-backend.secret.existingSecret=todo-backend-secret",
        "todo-backend.configHash=c0ffee",
        "todo-frontend.image.tag=v2",
    ];
    let rendered = Rendered::parse(&tools.render(RELEASE, UMBRELLA, None, &set_args(&sets)));
    let template = pod_template(&rendered, "todo-todo-backend");
    let main = &pod(template).containers[0];
    // The digest wins over the tag.
    let image = format!("127.0.0.1:5000/todo-backend@{digest}");
    assert_eq!(main.image.as_deref(), Some(image.as_str()));
    assert_eq!(main.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_takes_hoists_objects(template, "todo-backend-config", "todo-backend-secret");
    // hoist's ConfigMap and Secret replace the chart's own.
    assert_eq!(
        names(rendered.config_maps.iter().map(|c| &c.metadata)),
        ["todo-todo-frontend"]
    );
    assert_eq!(
        names(rendered.secrets.iter().map(|c| &c.metadata)),
        ["todo-todo-database"]
    );

    let front = &pod(pod_template(&rendered, "todo-todo-frontend")).containers[0];
    assert_eq!(front.image.as_deref(), Some("todo-frontend:v2"));
    // BACKEND_URL rides in the chart's ConfigMap, so hoist's ConfigMap can replace it.
    assert!(!front.env.iter().flatten().any(|e| e.name == "BACKEND_URL"));
    let front_config = rendered.config_maps[0].data.as_ref().expect("data");
    assert_eq!(front_config["BACKEND_URL"], "http://todo-todo-backend:8000");
}

#[test]
fn an_explicit_backend_url_wins_over_the_config_map() {
    let Some(tools) = Tools::find() else { return };
    let sets = set_args(&[
        "backend.url=http://api.todo:8000",
        "config.existingConfigMap=todo-frontend-config",
    ]);
    let rendered = Rendered::parse(&tools.render(RELEASE, "todo-frontend", None, &sets));
    assert!(rendered.config_maps.is_empty());
    let front = &pod(pod_template(&rendered, "todo-todo-frontend")).containers[0];
    let url = front.env.iter().flatten().find(|e| e.name == "BACKEND_URL");
    assert_eq!(
        url.and_then(|e| e.value.as_deref()),
        Some("http://api.todo:8000")
    );
}

#[test]
fn the_database_takes_postgres_variables_from_hoists_objects() {
    let Some(tools) = Tools::find() else { return };
    let sets = set_args(&[
        "config.existingConfigMap=todo-chatbot-database-config",
        "secret.existingSecret=todo-chatbot-database-secret",
        "configHash=c0ffee",
    ]);
    let rendered = Rendered::parse(&tools.render(RELEASE, "todo-database", None, &sets));
    assert!(
        rendered.secrets.is_empty(),
        "the chart's own auth Secret is not made"
    );
    let set = &rendered.stateful_sets[0];
    let template = &set.spec.as_ref().expect("spec").template;
    assert_takes_hoists_objects(
        template,
        "todo-chatbot-database-config",
        "todo-chatbot-database-secret",
    );
    let main = &pod(template).containers[0];
    let env: Vec<&str> = main.env.iter().flatten().map(|e| e.name.as_str()).collect();
    assert_eq!(
        env,
        ["PGDATA"],
        "POSTGRES_* come from hoist's objects alone"
    );
}

#[test]
fn the_backend_takes_database_url_from_the_database_charts_secret() {
    let Some(tools) = Tools::find() else { return };
    let rendered = Rendered::parse(&tools.render(RELEASE, UMBRELLA, None, &[]));
    let backend = pod(pod_template(&rendered, "todo-todo-backend"));
    let main = &backend.containers[0];
    let url = main.env.iter().flatten().find(|e| e.name == "DATABASE_URL");
    let from = url
        .and_then(|e| e.value_from.as_ref())
        .and_then(|v| v.secret_key_ref.as_ref())
        .expect("DATABASE_URL from a secretKeyRef");
    assert_eq!(
        (from.name.as_str(), from.key.as_str()),
        ("todo-todo-database", "database-url")
    );
    // The database chart writes that key, pointing at its own Service.
    let secret = rendered
        .secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("todo-todo-database"))
        .expect("database Secret");
    let data = secret.data.as_ref().expect("Secret data");
    let url = String::from_utf8(data["database-url"].0.clone()).expect("UTF-8 URL");
    let password = String::from_utf8(data["password"].0.clone()).expect("UTF-8 password");
    assert_eq!(password.len(), 32, "a generated password");
    assert_eq!(
        url,
        format!("postgresql://todo:{password}@todo-todo-database:5432/todo")
    );
    // The init container waits with the same environment as the app.
    let init = &backend.init_containers.as_ref().expect("init containers")[0];
    assert_eq!(
        (init.name.as_str(), &init.env),
        ("wait-for-database", &main.env)
    );
}

#[test]
fn an_external_database_needs_only_the_backends_secret() {
    let Some(tools) = Tools::find() else { return };
    let sets = set_args(&[
        "todo-database.enabled=false",
        "todo-backend.database.fromSecret.enabled=false",
        "todo-backend.secret.existingSecret=todo-backend-secret",
    ]);
    let rendered = Rendered::parse(&tools.render(RELEASE, UMBRELLA, None, &sets));
    assert!(rendered.stateful_sets.is_empty() && rendered.secrets.is_empty());
    let services = names(rendered.services.iter().map(|s| &s.metadata));
    assert_eq!(services, ["todo-todo-backend", "todo-todo-frontend"]);
    let main = &pod(pod_template(&rendered, "todo-todo-backend")).containers[0];
    // The database chart alone, switched off, renders nothing either.
    let alone = tools.render(RELEASE, "todo-database", None, &["--set", "enabled=false"]);
    assert!(documents(&alone).is_empty(), "{alone}");
    assert!(
        main.env.is_none(),
        "DATABASE_URL must come from the Secret alone: {:?}",
        main.env
    );
}
