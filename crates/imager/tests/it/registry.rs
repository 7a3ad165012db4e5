//! Bases pulled from real registries (distribution 2.8) give the same image
//! as the same base read from its OCI layout: anonymous, basic auth, token
//! auth as Docker Hub runs it (with a token server the test starts),
//! credentials from Docker's config.json, and through mirrors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use hoist_imager::{BuildOptions, NoReporter, Recipe, Registries, RegistryAuth, build};
use hoist_testkit::registry::{LocalRegistry, TokenAuth, TokenRequest};

use crate::support::{APP_RECIPE, built_app, recipe, run};

fn push(layout: &str, target: &str, creds: Option<&str>) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--dest-tls-verify=false"]);
    if let Some(creds) = creds {
        cmd.args(["--dest-creds", creds]);
    }
    run(cmd
        .arg(format!("oci:{layout}"))
        .arg(format!("docker://{target}")));
}

/// A base image in an OCI layout, the app's sources, and the digest the app
/// builds to on that base read from the layout.
struct Fixture {
    dir: tempfile::TempDir,
    src: tempfile::TempDir,
    layout: String,
    expected: String,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (src, base) = built_app(dir.path(), "base");
        let layout = format!("{}:{}", base.layout.display(), base.tag);
        let mut fixture = Self {
            dir,
            src,
            layout,
            expected: String::new(),
        };
        let from_layout = fixture.recipe(&format!("{{ oci-layout = \"{}\" }}", fixture.layout));
        fixture.expected = digest_of(&from_layout, &fixture.options("layout")).unwrap();
        fixture
    }

    fn recipe(&self, base: &str) -> Recipe {
        recipe(self.src.path(), &format!("base = {base}\n{APP_RECIPE}"))
    }

    fn registry_recipe(&self, reference: &str) -> Recipe {
        self.recipe(&format!("{{ registry = \"{reference}\" }}"))
    }

    /// Options with their own output and cache, and no credentials, Docker
    /// config or mirrors of the machine's.
    fn options(&self, name: &str) -> BuildOptions {
        crate::support::options(
            "backend",
            &self.dir.path().join(format!("out-{name}")),
            &self.dir.path().join(format!("cache-{name}")),
        )
    }

    /// A Docker config directory holding `config`.
    fn docker_config(&self, name: &str, config: &serde_json::Value) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        dir
    }
}

/// The manifest digest `recipe` builds to, or the error's message.
fn digest_of(recipe: &Recipe, options: &BuildOptions) -> Result<String, String> {
    build(recipe, options, &NoReporter)
        .map(|built| built.manifest_digest)
        .map_err(|e| e.to_string())
}

fn basic(auth: &TokenAuth) -> RegistryAuth {
    RegistryAuth::Basic {
        user: auth.user.clone(),
        password: auth.password.clone(),
    }
}

/// A registry with token auth for `user`, holding the fixture's base as `image`.
fn token_registry(
    user: &str,
    anonymous_pull: bool,
    image: &str,
) -> Option<(TokenAuth, LocalRegistry, Fixture)> {
    let auth = TokenAuth::new(user, anonymous_pull);
    let registry = LocalRegistry::with_token_auth(auth.clone())?;
    let fixture = Fixture::new();
    push(
        &fixture.layout,
        &format!("{}/{image}", registry.address()),
        Some(&format!("{}:{}", auth.user, auth.password)),
    );
    Some((auth, registry, fixture))
}

#[test]
fn a_registry_base_builds_the_same_image_as_its_layout() {
    let Some(anonymous) = hoist_testkit::service(hoist_testkit::REGISTRY) else {
        return;
    };
    let Some(authed) = hoist_testkit::service(hoist_testkit::REGISTRY_AUTH) else {
        return;
    };
    let user = std::env::var("HOIST_TEST_REGISTRY_AUTH_USER").unwrap();
    let password = std::env::var("HOIST_TEST_REGISTRY_AUTH_PASSWORD").unwrap();
    let fixture = Fixture::new();
    let name = format!("hoist-imager-it/base:{}", std::process::id());
    push(&fixture.layout, &format!("{anonymous}/{name}"), None);
    push(
        &fixture.layout,
        &format!("{authed}/{name}"),
        Some(&format!("{user}:{password}")),
    );

    let from_registry = digest_of(
        &fixture.registry_recipe(&format!("{anonymous}/{name}")),
        &fixture.options("anonymous"),
    );
    assert_eq!(from_registry, Ok(fixture.expected.clone()));

    let authed_recipe = fixture.registry_recipe(&format!("{authed}/{name}"));
    let refused = digest_of(&authed_recipe, &fixture.options("refused")).unwrap_err();
    assert_eq!(
        refused,
        format!(
            "base image docker://{authed}/{name}: {authed} requires credentials to pull hoist-imager-it/base and none were found; log in with `docker login {authed}` or set HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD"
        )
    );
    let mut options = fixture.options("basic");
    options.registry_auth = RegistryAuth::Basic {
        user,
        password: password.clone(),
    };
    assert!(!format!("{options:?}").contains(&password));
    assert_eq!(
        digest_of(&authed_recipe, &options),
        Ok(fixture.expected.clone())
    );
}

#[test]
fn token_auth_pulls_anonymously_and_with_credentials_as_docker_hub_does() {
    let Some((auth, registry, fixture)) = token_registry("hoist", true, "library/python:3.11")
    else {
        return;
    };
    let address = registry.address();
    let recipe = fixture.registry_recipe(&format!("{address}/library/python:3.11"));
    let anonymous_scope = "repository:library/python:pull".to_owned();

    // Anonymous: the token server grants pull without credentials.
    let before = registry.token_requests().len();
    assert_eq!(
        digest_of(&recipe, &fixture.options("anonymous")),
        Ok(fixture.expected.clone())
    );
    let asked = registry.token_requests().split_off(before);
    assert!(!asked.is_empty(), "no token was asked for");
    assert!(
        asked.iter().all(|r| r.user.is_none() && !r.refused),
        "{asked:?}"
    );
    assert!(
        asked.iter().any(|r| r.scopes == [anonymous_scope.clone()]),
        "{asked:?}"
    );

    // With credentials: the token request carries them.
    let before = registry.token_requests().len();
    let mut options = fixture.options("credentials");
    options.registry_auth = basic(&auth);
    assert_eq!(digest_of(&recipe, &options), Ok(fixture.expected.clone()));
    let asked = registry.token_requests().split_off(before);
    assert!(
        asked.contains(&TokenRequest {
            user: Some("hoist".into()),
            scopes: vec![anonymous_scope],
            refused: false
        }),
        "{asked:?}"
    );

    // Wrong credentials: the registry and the fix are named, the password never.
    let mut options = fixture.options("wrong");
    let wrong = format!("{}-wrong", auth.password);
    options.registry_auth = RegistryAuth::Basic {
        user: "hoist".into(),
        password: wrong.clone(),
    };
    let error = digest_of(&recipe, &options).unwrap_err();
    assert_eq!(
        error,
        format!(
            "base image docker://{address}/library/python:3.11: {address} refused the credentials of user `hoist` from HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD for library/python; check HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD"
        )
    );
    assert!(!format!("{error}{options:?}").contains(&auth.password));
}

#[test]
fn a_private_token_registry_needs_credentials_and_takes_them_from_docker_config() {
    let Some((auth, registry, fixture)) = token_registry("builder", false, "team/base:1") else {
        return;
    };
    let address = registry.address();
    let reference = format!("{address}/team/base:1");
    let recipe = fixture.registry_recipe(&reference);

    let error = digest_of(&recipe, &fixture.options("anonymous")).unwrap_err();
    assert_eq!(
        error,
        format!(
            "base image docker://{reference}: {address} requires credentials to pull team/base and none were found; log in with `docker login {address}` or set HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD"
        )
    );

    // `auths` as `docker login` writes it: base64 of user:password.
    let encode = |user: &str, password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    };
    let config = fixture.docker_config(
        "docker-auths",
        &serde_json::json!({"auths": {address: {"auth": encode(&auth.user, &auth.password)}}}),
    );
    let mut options = fixture.options("auths");
    options.registries.docker_config = Some(config);
    assert_eq!(digest_of(&recipe, &options), Ok(fixture.expected.clone()));
    assert!(
        registry
            .token_requests()
            .iter()
            .any(|r| r.user.as_deref() == Some("builder") && !r.refused)
    );

    // A stale entry: the file is named with the fix, the password is not shown.
    let stale = format!("{}-stale", auth.password);
    let config = fixture.docker_config(
        "docker-stale",
        &serde_json::json!({"auths": {format!("http://{address}"): {"auth": encode("builder", &stale)}}}),
    );
    let mut options = fixture.options("stale");
    options.registries.docker_config = Some(config.clone());
    let error = digest_of(&recipe, &options).unwrap_err();
    assert_eq!(
        error,
        format!(
            "base image docker://{reference}: {address} refused the credentials of user `builder` from {} for team/base; log in again with `docker login {address}`",
            config.join("config.json").display()
        )
    );
    assert!(!error.contains(&stale));

    // The build's own credentials win over Docker's config.
    let mut options = fixture.options("explicit");
    options.registries.docker_config = Some(config);
    options.registry_auth = basic(&auth);
    assert_eq!(digest_of(&recipe, &options), Ok(fixture.expected.clone()));
}

fn mirrored(registry: &str, mirrors: &[&str]) -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([(
        registry.to_owned(),
        mirrors.iter().map(|m| (*m).to_owned()).collect(),
    )])
}

fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[test]
fn a_docker_hub_reference_resolves_through_its_mirror() {
    let Some(mirror) = LocalRegistry::start() else {
        return;
    };
    let fixture = Fixture::new();
    push(
        &fixture.layout,
        &format!("{}/library/python:3.11-slim-bookworm", mirror.address()),
        None,
    );
    // No machine of ours reaches Docker Hub: the image can only come from the mirror.
    for reference in [
        "docker.io/library/python:3.11-slim-bookworm",
        "python:3.11-slim-bookworm",
    ] {
        let mut options = fixture.options(&reference.replace([':', '/'], "-"));
        options
            .registries
            .add_mirrors_under(&mirrored("docker.io", &[mirror.address()]));
        assert_eq!(
            digest_of(&fixture.registry_recipe(reference), &options),
            Ok(fixture.expected.clone()),
            "{reference}"
        );
    }
}

#[test]
fn a_mirror_without_the_image_falls_back_to_the_registry() {
    let (Some(mirror), Some(upstream)) = (LocalRegistry::start(), LocalRegistry::start()) else {
        return;
    };
    let fixture = Fixture::new();
    let (mirror, upstream) = (mirror.address(), upstream.address());
    push(&fixture.layout, &format!("{upstream}/team/base:1"), None);
    let down = closed_port();
    let mut registries = Registries::default();
    registries.add_mirrors_under(&mirrored(upstream, &[&down, mirror]));

    let mut options = fixture.options("fallback");
    options.registries = registries.clone();
    assert_eq!(
        digest_of(
            &fixture.registry_recipe(&format!("{upstream}/team/base:1")),
            &options
        ),
        Ok(fixture.expected.clone())
    );

    let mut options = fixture.options("nowhere");
    options.registries = registries;
    let error = digest_of(
        &fixture.registry_recipe(&format!("{upstream}/team/none:2")),
        &options,
    )
    .unwrap_err();
    let (first, rest) = error.split_once("; then ").unwrap();
    assert!(
        first.starts_with(&format!(
            "base image docker://{upstream}/team/none:2: mirror {down}: "
        )),
        "{error}"
    );
    assert!(
        first.ends_with("check that the registry is up and the reference is right"),
        "{error}"
    );
    assert_eq!(
        rest,
        format!(
            "mirror {mirror} has no image team/none:2; check the reference; then {upstream} has no image team/none:2; check the reference"
        )
    );
}
