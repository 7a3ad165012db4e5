//! The reference app's three tiers, each its own release of the real
//! charts in `charts/`, with images hoist-imager builds from
//! `examples/todo-chatbot/hoist.toml`: the database Ready before the
//! backend starts, the backend before the frontend; then a second pass
//! that changes nothing and calls helm not once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hoist_cluster::rollout::{self, Action, ImageRef, ReleasePlan, Stage};
use hoist_imager::{BuildOptions, Built, NoReporter, Recipe};

use super::{Recorder, cluster, config_objects, figure, plan};

const PROJECT: &str = "todo-chatbot";
/// This suite's frontend NodePort (30081-30084 are the rollout tests').
const NODE_PORT: u16 = 30081;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the service's image from the example's recipe, with the cache
/// the other suites share (`target/tmp/imager-app-cache`).
fn build(service: &str, out: &Path) -> Built {
    let stack = repo().join("examples/todo-chatbot/hoist.toml");
    let recipe = Recipe::from_stack_file(&stack, service).unwrap();
    let mut options = BuildOptions::new(service, out.join(service));
    options.cache_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("imager-app-cache");
    hoist_imager::build(&recipe, &options, &NoReporter)
        .unwrap_or_else(|e| panic!("building the {service} image: {e}"))
}

fn release(
    dir: &Path,
    service: &str,
    built: &Built,
    values: &str,
    depends_on: &[&str],
) -> ReleasePlan {
    let chart = repo().join(format!("charts/todo-{service}"));
    let file = dir.join(format!("{service}-test.yaml"));
    std::fs::write(&file, values).unwrap();
    let (repository, tag) = built.reference.rsplit_once(':').unwrap();
    let name = format!("{PROJECT}-{service}");
    ReleasePlan {
        service: service.to_owned(),
        release: name.clone(),
        chart: chart.clone(),
        values_files: vec![chart.join("values.yaml"), file],
        set: vec![
            ("fullnameOverride".to_owned(), name),
            ("image.repository".to_owned(), repository.to_owned()),
            ("image.tag".to_owned(), tag.to_owned()),
            ("image.pullPolicy".to_owned(), "Never".to_owned()),
        ],
        image: Some(ImageRef {
            reference: built.reference.clone(),
            digest: built.manifest_digest.clone(),
            delivered_to: "the test cluster's containerd (k8s.io)".to_owned(),
        }),
        config: None,
        depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
        deadline: Duration::from_secs(300),
    }
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines)] // the whole story of two passes, read top to bottom
async fn three_tiers_roll_out_in_order_then_a_second_pass_does_nothing() {
    let Some(cluster) = cluster().await else {
        return;
    };
    if hoist_testkit::mirror::app_bases().is_none() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let mut built = Vec::new();
    for service in ["database", "backend", "frontend"] {
        let out = out.path().to_path_buf();
        let image = tokio::task::spawn_blocking(move || build(service, &out))
            .await
            .unwrap();
        cluster.ctr(&["images", "import", &image.archive.to_string_lossy()]);
        built.push(image);
    }
    let ns = cluster.namespace("tiers").await;
    let target = cluster.target(&ns);
    let dir = tempfile::tempdir().unwrap();
    let password = hoist_testkit::fake_secret("db-", 24, u64::from(std::process::id()));
    let jwt = hoist_testkit::fake_secret("jwt-", 40, u64::from(std::process::id()) + 1);
    let database_url = format!("postgresql://todo:{password}@{PROJECT}-database:5432/todo");

    let mut database = release(
        dir.path(),
        "database",
        &built[0],
        "resources:\n  requests: {cpu: 20m, memory: 64Mi}\n",
        &[],
    );
    database.config = Some(config_objects(
        PROJECT,
        "database",
        &[("POSTGRES_USER", "todo"), ("POSTGRES_DB", "todo")],
        &[("POSTGRES_PASSWORD", &password)],
    ));
    let mut backend = release(
        dir.path(),
        "backend",
        &built[1],
        "database:\n  fromSecret:\n    enabled: false\nresources:\n  requests: {cpu: 20m, memory: 64Mi}\nwaitForDatabase:\n  resources:\n    requests: {cpu: 10m, memory: 16Mi}\n",
        &["database"],
    );
    backend.config = Some(config_objects(
        PROJECT,
        "backend",
        &[("LOG_LEVEL", "info")],
        &[("DATABASE_URL", &database_url), ("JWT_SECRET", &jwt)],
    ));
    let mut frontend = release(
        dir.path(),
        "frontend",
        &built[2],
        &format!(
            "service:\n  nodePort: {NODE_PORT}\nresources:\n  requests: {{cpu: 20m, memory: 64Mi}}\n"
        ),
        &["backend"],
    );
    frontend.config = Some(config_objects(
        PROJECT,
        "frontend",
        &[("BACKEND_URL", &format!("http://{PROJECT}-backend:8000"))],
        &[],
    ));
    let plan = plan(
        PROJECT,
        &dir.path().join(".hoist"),
        vec![vec![database], vec![backend], vec![frontend]],
        vec![password.clone(), jwt.clone(), database_url.clone()],
    );

    let recorder = Recorder::default();
    let started = Instant::now();
    let outcome = rollout::deploy(&target, &plan, &recorder).await.unwrap();
    figure("three tiers, first pass", started.elapsed(), None);
    assert!(outcome.succeeded, "{outcome:#?}");
    assert!(
        outcome
            .services
            .iter()
            .all(|s| s.action == Action::Installed && s.ready == 1 && s.desired == 1),
        "{outcome:#?}"
    );
    let ready = |s| recorder.at(s, Stage::Ready).unwrap();
    let start = |s| recorder.at(s, Stage::Config).unwrap();
    assert!(
        ready("database") < start("backend"),
        "the backend started before the database was Ready"
    );
    assert!(
        ready("backend") < start("frontend"),
        "the frontend started before the backend was Ready"
    );
    for (service, stage) in [
        ("database", Stage::Ready),
        ("backend", Stage::Ready),
        ("frontend", Stage::Ready),
    ] {
        assert_eq!(
            recorder.stages(service),
            vec![Stage::Config, Stage::Release, Stage::Waiting, stage]
        );
    }

    let calls = target.helm.calls();
    let recorder = Recorder::default();
    let started = Instant::now();
    let again = rollout::deploy(&target, &plan, &recorder).await.unwrap();
    let noop = started.elapsed();
    figure("three tiers, no-op second pass", noop, None);
    assert!(again.succeeded, "{again:#?}");
    assert!(
        again.services.iter().all(|s| s.action == Action::Unchanged),
        "{again:#?}"
    );
    assert_eq!(
        target.helm.calls(),
        calls,
        "the no-op pass made no helm call"
    );

    let status = rollout::status(&target, &plan).await.unwrap();
    assert!(
        status
            .iter()
            .all(|s| s.status.as_deref() == Some("deployed")
                && s.ready == 1
                && s.fingerprint.is_some()),
        "{status:#?}"
    );
}
