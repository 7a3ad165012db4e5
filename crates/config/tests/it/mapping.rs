//! Classification, precedence, sources, required and refused variables.

use std::collections::BTreeMap;

use hoist_config::{
    EnvError, EnvInputs, Error, Listing, Reason, Source, Target, Value, classify, resolve,
};
use hoist_testkit::fake_secret;

use crate::{load, project};

type Expected = Result<(Target, Reason), String>;

#[test]
fn classification_table() {
    let openai = fake_secret("sk-proj-", 48, 1);
    let cache_url = format!("redis://app:{}@cache:6379/0", fake_secret("", 20, 2));
    let secret = |reason| Ok((Target::Secret, reason));
    let config = |reason| Ok((Target::ConfigMap, reason));
    let value_rule = |id: &str| Reason::SecretValue(id.to_owned());
    let cases: Vec<(&str, &str, Listing, Expected)> = vec![
        (
            "LOG_LEVEL",
            "debug",
            Listing::Unlisted,
            config(Reason::Plain),
        ),
        (
            "BUILD_ID",
            "4f1c2a8e-3b5d-4e6f-9a7b-1c2d3e4f5a6b",
            Listing::Unlisted,
            config(Reason::Plain),
        ),
        (
            "TOKEN_URL",
            "https://auth.internal/token",
            Listing::Unlisted,
            config(Reason::Plain),
        ),
        (
            "JWT_SECRET",
            "short",
            Listing::Unlisted,
            secret(Reason::SensitiveName),
        ),
        (
            "OPENAI_API_KEY",
            "",
            Listing::Unlisted,
            secret(Reason::SensitiveName),
        ),
        (
            "DATABASE_URL",
            "postgresql://db/app",
            Listing::Unlisted,
            secret(Reason::SensitiveName),
        ),
        (
            "UPSTREAM",
            &openai,
            Listing::Unlisted,
            secret(value_rule("openai-key")),
        ),
        (
            "CACHE_URL",
            &cache_url,
            Listing::Unlisted,
            secret(value_rule("url-credentials")),
        ),
        // Explicit lists come first.
        (
            "PUBLIC_NOTE",
            "hello",
            Listing::Secret,
            secret(Reason::ListedSecret),
        ),
        (
            "LOG_LEVEL",
            "info",
            Listing::Config,
            config(Reason::ListedConfig),
        ),
        (
            "STRIPE_API_KEY",
            &openai,
            Listing::AllowPlain,
            config(Reason::AllowPlain),
        ),
        // ... but plain configuration that looks secret is refused.
        (
            "SESSION_TOKEN",
            "abc",
            Listing::Config,
            Err("has a name that looks sensitive".into()),
        ),
        (
            "UPSTREAM",
            &openai,
            Listing::Config,
            Err("has a value that matches rule `openai-key`".into()),
        ),
        (
            "CACHE_URL",
            &cache_url,
            Listing::Config,
            Err("has a value that matches rule `url-credentials`".into()),
        ),
    ];
    for (key, value, listing, expected) in cases {
        assert_eq!(
            classify(key, value, listing),
            expected,
            "{key} ({listing:?})"
        );
    }
}

const STACK: &str = r#"project = "shop"

[services.api.env]
required = ["DATABASE_URL", "JWT_SECRET"]
keys = ["LOG_LEVEL", "ORIGINS", "MODEL", "BASE_URL", "UNSET_OPTIONAL"]
config = ["LOG_LEVEL"]
defaults = { BASE_URL = "https://api.internal/v1", LOG_LEVEL = "info" }

[services.web.env]
required = ["API_URL"]

[profiles.local]
"#;

fn inputs(dir: &std::path::Path, process: &[(&str, &str)]) -> EnvInputs {
    EnvInputs {
        env_files: vec![dir.join("extra.env")],
        process: process
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

#[test]
fn precedence_and_sources() {
    let jwt = fake_secret("", 40, 3);
    let password = fake_secret("", 20, 4);
    let env = format!(
        "DATABASE_URL=postgresql://app:{password}@db:5432/app\nJWT_SECRET={jwt}\nLOG_LEVEL=warning\nORIGINS=http://a\nMODEL=base\nAPI_URL=http://api:8000\n"
    );
    let dir = project(&[
        ("hoist.toml", STACK),
        (".env", &env),
        (
            ".env.local",
            "# local overrides\nLOG_LEVEL=debug\nORIGINS=http://b\n",
        ),
        ("extra.env", "ORIGINS=http://c\n"),
    ]);
    let stack = load(dir.path(), Some("local"));
    let mapping = resolve(
        &stack,
        &inputs(dir.path(), &[("MODEL", "from-process"), ("UNRELATED", "x")]),
    )
    .unwrap();
    let api = &mapping.services["api"];
    let by_key: BTreeMap<&str, _> = api.vars.iter().map(|v| (v.key.as_str(), v)).collect();
    assert_eq!(
        by_key.keys().copied().collect::<Vec<_>>(),
        [
            "BASE_URL",
            "DATABASE_URL",
            "JWT_SECRET",
            "LOG_LEVEL",
            "MODEL",
            "ORIGINS"
        ],
        "declared keys only; unset optional ones are left out"
    );
    let shown = |key: &str| {
        let var = by_key[key];
        (var.value.to_string(), var.source.to_string(), var.target)
    };
    let file = |name: &str, line| format!("{}:{line}", dir.path().join(name).display());
    assert_eq!(
        shown("MODEL"),
        (
            "from-process".into(),
            "process environment".into(),
            Target::ConfigMap
        )
    );
    assert_eq!(
        shown("ORIGINS"),
        ("http://c".into(), file("extra.env", 1), Target::ConfigMap)
    );
    assert_eq!(
        shown("LOG_LEVEL"),
        ("debug".into(), file(".env.local", 2), Target::ConfigMap)
    );
    assert_eq!(
        shown("JWT_SECRET"),
        ("<redacted>".into(), file(".env", 2), Target::Secret)
    );
    assert_eq!(
        shown("DATABASE_URL"),
        ("<redacted>".into(), file(".env", 1), Target::Secret)
    );
    assert_eq!(by_key["JWT_SECRET"].value.expose(), jwt);
    assert!(by_key["JWT_SECRET"].required);
    assert!(!by_key["MODEL"].required);
    assert!(matches!(&by_key["BASE_URL"].source, Source::Default(at) if at.line == 7));
    assert_eq!(
        by_key["BASE_URL"].value,
        Value::Plain("https://api.internal/v1".into())
    );

    // The web service shares the .env file but gets none of the api's secrets.
    let web = &mapping.services["web"];
    assert_eq!(
        web.vars.iter().map(|v| v.key.as_str()).collect::<Vec<_>>(),
        ["API_URL"]
    );
}

#[test]
fn every_missing_required_variable_is_reported_at_once() {
    let dir = project(&[("hoist.toml", STACK), (".env", "JWT_SECRET=\n")]);
    let stack = load(dir.path(), Some("local"));
    let error = resolve(&stack, &EnvInputs::default()).unwrap_err();
    let Error::Env(EnvError::MissingRequired(missing)) = &error else {
        panic!("{error}")
    };
    assert_eq!(missing.len(), 3);
    let d = dir.path().display();
    assert_eq!(
        error.to_string(),
        format!(
            "3 required variables have no value:
  - DATABASE_URL for service `api` (required at {d}/hoist.toml:4:13); set it in the process environment, {d}/.env.local or {d}/.env
  - JWT_SECRET for service `api` (required at {d}/hoist.toml:4:29); set it in the process environment, {d}/.env.local or {d}/.env
  - API_URL for service `web` (required at {d}/hoist.toml:10:13); set it in the process environment, {d}/.env.local or {d}/.env"
        )
    );
}

#[test]
fn plain_configuration_that_looks_secret_is_refused_without_showing_it() {
    let key = fake_secret("sk-", 48, 5);
    let stack = "project = \"shop\"\n[services.api.env]\nconfig = [\"UPSTREAM\", \"SESSION_TOKEN\", \"LEVEL\"]\nallow_plain = [\"LEVEL\"]\n";
    let env = format!("UPSTREAM={key}\nSESSION_TOKEN=abc\nLEVEL={key}\n");
    let dir = project(&[("hoist.toml", stack), (".env", &env)]);
    let error = resolve(&load(dir.path(), None), &EnvInputs::default())
        .unwrap_err()
        .to_string();
    let d = dir.path().display();
    assert_eq!(
        error,
        format!(
            "2 variables are listed as plain configuration but look secret, and would land in a ConfigMap:
  - SESSION_TOKEN of service `api` (listed in `config` at {d}/hoist.toml:3:23; value from {d}/.env:2) has a name that looks sensitive; move it to `secret`, or add it to `allow_plain` if it really is public
  - UPSTREAM of service `api` (listed in `config` at {d}/hoist.toml:3:11; value from {d}/.env:1) has a value that matches rule `openai-key`; move it to `secret`, or add it to `allow_plain` if it really is public"
        )
    );
    assert!(!error.contains(&key));
}

#[test]
fn env_files_named_on_the_command_line_must_exist() {
    let dir = project(&[("hoist.toml", "project = \"shop\"\n")]);
    let error = resolve(&load(dir.path(), None), &inputs(dir.path(), &[])).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "cannot read {}: No such file or directory (os error 2)",
            dir.path().join("extra.env").display()
        )
    );
}

#[test]
fn a_malformed_env_file_stops_the_mapping_with_its_location() {
    let dir = project(&[("hoist.toml", STACK), (".env", "OK=1\nBROKEN\n")]);
    let error = resolve(&load(dir.path(), None), &EnvInputs::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:2:7: expected `=` after `BROKEN`; write `BROKEN=value`",
            dir.path().join(".env").display()
        )
    );
}
