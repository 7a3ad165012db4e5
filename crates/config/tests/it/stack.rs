//! Valid stacks: profiles, rollout order, the image table.

use std::path::Path;

use hoist_config::{Stack, StackError};

use crate::{load, project};

const EXAMPLE: &str = "../../examples/todo-chatbot/hoist.toml";

#[test]
fn the_reference_stack_loads_under_every_profile() {
    for profile in [None, Some("local"), Some("production")] {
        let stack = Stack::load(Path::new(EXAMPLE), profile).unwrap();
        assert_eq!(stack.project, "todo-chatbot");
        assert_eq!(stack.namespace, "todo");
        assert_eq!(stack.profiles, ["local", "production"]);
        assert_eq!(
            stack.rollout_levels(),
            [vec!["database"], vec!["backend"], vec!["frontend"]]
        );
        for service in stack.services.values() {
            assert!(service.image.is_some(), "every service has an image table");
        }
    }
    let production = Stack::load(Path::new(EXAMPLE), Some("production")).unwrap();
    let backend = &production.services["backend"];
    assert_eq!(backend.ports, [8000]);
    let chart = backend.chart.as_ref().unwrap();
    assert_eq!(chart.path, Path::new("../../charts/todo-backend"));
    assert_eq!(
        chart.values,
        [
            Path::new("../../charts/todo-backend/values.yaml"),
            Path::new("../../charts/todo-backend/values-production.yaml")
        ]
    );
    assert_eq!(backend.env.defaults["LOG_LEVEL"].get_ref(), "warning");
}

#[test]
fn a_profile_deep_merges_over_the_base() {
    let dir = project(&[(
        "hoist.toml",
        r#"project = "shop"

[services.web]
ports = [3000]
env = { required = ["A"], defaults = { LEVEL = "info", MODE = "base" } }

[profiles.prod]
namespace = "shop-prod"
services.web.env.defaults = { LEVEL = "warn" }
"#,
    )]);
    let base = load(dir.path(), None);
    assert_eq!(base.namespace, "shop");
    assert_eq!(base.services["web"].env.defaults["LEVEL"].get_ref(), "info");

    let prod = load(dir.path(), Some("prod"));
    assert_eq!(prod.profile.as_deref(), Some("prod"));
    assert_eq!(prod.namespace, "shop-prod");
    let env = &prod.services["web"].env;
    assert_eq!(env.defaults["LEVEL"].get_ref(), "warn");
    assert_eq!(
        env.defaults["MODE"].get_ref(),
        "base",
        "untouched keys survive the merge"
    );
    assert_eq!(env.required[0].get_ref(), "A");
    assert_eq!(prod.services["web"].ports, [3000]);
    // The merged value still points at the line the profile wrote it on.
    assert_eq!(prod.location(&env.defaults["LEVEL"].span()).line, 9);
}

#[test]
fn independent_services_share_a_level() {
    let dir = project(&[(
        "hoist.toml",
        r#"project = "shop"
[services.db]
[services.cache]
[services.api]
depends_on = ["db", "cache"]
[services.worker]
depends_on = ["db"]
[services.web]
depends_on = ["api"]
"#,
    )]);
    assert_eq!(
        load(dir.path(), None).rollout_levels(),
        [vec!["cache", "db"], vec!["api", "worker"], vec!["web"]]
    );
}

#[derive(Debug, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Recipe {
    base: String,
    #[serde(default)]
    layers: Vec<String>,
}

#[test]
fn the_image_table_deserializes_with_located_errors() {
    let dir = project(&[(
        "hoist.toml",
        r#"project = "shop"

[services.web.image]
base = "python"
layers = ["app"]

[services.db]

[services.bad.image]
base = "node"
layer = ["src"]

[profiles.slim.services.web.image]
base = "scratch"
"#,
    )]);
    let stack = load(dir.path(), None);
    let image = stack.services["web"].image.as_ref().unwrap();
    assert_eq!(image.get_ref()["base"].as_str(), Some("python"));
    assert_eq!(stack.location(&image.span()).line, 3);
    assert_eq!(
        stack.deserialize_image::<Recipe>("web").unwrap(),
        Some(Recipe {
            base: "python".into(),
            layers: vec!["app".into()]
        })
    );
    assert_eq!(stack.deserialize_image::<Recipe>("db").unwrap(), None);
    let error = stack.deserialize_image::<Recipe>("bad").unwrap_err();
    assert!(matches!(error, StackError::UnknownKey { .. }));
    assert_eq!(
        error.to_string(),
        format!(
            "{}:11:1: unknown key `layer`; did you mean `layers`?",
            dir.path().join("hoist.toml").display()
        )
    );
    let slim = load(dir.path(), Some("slim"));
    assert_eq!(
        slim.deserialize_image::<Recipe>("web").unwrap(),
        Some(Recipe {
            base: "scratch".into(),
            layers: vec!["app".into()]
        })
    );
}

#[test]
fn chart_set_rollout_and_registry_are_read_with_their_defaults() {
    let dir = project(&[(
        "hoist.toml",
        r#"project = "shop"

[registry]
address = "127.0.0.1:5000/team"
insecure = true

[services.web]
chart = { path = "chart", set = { "image.pullPolicy" = "Always", replicaCount = 2, "db.fromSecret.enabled" = false } }
rollout = { timeout = "90s" }

[services.worker]
"#,
    )]);
    let stack = load(dir.path(), None);
    let web = &stack.services["web"];
    assert_eq!(
        web.chart.as_ref().unwrap().set_values(),
        [
            ("db.fromSecret.enabled".to_owned(), "false".to_owned()),
            ("image.pullPolicy".to_owned(), "Always".to_owned()),
            ("replicaCount".to_owned(), "2".to_owned()),
        ]
    );
    assert_eq!(web.rollout.timeout, std::time::Duration::from_secs(90));
    assert_eq!(web.rollout.crashloop_restarts, 2);
    let worker = &stack.services["worker"];
    assert_eq!(worker.rollout.timeout, std::time::Duration::from_secs(300));
    let registry = stack.registry.as_ref().unwrap();
    assert_eq!(registry.address.get_ref(), "127.0.0.1:5000/team");
    assert!(registry.insecure);
    assert_eq!(registry.user, None);
}

#[test]
fn chart_set_refuses_secrets_and_tables_naming_the_line() {
    let cases = [
        (
            r#"set = { "auth.password" = "hunter2-but-longer" }"#,
            "hoist.toml:4:53: services.web.chart.set.\"auth.password\" looks like a secret, and chart.set values go on helm's command line and into the release; put it in .env and list it in services.web.env.secret",
        ),
        (
            r#"set = { resources = { cpu = "1" } }"#,
            "hoist.toml:4:47: services.web.chart.set.\"resources\" must be a string, number or boolean; put lists and tables in a values file under chart.values",
        ),
    ];
    for (set, expected) in cases {
        let text = format!(
            "project = \"shop\"\n\n[services.web]\nchart = {{ path = \"chart\", {set} }}\n"
        );
        let dir = project(&[("hoist.toml", &text)]);
        let error = Stack::load(&dir.path().join("hoist.toml"), None).unwrap_err();
        let message = error.to_string();
        assert!(message.ends_with(expected), "{message}");
    }
}

#[test]
fn a_bad_timeout_or_registry_address_is_named() {
    let dir = project(&[(
        "hoist.toml",
        "project = \"shop\"\n[services.web]\nrollout = { timeout = \"soon\" }\n",
    )]);
    let message = Stack::load(&dir.path().join("hoist.toml"), None)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("hoist.toml:3:23: `soon` is not a duration")
            && message.ends_with("write e.g. \"5m\", \"90s\" or \"2m30s\""),
        "{message}"
    );
    let dir = project(&[(
        "hoist.toml",
        "project = \"shop\"\n[registry]\naddress = \"https://r.example\"\n",
    )]);
    let message = Stack::load(&dir.path().join("hoist.toml"), None)
        .unwrap_err()
        .to_string();
    assert!(
        message.ends_with("hoist.toml:3:11: registry.address `https://r.example` is not HOST[:PORT][/PREFIX] (it has a scheme; write the host without http:// or https:// (set `insecure = true` for plain HTTP)), e.g. \"registry.example.com/team\""),
        "{message}"
    );
}

/// The error loading a stack file of `text`.
fn load_error(text: &str) -> String {
    let dir = project(&[("hoist.toml", text)]);
    Stack::load(&dir.path().join("hoist.toml"), None)
        .unwrap_err()
        .to_string()
}

#[test]
fn registry_mirrors_load_and_a_bad_one_is_named() {
    let dir = project(&[(
        "hoist.toml",
        "project = \"shop\"\n[registries]\nmirrors = { \"docker.io\" = [\"127.0.0.1:5002\", \"mirror.internal\"] }\n",
    )]);
    let stack = load(dir.path(), None);
    assert_eq!(
        stack.registries.mirror_hosts()["docker.io"],
        ["127.0.0.1:5002", "mirror.internal"]
    );
    let message = load_error(
        "project = \"shop\"\n[registries]\nmirrors = { \"docker.io\" = [\"http://127.0.0.1:5002\"] }\n",
    );
    assert!(
        message.ends_with("hoist.toml:3:28: registries.mirrors.\"docker.io\" entry `http://127.0.0.1:5002` is not HOST[:PORT] (it has a scheme; write the host without http:// or https:// (loopback mirrors are reached over plain HTTP)), e.g. \"127.0.0.1:5002\""),
        "{message}"
    );
    let message = load_error("project = \"shop\"\n[registries]\nmirror = {}\n");
    assert!(
        message.ends_with("hoist.toml:3:1: unknown key `mirror`; did you mean `mirrors`?"),
        "{message}"
    );
}
