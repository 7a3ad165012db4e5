//! The reference app on the real test cluster: its three images built by
//! hoist-imager from `examples/todo-chatbot/hoist.toml` on its public bases (here from CI's mirror),
//! imported into the cluster's containerd, and `charts/todo-chatbot`
//! installed by `helm install --wait` with them (`pullPolicy: Never`). The
//! release becomes Ready; the frontend's `NodePort` serves the page and proxies
//! the API to the backend, which keeps tasks in PostgreSQL on a volume from
//! the cluster's storage stand-in; the tasks survive the database pod's
//! replacement; uninstalling and deleting the namespace frees the volume.
//!
//! Run it with:
//! ```text
//! cargo xtask k8s up
//! source /var/lib/hoist-ci/env # HOIST_REGISTRY_MIRRORS: the mirror of the app's bases
//! HOIST_E2E_KUBECONFIG=/var/lib/hoist-k8s/kubeconfig \
//!   cargo nextest run -p hoist-e2e chatbot
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use hoist_imager::{BuildOptions, Built, NoReporter, Recipe};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client};
use tokio::time::{sleep, timeout};

use crate::cluster::{
    ROLLOUT, client, create_namespace, ctr, delete_namespace, helm, http, ready_pods,
};

/// The chart's default frontend `NodePort`.
const NODE_PORT: u16 = 30080;
const RELEASE: &str = "todo";
/// Namespaces are this and the test's pid.
const NS_PREFIX: &str = "hoist-chatbot";
const DATABASE_SELECTOR: &str =
    "app.kubernetes.io/name=todo-database,app.kubernetes.io/instance=todo";

/// Builds the service's image from the example's recipe. The cache is the
/// one hoist-imager's own app test uses (`target/tmp` is shared by the
/// workspace's tests): its lock serialises the two, and the second finds
/// the first's layers and prepared outputs.
fn build(service: &str, out: &Path) -> Built {
    let stack = hoist_e2e::repo_root().join("examples/todo-chatbot/hoist.toml");
    let recipe = Recipe::from_stack_file(&stack, service).unwrap();
    let mut options = BuildOptions::new(service, out.join(service));
    options.cache_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("imager-app-cache");
    hoist_imager::build(&recipe, &options, &NoReporter)
        .unwrap_or_else(|e| panic!("building the {service} image: {e}"))
}

/// The status code and body of an HTTP response.
fn parse(response: &str) -> (u16, &str) {
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, body)
}

/// Sends a JSON request through the frontend's node port; status and body.
fn api(method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer.as_str()));
    }
    let response = http(NODE_PORT, method, path, &headers, body)
        .unwrap_or_else(|e| panic!("{method} 127.0.0.1:{NODE_PORT}{path}: {e}"));
    let (status, body) = parse(&response);
    (status, body.to_owned())
}

/// Retries `attempt` every second until it returns `Some`, for at most `within`.
async fn eventually<T>(within: Duration, what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        sleep(Duration::from_secs(1)).await;
    }
}

/// The uid of the database pod once one is Ready.
async fn ready_database_pod(pods: &Api<Pod>) -> String {
    timeout(ROLLOUT, async {
        loop {
            if let Some(uid) = ready_pods(pods, DATABASE_SELECTOR)
                .await
                .into_iter()
                .find_map(|pod| pod.metadata.uid)
            {
                return uid;
            }
            sleep(Duration::from_millis(500)).await;
        }
    })
    .await
    .expect("the database pod is Ready in time")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_todo_chatbot_chart_installs_serves_and_keeps_its_data() {
    let Some(kubeconfig) = hoist_testkit::service_path(hoist_testkit::KUBECONFIG) else {
        return;
    };
    if hoist_testkit::mirror::app_bases().is_none() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let mut values = Vec::new();
    for service in ["database", "backend", "frontend"] {
        let built = build(service, out.path());
        ctr(
            &kubeconfig,
            &["images", "import", &built.archive.to_string_lossy()],
        );
        let (repository, tag) = built.reference.rsplit_once(':').unwrap();
        values.push(format!("todo-{service}.image.repository={repository}"));
        values.push(format!("todo-{service}.image.tag={tag}"));
        values.push(format!("todo-{service}.image.pullPolicy=Never"));
    }

    let client: Client = client(&kubeconfig).await;
    delete_leftovers(&client).await;
    let ns = create_namespace(&client, NS_PREFIX).await;
    install(&kubeconfig, &ns, &values);
    let (volume, volume_dir) = assert_ready(&client, &ns).await;
    assert!(Path::new(&volume_dir).join("pgdata/PG_VERSION").is_file());

    let token = sign_up().await;
    let title = "survive a database restart";
    let (status, body) = api(
        "POST",
        "/api/tasks",
        Some(&token),
        &serde_json::json!({ "title": title }).to_string(),
    );
    assert_eq!(status, 201, "{body}");

    restart_database(&client, &ns).await;
    let tasks = eventually(
        Duration::from_secs(120),
        "the tasks after the restart",
        || {
            let (status, body) = api("GET", "/api/tasks", Some(&token), "");
            (status == 200).then_some(body)
        },
    )
    .await;
    let tasks: serde_json::Value = serde_json::from_str(&tasks).unwrap();
    assert_eq!(tasks[0]["title"], title, "{tasks}");

    helm(&kubeconfig, &ns, &["uninstall", RELEASE, "--wait"]);
    delete_namespace(&client, &ns).await;
    // The claim went with the namespace; the stand-in deletes its volume.
    let volumes = Api::<PersistentVolume>::all(client.clone());
    timeout(ROLLOUT, async {
        while volumes.get_opt(&volume).await.unwrap().is_some() {
            sleep(Duration::from_secs(1)).await;
        }
    })
    .await
    .expect("the released volume is deleted in time");
    assert!(!Path::new(&volume_dir).exists(), "{volume_dir} is left");
}

/// Deletes what an earlier, failed run left for inspection: its release
/// holds the frontend's node port.
async fn delete_leftovers(client: &Client) {
    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    for ns in namespaces.items {
        let name = ns.metadata.name.unwrap_or_default();
        if name.starts_with(&format!("{NS_PREFIX}-")) {
            delete_namespace(client, &name).await;
        }
    }
}

/// `helm install --wait` of the umbrella chart with `values` set.
fn install(kubeconfig: &Path, ns: &str, values: &[String]) {
    let chart = hoist_e2e::repo_root().join("charts/todo-chatbot");
    let chart = chart.to_string_lossy();
    let mut args = vec!["install", RELEASE, &chart, "--wait", "--timeout", "300s"];
    for value in values {
        args.extend(["--set", value]);
    }
    let started = Instant::now();
    helm(kubeconfig, ns, &args);
    // Recorded in the suite's output, not asserted (BENCHMARKS.md has timings).
    #[allow(clippy::print_stdout)]
    {
        println!(
            "helm install --wait of charts/todo-chatbot: {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
}

/// Checks that every tier is Ready and the database's claim is bound; the
/// volume's name and directory.
async fn assert_ready(client: &Client, ns: &str) -> (String, String) {
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns);
    for name in ["todo-todo-backend", "todo-todo-frontend"] {
        let status = deployments.get(name).await.unwrap().status.unwrap();
        assert_eq!(status.ready_replicas, Some(1), "{name}: {status:?}");
    }
    let database = Api::<StatefulSet>::namespaced(client.clone(), ns)
        .get("todo-todo-database")
        .await
        .unwrap();
    assert_eq!(database.status.unwrap().ready_replicas, Some(1));
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    let [claim] = claims.items.as_slice() else {
        panic!("one claim, the database's: {claims:?}")
    };
    let volume = claim.spec.as_ref().unwrap().volume_name.clone().unwrap();
    let volume_dir = Api::<PersistentVolume>::all(client.clone())
        .get(&volume)
        .await
        .unwrap()
        .spec
        .unwrap()
        .host_path
        .expect("the storage stand-in makes hostPath volumes")
        .path;
    (volume, volume_dir)
}

/// Loads the page, then signs a user up through the frontend's same-origin
/// API proxy; the user's token.
async fn sign_up() -> String {
    let page = eventually(Duration::from_secs(60), "the frontend's page", || {
        http(NODE_PORT, "GET", "/", &[], "").ok()
    })
    .await;
    let (status, body) = parse(&page);
    assert_eq!(status, 200, "{page}");
    assert!(body.contains("<html"), "{body}");

    let password = hoist_testkit::fake_secret("e2e-", 24, u64::from(std::process::id()));
    let credentials = serde_json::json!({"username": "e2e_user", "password": password}).to_string();
    let (status, body) = api("POST", "/api/auth/signup", None, &credentials);
    assert_eq!(status, 201, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Deletes the database pod and waits for its replacement to be Ready.
async fn restart_database(client: &Client, ns: &str) {
    let pods = Api::<Pod>::namespaced(client.clone(), ns);
    let first = ready_database_pod(&pods).await;
    pods.delete("todo-todo-database-0", &DeleteParams::default())
        .await
        .unwrap();
    timeout(ROLLOUT, async {
        while ready_database_pod(&pods).await == first {
            sleep(Duration::from_millis(500)).await;
        }
    })
    .await
    .expect("a new database pod is Ready in time");
}
