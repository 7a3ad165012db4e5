//! `hoist build` on a registry base, as a user's machine has it: a
//! `docker-credential-*` helper named by `~/.docker/config.json` (a stand-in
//! shell script on `PATH`), mirrors from `[registries]` in hoist.toml and
//! from `HOIST_REGISTRY_MIRRORS`, with registries of the test's own
//! (distribution 2.8, one with token auth) on loopback.
//!
//! Run: `cargo nextest run -p hoist --test it registry_base` (needs
//! `docker-registry` and `skopeo`).

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use hoist_testkit::registry::{LocalRegistry, TokenAuth};

const STACK: &str = r#"project = "shop"

[services.base.image]
[[services.base.image.layers]]
name = "files"
copy = [{ from = "base", to = "/opt/base" }]
[services.base.image.config]
user = "10001"

[services.app.image]
base = { registry = "${APP_BASE}" }
[[services.app.image.layers]]
name = "app"
copy = [{ from = "app", to = "/app" }]
[services.app.image.config]
user = "10001"
cmd = ["/app/run"]
"#;

struct Project {
    dir: tempfile::TempDir,
    /// The base image's OCI layout, `DIR:TAG`.
    layout: String,
}

impl Project {
    /// A stack whose `base` service builds the image `app` starts from;
    /// `extra` is appended to the stack file.
    fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("hoist.toml", format!("{STACK}{extra}")),
            ("base/motd", "built by the test\n".to_owned()),
            ("app/run", "#!/bin/sh\necho hello\n".to_owned()),
        ] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let mut project = Self {
            dir,
            layout: String::new(),
        };
        let output = project.hoist(&["build", "base", "--json"], &[("APP_BASE", "unused")]);
        let built: serde_json::Value =
            serde_json::from_slice(&assert_success(&output).stdout).unwrap();
        project.layout = format!(
            "{}:{}",
            built[0]["layout"].as_str().unwrap(),
            built[0]["tag"].as_str().unwrap()
        );
        project
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs hoist with nothing of the machine's environment but `PATH`
    /// (after the test's own bin directory).
    fn hoist(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::cargo_bin("hoist")
            .unwrap()
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", path)
            .env("HOIST_CACHE_DIR", self.path("cache"))
            .env("DOCKER_CONFIG", self.path("docker"))
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap()
    }

    fn push(&self, target: &str, creds: Option<&str>) {
        let mut skopeo = std::process::Command::new("skopeo");
        skopeo.args(["copy", "--dest-tls-verify=false"]);
        if let Some(creds) = creds {
            skopeo.args(["--dest-creds", creds]);
        }
        let output = skopeo
            .arg(format!("oci:{}", self.layout))
            .arg(format!("docker://{target}"))
            .output()
            .unwrap();
        assert_success(&output);
    }

    /// `hoist build app --json` on `base`: the manifest digest, or the
    /// failure's stderr.
    fn build_app(&self, base: &str, env: &[(&str, &str)]) -> Result<String, String> {
        let mut env = env.to_vec();
        env.push(("APP_BASE", base));
        let output = self.hoist(&["build", "app", "--json"], &env);
        if output.status.success() {
            assert!(output.stderr.is_empty(), "{output:?}");
            let built: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            Ok(built[0]["manifest_digest"].as_str().unwrap().to_owned())
        } else {
            assert_eq!(output.status.code(), Some(1), "{output:?}");
            Err(String::from_utf8(output.stderr).unwrap())
        }
    }

    /// Docker's config.json, and a `docker-credential-test` that answers
    /// for `server` with `user` and `secret`.
    fn docker_login_through_helper(&self, server: &str, user: &str, secret: &str) {
        std::fs::create_dir_all(self.path("docker")).unwrap();
        std::fs::write(
            self.path("docker/config.json"),
            r#"{"auths": {}, "credsStore": "test"}"#,
        )
        .unwrap();
        let helper = self.path("bin/docker-credential-test");
        std::fs::create_dir_all(helper.parent().unwrap()).unwrap();
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nserver=$(cat)\nif [ \"$server\" = '{server}' ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{secret}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n"
            ),
        )
        .unwrap();
        let mut permissions = std::fs::metadata(&helper).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&helper, permissions).unwrap();
    }
}

fn assert_success(output: &Output) -> &Output {
    assert!(
        output.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn skopeo_missing() -> bool {
    if std::process::Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok()
    {
        return false;
    }
    assert!(
        !hoist_testkit::services_required(),
        "skopeo is required here; .ci/setup.sh installs it"
    );
    true
}

#[test]
fn a_credential_helper_named_by_docker_config_logs_in_to_a_token_registry() {
    let auth = TokenAuth::new("ci", false);
    let Some(registry) = LocalRegistry::with_token_auth(auth.clone()) else {
        return;
    };
    if skopeo_missing() {
        return;
    }
    let project = Project::new("");
    let address = registry.address();
    let base = format!("{address}/team/base:1");
    project.push(&base, Some(&format!("{}:{}", auth.user, auth.password)));

    let anonymous = project.build_app(&base, &[]).unwrap_err();
    assert!(
        anonymous.contains(&format!("{address} requires credentials to pull team/base and none were found; log in with `docker login {address}` or set HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD")),
        "{anonymous}"
    );

    project.docker_login_through_helper(address, &auth.user, &auth.password);
    let digest = project.build_app(&base, &[]).unwrap();
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert!(
        registry
            .token_requests()
            .iter()
            .any(|r| r.user.as_deref() == Some("ci") && !r.refused),
        "{:?}",
        registry.token_requests()
    );

    let stale = format!("{}-stale", auth.password);
    project.docker_login_through_helper(address, &auth.user, &stale);
    let refused = project.build_app(&base, &[]).unwrap_err();
    let config = project.path("docker/config.json");
    assert!(
        refused.contains(&format!(
            "{address} refused the credentials of user `ci` from docker-credential-test (named in {}) for team/base; log in again with `docker login {address}`",
            config.display()
        )),
        "{refused}"
    );
    assert!(!refused.contains(&stale) && !refused.contains(&auth.password));
}

#[test]
fn mirrors_come_from_the_stack_file_and_the_variable_wins() {
    let (Some(mirror), Some(empty)) = (LocalRegistry::start(), LocalRegistry::start()) else {
        return;
    };
    if skopeo_missing() {
        return;
    }
    // An upstream that does not answer: only a mirror can give the image.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let project = Project::new(&format!(
        "\n[registries]\nmirrors = {{ \"docker.io\" = [\"{mirror}\"], \"{upstream}\" = [\"{empty}\"] }}\n",
        mirror = mirror.address(),
        empty = empty.address(),
    ));
    project.push(
        &format!("{}/library/python:3.11-slim-bookworm", mirror.address()),
        None,
    );
    project.push(&format!("{}/team/base:1", mirror.address()), None);

    let from_hub = project
        .build_app("docker.io/library/python:3.11-slim-bookworm", &[])
        .unwrap();

    let base = format!("{upstream}/team/base:1");
    let from_file = project.build_app(&base, &[]).unwrap_err();
    assert!(
        from_file.contains(&format!(
            "base image docker://{base}: mirror {} has no image team/base:1; check the reference; then {upstream}: ",
            empty.address()
        )),
        "{from_file}"
    );
    let variable = format!("{upstream}={}", mirror.address());
    let from_variable = project
        .build_app(&base, &[("HOIST_REGISTRY_MIRRORS", &variable)])
        .unwrap();
    assert_eq!(from_variable, from_hub);
}

/// The reference app's recipes name public Docker Hub bases. On our
/// machines the only way to them is the mirror in `HOIST_REGISTRY_MIRRORS`
/// (CI's, seeded by `cargo xtask bases --seed-mirror`): each image's base
/// layer is the one the mirror holds under that name.
#[test]
fn the_reference_app_builds_on_its_public_bases_through_the_mirror() {
    let Some(mirror) = hoist_testkit::mirror::app_bases() else {
        return;
    };
    // No cluster: the node port is never used.
    let app = crate::app::App::new("mirror-build", 30099, None);
    let output = app.hoist(&["build", "--json"]);
    let built: serde_json::Value = serde_json::from_slice(&assert_success(&output).stdout).unwrap();
    let images = built.as_array().unwrap();
    let services: Vec<&str> = images
        .iter()
        .map(|image| image["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["database", "backend", "frontend"]);
    for image in images {
        let service = image["service"].as_str().unwrap();
        let base = &image["layers"][0];
        assert_eq!(base["name"], "base", "{service}");
        assert_eq!(
            [base["diff_id"].as_str().unwrap()],
            mirror.diff_ids(service),
            "{service}'s base is not the one the mirror {} holds",
            mirror.address
        );
    }
}
