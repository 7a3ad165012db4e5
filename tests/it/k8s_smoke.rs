//! Smoke tests of the real test cluster from `cargo xtask k8s up`: objects
//! applied through the API become running containers on a real `kubelet`,
//! reachable through a node port, named by the DNS stand-in, replaced when
//! deleted, and installable by Helm; images come to the node both ways a
//! cluster gets them: pulled by digest from the CI's registry (containerd
//! mode, the path of every remote cluster), or loaded into the node's own
//! Docker daemon (`up --runtime docker`, as on Minikube).
//!
//! Run them with:
//! ```text
//! cargo xtask k8s up
//! HOIST_E2E_KUBECONFIG=/var/lib/hoist-k8s/kubeconfig HOIST_BASES_DIR=/var/cache/hoist/bases \
//!   cargo nextest run -p hoist-e2e k8s_smoke
//! ```
//! The test image is made from the offline python base with umoci and
//! imported into the cluster's containerd next to the kubeconfig; the
//! registry and node-daemon tests build busybox images with umoci and hand
//! them over with skopeo and the docker CLI. In docker mode export
//! `HOIST_E2E_DOCKER_HOST` too (`eval "$(cargo xtask k8s env)"`) and run
//! `cargo nextest run -p hoist-e2e -E 'test(/^k8s_smoke::(node_daemon|registry)/)'`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hoist_e2e::run;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::api::{AttachParams, DeleteParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::time::{sleep, timeout};

use crate::cluster::{
    ROLLOUT, busybox_layout, client, create_namespace, ctr, delete_namespace, helm, http_get,
    locked, node_docker_host, ready_pods, running_pod,
};

/// The image every test here runs; `imagePullPolicy: Never`, as it is imported.
const IMAGE: &str = "hoist.test/smoke:1";

/// The cluster's kubeconfig and a client for it, with `IMAGE` imported; `None`
/// when the test is skipped.
async fn cluster() -> Option<(PathBuf, Client)> {
    let kubeconfig = hoist_testkit::service_path(hoist_testkit::KUBECONFIG)?;
    let bases = hoist_testkit::service_path(hoist_testkit::BASES)?;
    import_image(&kubeconfig, &bases.join("python.tar"));
    let client = client(&kubeconfig).await;
    Some((kubeconfig, client))
}

/// Builds `IMAGE` (the python base as one layer) and imports it into the
/// kubelet's runtime (the cluster's containerd, or in docker mode the node's
/// daemon) unless an earlier test did.
fn import_image(kubeconfig: &Path, python_base: &Path) {
    assert!(
        python_base.is_file(),
        "{} is missing; build it with `cargo xtask bases`",
        python_base.display()
    );
    let node_docker = node_docker_host(kubeconfig);
    let ctr = |args: &[&str]| ctr(kubeconfig, args);
    let docker = |args: &[&str]| {
        let host = node_docker.as_deref().expect("docker mode");
        locked(
            kubeconfig,
            Command::new("docker").env("DOCKER_HOST", host).args(args),
        )
    };
    let present = if node_docker.is_some() {
        docker(&["images", "-q", IMAGE])
    } else {
        ctr(&["images", "ls", "-q", &format!("name=={IMAGE}")])
    };
    if !present.trim().is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let (repo, tag) = IMAGE.rsplit_once(':').unwrap();
    let image = format!("{}:{tag}", layout.display());
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci").args(["new", "--image", &image]));
    run(Command::new("umoci")
        .args(["raw", "add-layer", "--image", &image])
        .arg(python_base));
    run(Command::new("umoci").args(["config", "--image", &image, "--config.cmd", "python3"]));
    let archive = dir.path().join("smoke.tar");
    if node_docker.is_some() {
        run(Command::new("skopeo")
            .arg("copy")
            .arg(format!("oci:{image}"))
            .arg(format!("docker-archive:{}:{IMAGE}", archive.display())));
        docker(&["load", "--input", &archive.to_string_lossy()]);
        return;
    }
    run(Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&archive)
        .arg("."));
    ctr(&[
        "images",
        "import",
        "--base-name",
        repo,
        &archive.to_string_lossy(),
    ]);
}

/// Runs `script` with the image's python in pod `pod` and returns its stdout.
async fn exec_python(pods: &Api<Pod>, pod: &str, script: &str) -> String {
    exec(pods, pod, &["python3", "-c", script]).await
}

/// Runs `command` in pod `pod` and returns its stdout.
async fn exec(pods: &Api<Pod>, pod: &str, command: &[&str]) -> String {
    let mut process = pods
        .exec(
            pod,
            command.iter().copied(),
            &AttachParams::default().stderr(false),
        )
        .await
        .unwrap();
    let mut stdout = String::new();
    process
        .stdout()
        .expect("stdout is attached")
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    process.join().await.unwrap();
    stdout
}

/// Creates the namespaced object described by `object` in `ns`.
async fn create<K>(client: &Client, ns: &str, object: serde_json::Value) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + k8s_openapi::serde::de::DeserializeOwned
        + k8s_openapi::serde::Serialize
        + Clone
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let object: K = serde_json::from_value(object).unwrap();
    Api::<K>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &object)
        .await
        .unwrap()
}

/// Creates `ConfigMap` `page` holding `page` as `index.html`, `Deployment` `web`
/// serving it with `python3 -m http.server`, and `NodePort` `Service` `web`; returns
/// the cluster IP and the node port.
async fn create_web(client: &Client, ns: &str, page: &str) -> (String, u16) {
    create::<ConfigMap>(
        client,
        ns,
        json!({
            "metadata": {"name": "page"},
            "data": {"index.html": page},
        }),
    )
    .await;
    create::<Deployment>(client, ns, json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": IMAGE,
                        "imagePullPolicy": "Never",
                        "command": ["python3", "-m", "http.server", "8080", "--directory", "/srv"],
                        "ports": [{"containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/index.html", "port": 8080}, "periodSeconds": 1},
                        "volumeMounts": [{"name": "page", "mountPath": "/srv"}],
                    }],
                    "volumes": [{"name": "page", "configMap": {"name": "page"}}],
                    "terminationGracePeriodSeconds": 1,
                },
            },
        },
    }))
    .await;
    let service = create::<Service>(
        client,
        ns,
        json!({
            "metadata": {"name": "web"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": 8080}],
            },
        }),
    )
    .await;
    let spec = service.spec.unwrap();
    let cluster_ip = spec.cluster_ip.unwrap();
    let node_port = u16::try_from(spec.ports.unwrap()[0].node_port.unwrap()).unwrap();

    (cluster_ip, node_port)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_rolls_out_serves_a_node_port_resolves_services_and_heals() {
    let Some((_, client)) = cluster().await else {
        return;
    };
    let version = client.apiserver_version().await.unwrap();
    // The suite's output records the Kubernetes version it ran against.
    #[allow(clippy::print_stdout)]
    {
        println!("server version: {}", version.git_version);
    }

    let ns = create_namespace(&client, "hoist-smoke").await;
    let page = format!("hello from namespace {ns}\n");
    let (cluster_ip, node_port) = create_web(&client, &ns, &page).await;
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);
    timeout(
        ROLLOUT,
        await_condition(
            deployments.clone(),
            "web",
            conditions::is_deployment_completed(),
        ),
    )
    .await
    .expect("the deployment rolls out in time")
    .unwrap();

    // kube-proxy programs the NodePort a moment after the endpoint is ready.
    let mut response = String::new();
    for _ in 0..60 {
        if let Ok(r) = http_get(node_port, "/index.html") {
            response = r;
            break;
        }
        sleep(Duration::from_millis(500)).await;
    }
    assert!(
        response.starts_with("HTTP/1.0 200"),
        "GET 127.0.0.1:{node_port}/index.html: {response:?}"
    );
    assert!(response.ends_with(&page), "{response:?}");

    // Service names resolve inside pods (the dnsmasq stand-in, fed every 2 s).
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    let first = ready_pods(&pods, "app=web")
        .await
        .remove(0)
        .metadata
        .name
        .unwrap();
    let lookup = format!(
        "import socket, time\n\
         for _ in range(30):\n\
         \x20   try:\n\
         \x20       print(socket.gethostbyname('web'), socket.gethostbyname('web.{ns}.svc.cluster.local'), \
                    socket.gethostbyname('kubernetes.default'))\n\
         \x20       break\n\
         \x20   except OSError:\n\
         \x20       time.sleep(1)\n"
    );
    let resolved = exec_python(&pods, &first, &lookup).await;
    assert_eq!(resolved, format!("{cluster_ip} {cluster_ip} 10.96.0.1\n"));

    // The API is reachable from pods through the kubernetes Service.
    let api = exec_python(
        &pods,
        &first,
        "import socket; s = socket.create_connection(('kubernetes.default.svc', 443), 5); print('connected')",
    )
    .await;
    assert_eq!(api, "connected\n");

    // A deleted pod is replaced by a new one that becomes ready.
    pods.delete(&first, &DeleteParams::default()).await.unwrap();
    let replacement = timeout(ROLLOUT, async {
        loop {
            if let Some(pod) = ready_pods(&pods, "app=web")
                .await
                .into_iter()
                .filter_map(|p| p.metadata.name)
                .find(|p| *p != first)
            {
                return pod;
            }
            sleep(Duration::from_millis(500)).await;
        }
    })
    .await
    .expect("a replacement pod becomes ready in time");
    assert_ne!(replacement, first);

    delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn helm_installs_a_chart_that_becomes_ready() {
    let Some((kubeconfig, client)) = cluster().await else {
        return;
    };
    let ns = create_namespace(&client, "hoist-helm").await;

    let chart = tempfile::tempdir().unwrap();
    std::fs::write(
        chart.path().join("Chart.yaml"),
        "apiVersion: v2\nname: smoke\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::create_dir(chart.path().join("templates")).unwrap();
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "{{ .Release.Name }}"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "{{ .Release.Name }}"}},
            "template": {
                "metadata": {"labels": {"app": "{{ .Release.Name }}"}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["python3", "-m", "http.server", "8080"],
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                }], "terminationGracePeriodSeconds": 1},
            },
        },
    });
    // JSON is YAML; Helm renders the templates inside it.
    std::fs::write(
        chart.path().join("templates/deployment.yaml"),
        deployment.to_string(),
    )
    .unwrap();

    let helm = |args: &[&str]| helm(&kubeconfig, &ns, args);
    helm(&[
        "install",
        "smoke",
        &chart.path().to_string_lossy(),
        "--wait",
        "--timeout",
        "180s",
    ]);
    let status = helm(&["status", "smoke", "-o", "json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["info"]["status"], "deployed");
    let deployment = Api::<Deployment>::namespaced(client.clone(), &ns)
        .get("smoke")
        .await
        .unwrap();
    assert_eq!(deployment.status.unwrap().ready_replicas, Some(1));

    helm(&["uninstall", "smoke", "--wait"]);
    delete_namespace(&client, &ns).await;
}

/// A pod `name` running `image` with `pull` as its imagePullPolicy and a
/// small CPU request; it sleeps.
fn sleeper(name: &str, image: &str, pull: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "containers": [{
                "name": "main",
                "image": image,
                "imagePullPolicy": pull,
                "command": ["sleep", "3600"],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }],
            "terminationGracePeriodSeconds": 1,
        },
    })
}

/// The digest of what the container in `pod` runs, from its imageID
/// (`docker-pullable://REPO@sha256:...`, `REPO@sha256:...` or `sha256:...`).
fn running_digest(pod: &Pod) -> String {
    let status = &pod
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0];
    let id = &status.image_id;
    id.rsplit_once('@')
        .map_or(id.as_str(), |(_, digest)| digest)
        .trim_start_matches("docker://")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_images_are_pulled_by_digest_over_plain_http() {
    let Some(kubeconfig) = hoist_testkit::service_path(hoist_testkit::KUBECONFIG) else {
        return;
    };
    let Some(registry) = hoist_testkit::service(hoist_testkit::REGISTRY) else {
        return;
    };
    let client = client(&kubeconfig).await;
    let ns = create_namespace(&client, "hoist-registry").await;

    // Unique content, so no runtime can have it before the pull.
    let dir = tempfile::tempdir().unwrap();
    let source = busybox_layout(dir.path(), &format!("pulled into {ns}"));
    let repository = format!("{registry}/hoist-e2e/{ns}");
    let digest_file = dir.path().join("digest");
    run(Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--digestfile"])
        .arg(&digest_file)
        .arg(&source)
        .arg(format!("docker://{repository}:v1")));
    let digest = std::fs::read_to_string(&digest_file).unwrap();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let image = format!("{repository}@{digest}");

    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    create::<Pod>(&client, &ns, sleeper("pulled", &image, "IfNotPresent")).await;
    let pod = running_pod(&pods, "pulled").await;
    assert_eq!(running_digest(&pod), digest, "{:?}", pod.status);

    delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_daemon_images_run_without_a_pull_and_get_a_pod_ip() {
    let Some(kubeconfig) = hoist_testkit::service_path(hoist_testkit::KUBECONFIG) else {
        return;
    };
    let Some(host) = node_docker_host(&kubeconfig) else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipped: the cluster runs on containerd (HOIST_E2E_DOCKER_HOST is not set; \
                 `cargo xtask k8s up --runtime docker` sets up its node's daemon)"
            );
        }
        return;
    };
    let client = client(&kubeconfig).await;
    let ns = create_namespace(&client, "hoist-node-daemon").await;

    // Into the node's daemon with the docker CLI, as `minikube image load` does.
    let dir = tempfile::tempdir().unwrap();
    let source = busybox_layout(dir.path(), &format!("loaded into {ns}"));
    let name = format!("hoist.test/{ns}:v1");
    let archive = dir.path().join("image.tar");
    run(Command::new("skopeo")
        .arg("copy")
        .arg(&source)
        .arg(format!("docker-archive:{}:{name}", archive.display())));
    let docker = |args: &[&str]| run(Command::new("docker").env("DOCKER_HOST", &host).args(args));
    docker(&["load", "--input", &archive.to_string_lossy()]);

    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    create::<Pod>(&client, &ns, sleeper("loaded", &name, "Never")).await;
    let pod = running_pod(&pods, "loaded").await;
    let ip = pod
        .status
        .as_ref()
        .unwrap()
        .pod_ip
        .clone()
        .unwrap_or_default();
    assert!(ip.starts_with("10.244.0."), "pod IP {ip:?} from the bridge");

    // That daemon runs the pod's containers, labelled as dockershim labels them.
    let labelled = docker(&[
        "ps",
        "--filter",
        &format!("label=io.kubernetes.pod.namespace={ns}"),
        "--filter",
        "label=io.kubernetes.pod.name=loaded",
        "--format",
        "{{.Names}}",
    ]);
    let names: Vec<&str> = labelled.lines().collect();
    assert!(
        names.iter().any(|n| n.starts_with("k8s_main_loaded_")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("k8s_POD_loaded_")),
        "{names:?}"
    );
    // And the pod's IP is the sandbox's, inside the pod's network namespace.
    let inside = exec(&pods, "loaded", &["ip", "-4", "addr"]).await;
    assert!(inside.contains(&format!("inet {ip}/")), "{inside}");

    delete_namespace(&client, &ns).await;
}
