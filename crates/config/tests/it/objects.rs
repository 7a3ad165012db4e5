//! The `ConfigMap` and `Secret` objects, the content hash and the Docker list.

use hoist_config::{CONFIG_HASH_ANNOTATION, EnvInputs, Mapping, resolve};
use hoist_testkit::fake_secret;

use crate::{load, project};

const STACK: &str = r#"project = "shop"
namespace = "shop-dev"

[services.api.env]
keys = ["LOG_LEVEL", "SESSION_KEY", "WEBHOOK"]
secret = ["WEBHOOK"]
"#;

fn mapping(env: &str) -> Mapping {
    let dir = project(&[("hoist.toml", STACK), (".env", env)]);
    resolve(&load(dir.path(), None), &EnvInputs::default()).unwrap()
}

const ENV: &str = "LOG_LEVEL=info\nSESSION_KEY=not-so-secret\nWEBHOOK=plain-words\n";

#[test]
fn objects_are_named_labelled_and_hashed() {
    let mapping = mapping(ENV);
    let api = &mapping.services["api"];
    insta::assert_yaml_snapshot!("api-config-map", api.config_map());
    insta::assert_yaml_snapshot!("api-secret", api.secret());
    insta::assert_yaml_snapshot!("api-secret-redacted", api.redacted_secret());
    let config_map = api.config_map_name();
    let secret = api.secret_name();
    let hex10 = |name: &str, prefix: &str| {
        let hash = name
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{name}"));
        hash.len() == 10 && hash.bytes().all(|b| b.is_ascii_hexdigit())
    };
    assert!(hex10(&config_map, "shop-api-config-"), "{config_map}");
    assert!(hex10(&secret, "shop-api-secret-"), "{secret}");
    assert_eq!(
        api.config_map().metadata.name.as_deref(),
        Some(&*config_map)
    );
    assert_eq!(api.secret().metadata.name.as_deref(), Some(&*secret));
    assert_eq!(api.config_map().immutable, Some(true));
    assert_eq!(api.secret().immutable, Some(true));
    assert_eq!(
        api.docker_env(),
        [
            "LOG_LEVEL=info",
            "SESSION_KEY=not-so-secret",
            "WEBHOOK=plain-words"
        ]
    );
    let hash = api.config_hash();
    assert_eq!(hash.len(), 64);
    assert_eq!(
        api.config_map().metadata.annotations.unwrap()[CONFIG_HASH_ANNOTATION],
        hash
    );
}

#[test]
fn the_hash_follows_every_change_and_nothing_else() {
    let hash = |env: &str| mapping(env).services["api"].config_hash();
    let base = hash(ENV);
    assert_eq!(
        base,
        hash("WEBHOOK=plain-words\nSESSION_KEY=not-so-secret\nLOG_LEVEL=info\n"),
        "order does not matter"
    );
    assert_ne!(
        base,
        hash("LOG_LEVEL=debug\nSESSION_KEY=not-so-secret\nWEBHOOK=plain-words\n"),
        "a config value"
    );
    assert_ne!(
        base,
        hash("LOG_LEVEL=info\nSESSION_KEY=not-so-secreT\nWEBHOOK=plain-words\n"),
        "a secret value"
    );
    assert_ne!(
        base,
        hash("LOG_LEVEL=info\nSESSION_KEY=not-so-secret\n"),
        "a removed key"
    );
    assert_ne!(
        hash("LOG_LEVEL=ab\n"),
        hash("LOG_LEVEL=a\nWEBHOOK=b\n"),
        "boundaries between entries"
    );
}

#[test]
fn each_object_is_named_by_its_own_data() {
    let names = |env: &str| {
        let api = mapping(env).services["api"].clone();
        (api.config_map_name(), api.secret_name())
    };
    let (config_map, secret) = names(ENV);
    let (changed_config, same_secret) =
        names("LOG_LEVEL=debug\nSESSION_KEY=not-so-secret\nWEBHOOK=plain-words\n");
    assert_ne!(
        config_map, changed_config,
        "a config value renames the ConfigMap"
    );
    assert_eq!(secret, same_secret, "and leaves the Secret's name");
    let (same_config, changed_secret) =
        names("LOG_LEVEL=info\nSESSION_KEY=not-so-secreT\nWEBHOOK=plain-words\n");
    assert_eq!(
        config_map, same_config,
        "a secret value leaves the ConfigMap's name"
    );
    assert_ne!(secret, changed_secret, "and renames the Secret");
}

#[test]
fn sensitive_values_never_land_in_a_config_map() {
    let stack = r#"project = "shop"
[services.api.env]
keys = ["A", "B", "C", "D", "DB_PASSWORD", "GITHUB", "PLAIN"]
"#;
    let planted = [
        ("A", fake_secret("sk-proj-", 48, 11)),
        (
            "B",
            format!("postgres://u:{}@h/db", fake_secret("", 24, 12)),
        ),
        ("C", fake_secret("ghp_", 36, 13)),
        ("D", fake_secret("", 40, 14)),
        ("DB_PASSWORD", "short".to_owned()),
        ("GITHUB", fake_secret("github_pat_", 60, 15)),
    ];
    let mut env = String::new();
    for (key, value) in &planted {
        env.push_str(&[key, "=", value, "\n"].concat());
    }
    env.push_str("PLAIN=hello world\n");
    let dir = project(&[("hoist.toml", stack), (".env", &env)]);
    let mapping = resolve(&load(dir.path(), None), &EnvInputs::default()).unwrap();
    let api = &mapping.services["api"];
    let config_map = serde_json::to_string(&api.config_map()).unwrap();
    for (key, value) in &planted {
        assert!(
            !config_map.contains(value.as_str()),
            "{key} leaked into the ConfigMap"
        );
        assert!(
            api.secret().data.unwrap().contains_key(*key),
            "{key} is not in the Secret"
        );
    }
    assert_eq!(
        api.config_map().data.unwrap().keys().collect::<Vec<_>>(),
        ["PLAIN"]
    );
    let shown = format!("{:?} {}", api, serde_json::to_string(&mapping).unwrap());
    for (key, value) in &planted {
        assert!(
            !shown.contains(value.as_str()),
            "{key} shows in Debug or JSON"
        );
    }
}
