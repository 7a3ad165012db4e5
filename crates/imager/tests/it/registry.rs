//! A base pulled from a real registry (anonymous and basic auth) gives the
//! same image as the same base read from its OCI layout.

use std::process::Command;

use hoist_imager::{NoReporter, RegistryAuth, build};

use crate::support::{APP_RECIPE, app_tree, build_with, recipe, run};

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
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let base = build_with(
        &recipe(src.path(), APP_RECIPE),
        "base",
        &dir.path().join("base"),
        &dir.path().join("c0"),
    )
    .unwrap();
    let layout = format!("{}:{}", base.layout.display(), base.tag);
    let name = format!("hoist-imager-it/base:{}", std::process::id());
    push(&layout, &format!("{anonymous}/{name}"), None);
    push(
        &layout,
        &format!("{authed}/{name}"),
        Some(&format!("{user}:{password}")),
    );

    let with_base = |base: String| recipe(src.path(), &format!("base = {base}\n{APP_RECIPE}"));
    let from_layout = build_with(
        &with_base(format!("{{ oci-layout = \"{layout}\" }}")),
        "backend",
        &dir.path().join("a"),
        &dir.path().join("c1"),
    )
    .unwrap();
    let from_registry = build_with(
        &with_base(format!("{{ registry = \"{anonymous}/{name}\" }}")),
        "backend",
        &dir.path().join("b"),
        &dir.path().join("c2"),
    )
    .unwrap();
    assert_eq!(from_registry.manifest_digest, from_layout.manifest_digest);

    let authed_recipe = with_base(format!("{{ registry = \"{authed}/{name}\" }}"));
    let mut options =
        crate::support::options("backend", &dir.path().join("c"), &dir.path().join("c3"));
    let refused = build(&authed_recipe, &options, &NoReporter)
        .unwrap_err()
        .to_string();
    assert!(
        refused.starts_with(&format!("base image docker://{authed}/{name}: ")),
        "{refused}"
    );
    assert!(refused.ends_with("check the reference, that the registry is up, and HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD or HOIST_REGISTRY_TOKEN"), "{refused}");
    options.registry_auth = RegistryAuth::Basic {
        user,
        password: password.clone(),
    };
    assert!(!format!("{options:?}").contains(&password));
    let from_authed = build(&authed_recipe, &options, &NoReporter).unwrap();
    assert_eq!(from_authed.manifest_digest, from_layout.manifest_digest);
}
