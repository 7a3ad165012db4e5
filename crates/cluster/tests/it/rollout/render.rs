//! `Helm::template` with the values `deploy` passes, against the real helm
//! binary (no cluster needed): the names and hash of the configuration
//! objects reach the chart, their secret values never reach helm.

use std::time::Duration;

use hoist_cluster::helm::Helm;

use super::{config_objects, probe_release};

#[tokio::test]
async fn template_passes_config_names_and_hash_but_no_secret_value() {
    let env = hoist_cluster::env::Environment::current();
    let Ok(helm) = Helm::find(&env, None, None) else {
        assert!(!hoist_testkit::services_required(), "helm is not on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let secret = hoist_testkit::fake_secret("pw-", 24, 5);
    let mut release = probe_release(dir.path(), "probe", "app", "{}\n", Duration::from_secs(60));
    release
        .set
        .push(("image.tag".to_owned(), "a,b=c".to_owned()));
    release.config = Some(config_objects(
        "probe",
        "app",
        &[("GREETING", "hello")],
        &[("PASSWORD", &secret)],
    ));
    let config = release.config.clone().unwrap();
    let text = helm.template(&release, "somewhere").await.unwrap();
    assert!(
        text.contains(&format!("name: {}", config.config_map_name())),
        "{text}"
    );
    assert!(
        text.contains(&format!("name: {}", config.secret_name())),
        "{text}"
    );
    assert!(
        text.contains(&format!("hoist.dev/config-hash: \"{}\"", config.hash)),
        "{text}"
    );
    assert!(
        text.contains("image: \"hoist-rollout-busybox:a,b=c\""),
        "--set-string values are escaped: {text}"
    );
    assert!(text.contains("name: probe-app\n"), "{text}");
    assert!(!text.contains(&secret));
    assert_eq!(helm.calls(), 1);
}
