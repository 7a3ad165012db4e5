//! `hoist config` and `hoist render --only config` on a stack with planted
//! fake secrets: every output mode, success and failure, and none of them
//! shows a secret unless `--show-secrets` asks for it.
//!
//! Run: `cargo nextest run -p hoist --test it config` (the schema check
//! needs `kubernetes-validate` on PATH; under CI=true its absence fails the
//! test).
#![allow(clippy::print_stderr)] // A skipped check says so on stderr, as cargo test shows it.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use base64::Engine as _;
use hoist_testkit::fake_secret;

struct Fixture {
    dir: tempfile::TempDir,
    secrets: Vec<String>,
}

const STACK: &str = r#"project = "shop"
namespace = "shop-dev"

[services.db.env]
required = ["DB_PASSWORD"]

[services.api]
depends_on = ["db"]

[services.api.env]
required = ["DATABASE_URL", "JWT_SECRET"]
keys = ["OPENAI_API_KEY", "UPSTREAM", "LOG_LEVEL"]
config = ["LOG_LEVEL"]

[profiles.local.services.api.env]
defaults = { LOG_LEVEL = "debug" }
"#;

fn setup(stack: &str) -> Fixture {
    let password = fake_secret("", 24, 101);
    let secrets = vec![
        password.clone(),
        fake_secret("", 40, 102),
        fake_secret("sk-proj-", 48, 103),
        fake_secret("sk-", 48, 104),
    ];
    let env = format!(
        "DB_PASSWORD={password}\nDATABASE_URL=postgresql://app:{password}@db:5432/app\nJWT_SECRET={}\nOPENAI_API_KEY=\"{}\"\n# an innocent name, caught by its value\nUPSTREAM={}\n",
        secrets[1], secrets[2], secrets[3]
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hoist.toml"), stack).unwrap();
    std::fs::write(dir.path().join(".env"), env).unwrap();
    std::fs::write(dir.path().join(".env.local"), "LOG_LEVEL=trace\n").unwrap();
    Fixture { dir, secrets }
}

impl Fixture {
    fn hoist(&self, args: &[&str]) -> Output {
        Command::cargo_bin("hoist")
            .unwrap()
            .current_dir(self.dir.path())
            .env_clear()
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs hoist, checks the exit code, and that no secret shows, raw or
    /// base64-encoded, on stdout or stderr.
    fn run(&self, args: &[&str], code: i32) -> (String, String) {
        let output = self.hoist(args);
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "hoist {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        for secret in &self.secrets {
            for shown in [
                secret.clone(),
                base64::engine::general_purpose::STANDARD.encode(secret),
            ] {
                assert!(
                    !stdout.contains(&shown),
                    "hoist {args:?} printed a secret on stdout:\n{stdout}"
                );
                assert!(
                    !stderr.contains(&shown),
                    "hoist {args:?} printed a secret on stderr:\n{stderr}"
                );
            }
        }
        (stdout, stderr)
    }

    fn snapshot(&self, name: &str, text: &str) {
        let dir = self.dir.path().display().to_string();
        let escaped: String = dir
            .chars()
            .flat_map(|c| {
                if c.is_ascii_alphanumeric() {
                    vec![c]
                } else {
                    vec!['\\', c]
                }
            })
            .collect();
        insta::with_settings!({ filters => vec![(escaped.as_str(), "[DIR]")] }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

#[test]
fn the_table_shows_sources_and_targets_but_no_secret() {
    let fixture = setup(STACK);
    let (stdout, _) = fixture.run(&["--profile", "local", "config"], 0);
    fixture.snapshot("config-table", &stdout);
}

#[test]
fn json_output_redacts_secrets() {
    let fixture = setup(STACK);
    let (stdout, _) = fixture.run(&["--json", "config"], 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let services = json["services"].as_array().unwrap();
    assert_eq!(
        services
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["db", "api"]
    );
    let api = &services[1];
    assert_eq!(api["config_map"], "shop-api-config-b85df6c899");
    let upstream = api["vars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "UPSTREAM")
        .unwrap();
    assert_eq!(upstream["value"], "<redacted>");
    assert_eq!(upstream["target"], "secret");
    assert_eq!(
        upstream["reason"],
        serde_json::json!({ "rule": "secret-value", "id": "openai-key" })
    );
    assert_eq!(
        upstream["source"],
        format!("{}:6", fixture.dir.path().join(".env").display())
    );
}

#[test]
fn render_redacts_secrets_unless_asked() {
    let fixture = setup(STACK);
    let (yaml, _) = fixture.run(&["--profile", "local", "render", "--only", "config"], 0);
    fixture.snapshot("render-config", &yaml);
    let (json, _) = fixture.run(&["--json", "render", "--only", "config"], 0);
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 4);
    // Named services: exactly those.
    let (json, _) = fixture.run(&["--json", "render", "--only", "config", "api"], 0);
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["shop-api-config-b85df6c899", "shop-api-secret-3a1a66285e"]
    );

    // --show-secrets prints the Secret as it would be applied.
    let output = fixture.hoist(&["render", "--only", "config", "--show-secrets"]);
    assert_eq!(output.status.code(), Some(0));
    let shown = String::from_utf8(output.stdout).unwrap();
    let docs: Vec<serde_yaml::Value> = shown
        .split("---\n")
        .filter(|doc| !doc.trim().is_empty())
        .map(|doc| serde_yaml::from_str(doc).unwrap())
        .collect();
    let api_secret = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "shop-api-secret-3a1a66285e")
        .unwrap();
    let decoded = |key: &str| {
        let encoded = api_secret["data"][key].as_str().unwrap();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(decoded("JWT_SECRET"), fixture.secrets[1]);
    assert_eq!(decoded("OPENAI_API_KEY"), fixture.secrets[2]);
    assert_eq!(decoded("UPSTREAM"), fixture.secrets[3]);
    validate_schema(fixture.dir.path(), &shown);
}

/// The objects are valid Kubernetes objects, checked by an independent tool.
fn validate_schema(dir: &Path, yaml: &str) {
    let Ok(found) = std::process::Command::new("kubernetes-validate")
        .arg("--version")
        .output()
    else {
        assert!(
            std::env::var("CI").is_err(),
            "kubernetes-validate is required under CI (pip install kubernetes-validate)"
        );
        eprintln!("skipped the schema check: kubernetes-validate is not on PATH");
        return;
    };
    assert!(found.status.success());
    let file = dir.join("rendered.yaml");
    std::fs::write(&file, yaml).unwrap();
    let check = std::process::Command::new("kubernetes-validate")
        .args(["--strict", "-k", "1.30.0"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn failures_name_the_place_and_never_the_value() {
    // Every required variable missing at once.
    let fixture = setup(&STACK.replace(
        r#"required = ["DB_PASSWORD"]"#,
        r#"required = ["DB_PASSWORD", "DB_ADMIN_TOKEN", "DB_NAME"]"#,
    ));
    let (_, stderr) = fixture.run(&["config"], 1);
    fixture.snapshot("error-missing-required", &stderr);
    let (_, stderr) = fixture.run(&["render", "--only", "config"], 1);
    fixture.snapshot("error-missing-required-render", &stderr);

    // Plain configuration that looks secret.
    let fixture = setup(&STACK.replace(
        r#"config = ["LOG_LEVEL"]"#,
        r#"config = ["LOG_LEVEL", "UPSTREAM", "JWT_SECRET"]"#,
    ));
    let (_, stderr) = fixture.run(&["--json", "config"], 1);
    fixture.snapshot("error-looks-secret", &stderr);

    // A malformed .env line holding a secret.
    let fixture = setup(STACK);
    let broken = format!(
        "DB_PASSWORD=\"{}\" {}\n",
        fixture.secrets[0], fixture.secrets[1]
    );
    std::fs::write(fixture.dir.path().join(".env.local"), broken).unwrap();
    let (_, stderr) = fixture.run(&["--profile", "local", "config"], 1);
    fixture.snapshot("error-malformed-env", &stderr);

    // An invalid stack file.
    let fixture = setup(&STACK.replace("depends_on", "dependson"));
    let (_, stderr) = fixture.run(&["render", "--only", "config"], 1);
    fixture.snapshot("error-unknown-key", &stderr);
}

#[test]
fn usage_errors_exit_2() {
    let fixture = setup(STACK);
    let (_, stderr) = fixture.run(&["--profile", "prod", "config"], 2);
    fixture.snapshot("usage-unknown-profile", &stderr);
    let (_, stderr) = fixture.run(&["config", "--env-file", "missing.env"], 2);
    fixture.snapshot("usage-missing-env-file", &stderr);
    let (_, stderr) = fixture.run(&["-f", "nowhere/hoist.toml", "config"], 2);
    fixture.snapshot("usage-missing-stack-file", &stderr);
    // `render` alone renders the charts too (helm); `--only` needs a kind.
    let (_, stderr) = fixture.run(&["render", "--only"], 2);
    assert!(
        stderr.contains("a value is required for '--only <KIND>'"),
        "{stderr}"
    );
    let (_, stderr) = fixture.run(&["render", "--only", "deployments"], 2);
    assert!(
        stderr.contains("invalid value 'deployments' for '--only <KIND>'"),
        "{stderr}"
    );
    let (_, stderr) = fixture.run(&["render", "--only", "config", "nosuch"], 2);
    assert!(
        stderr.contains("no service `nosuch` in ") && stderr.contains("the services are: api, db"),
        "{stderr}"
    );
}

#[test]
fn lint_checks_the_example_file() {
    let fixture = setup(STACK);
    let (stdout, _) = fixture.run(&["config", "--lint"], 1);
    fixture.snapshot("lint-no-example", &stdout);

    let leaked = fake_secret("sk-proj-", 48, 105);
    let example = format!(
        "# Database\nDB_PASSWORD=change-me\nDATABASE_URL=postgresql://app:change-me@db:5432/app\nJWT_SECRET=\nOPENAI_API_KEY={leaked}\nLOG_LEVEL=info\n"
    );
    std::fs::write(fixture.dir.path().join(".env.example"), example).unwrap();
    let mut fixture = fixture;
    fixture.secrets.push(leaked);
    let (stdout, _) = fixture.run(&["config", "--lint"], 1);
    fixture.snapshot("lint-findings", &stdout);

    std::fs::write(
        fixture.dir.path().join(".env.example"),
        "DB_PASSWORD=\nDATABASE_URL=\nJWT_SECRET=\nOPENAI_API_KEY=\nUPSTREAM=\nLOG_LEVEL=info\n",
    )
    .unwrap();
    let (stdout, _) = fixture.run(&["config", "--lint"], 0);
    fixture.snapshot("lint-ok", &stdout);
}
