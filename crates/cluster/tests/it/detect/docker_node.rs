//! Nodes whose kubelet runs on the reachable Docker daemon: the rule over
//! fixtures, and detection against the real test cluster (its docker mode,
//! and look-alike pod containers on the CI dockerd in containerd mode).
#![allow(clippy::print_stderr)] // A skip is reported on stderr, as cargo test shows it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hoist_cluster::deliver::{DaemonLoader, Loader};
use hoist_cluster::env::Environment;
use hoist_cluster::target::{
    Delivery, Facts, KubeNode, PodContainer, PodRef, Target, classify, detect, pod_ref,
};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DeleteParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};
use tokio::time::timeout;

use crate::support::{Container, busybox_image, unique};

fn pod(namespace: &str, name: &str, uid: &str) -> PodRef {
    PodRef {
        namespace: namespace.into(),
        name: name.into(),
        uid: Some(uid.into()),
    }
}

/// dockershim's two containers of a pod: its sandbox and one app container.
fn dockershim_containers(pod: &PodRef) -> Vec<PodContainer> {
    ["POD", "main"]
        .map(|container| PodContainer {
            name: format!(
                "k8s_{container}_{}_{}_{}_0",
                pod.name,
                pod.namespace,
                pod.uid.as_deref().unwrap_or_default()
            ),
            pod: pod.clone(),
        })
        .into()
}

fn node_facts(nodes: Vec<KubeNode>, containers: Vec<PodContainer>) -> Facts {
    Facts {
        context: "hoist".into(),
        server: "https://127.0.0.1:6443".into(),
        pod_containers: containers,
        kube_nodes: nodes,
        ..Facts::default()
    }
}

const NODE_DAEMON: &str = "unix:///var/lib/hoist-k8s/docker/docker.sock";

#[test]
fn a_node_whose_kubelet_runs_on_the_reachable_daemon_gets_images_loaded_there() {
    let web = pod("shop", "web-1", "u-1");
    let db = pod("shop", "db-0", "u-2");
    let node = KubeNode {
        name: "hoist-node".into(),
        runtime_version: "docker://20.10.24".into(),
        pods: vec![web.clone(), db.clone(), pod("shop", "pending", "u-3")],
    };
    let mut containers = dockershim_containers(&web);
    containers.extend(dockershim_containers(&db));
    let detected = classify(&node_facts(vec![node], containers), NODE_DAEMON);
    assert_eq!(
        detected.target,
        Target::DockerNode {
            nodes: vec!["hoist-node".into()]
        }
    );
    assert_eq!(
        detected.delivery,
        Delivery::Daemon {
            host: NODE_DAEMON.into(),
            cert_dir: None
        }
    );
    assert_eq!(
        detected.evidence,
        [format!(
            "node hoist-node runs its pods on docker://20.10.24, and the Docker daemon at {NODE_DAEMON} runs 4 k8s_* containers of 2 of its pods (shop/db-0, shop/web-1)"
        )]
    );
    assert_eq!(
        detected.summary(),
        format!(
            "context hoist is a cluster whose node hoist-node runs on the local Docker daemon; images load into the Docker daemon at {NODE_DAEMON}"
        )
    );
    let json = serde_json::to_value(&detected).unwrap();
    assert_eq!(json["target"]["kind"], "docker-node");
    assert_eq!(json["target"]["nodes"][0], "hoist-node");
}

#[test]
fn a_docker_runtime_or_matching_pod_names_alone_are_not_enough() {
    let web = pod("shop", "web-1", "u-1");
    let on = |runtime: &str, pods: Vec<PodRef>| KubeNode {
        name: "n1".into(),
        runtime_version: runtime.into(),
        pods,
    };
    let remote = |facts: &Facts| {
        let detected = classify(facts, NODE_DAEMON);
        assert_eq!(
            detected.target,
            Target::Remote {
                server: "https://127.0.0.1:6443".into()
            },
            "{detected:?}"
        );
        assert_eq!(detected.delivery, Delivery::Registry);
        detected.evidence
    };

    // The node runs on containerd, whatever the daemon runs.
    let evidence = remote(&node_facts(
        vec![on("containerd://1.6.20", vec![web.clone()])],
        dockershim_containers(&web),
    ));
    assert_eq!(
        evidence[0],
        "node n1 runs its pods on containerd://1.6.20, not Docker"
    );

    // A Docker node, but this daemon runs another cluster's pod of the same
    // name (another uid): it is not that node's daemon.
    let evidence = remote(&node_facts(
        vec![on("docker://20.10.24", vec![web.clone()])],
        dockershim_containers(&pod("shop", "web-1", "another-uid")),
    ));
    assert_eq!(
        evidence[0],
        format!(
            "node n1 runs its pods on docker://20.10.24, but the Docker daemon at {NODE_DAEMON} runs no container of its 1 pods"
        )
    );

    // Two nodes, one of them elsewhere: loading here would miss its pods.
    let other = KubeNode {
        name: "n2".into(),
        runtime_version: "docker://24.0.7".into(),
        pods: vec![pod("shop", "web-2", "u-9")],
    };
    let evidence = remote(&node_facts(
        vec![on("docker://20.10.24", vec![web.clone()]), other],
        dockershim_containers(&web),
    ));
    assert_eq!(
        evidence[2],
        "but nodes n2 do not run on that daemon: images loaded there would not reach their pods"
    );

    // Nothing gathered (the daemon runs no pod containers): today's rules.
    let evidence = remote(&node_facts(vec![], vec![]));
    assert_eq!(
        evidence,
        [
            "no Minikube profile, kind or k3d node, or Docker Desktop serves https://127.0.0.1:6443; images go through a registry"
        ]
    );
}

#[test]
fn pods_are_the_same_by_namespace_name_and_uid_when_both_know_it() {
    let labelled = pod("a", "p", "u");
    assert!(labelled.same_pod(&pod("a", "p", "u")));
    assert!(!labelled.same_pod(&pod("a", "p", "v")));
    assert!(!labelled.same_pod(&pod("b", "p", "u")));
    let unlabelled = PodRef {
        uid: None,
        ..labelled.clone()
    };
    assert!(unlabelled.same_pod(&labelled));
}

#[test]
fn a_mirror_pod_is_known_by_its_static_pods_uid() {
    let pod = |annotations: serde_json::Value| -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": "kube-system", "name": "etcd-minikube",
                         "uid": "mirror-object-uid", "annotations": annotations},
        }))
        .unwrap()
    };
    // What dockershim labels the containers with: the static pod's uid.
    assert_eq!(
        pod_ref(&pod(
            serde_json::json!({"kubernetes.io/config.mirror": "static-uid"})
        )),
        self::pod("kube-system", "etcd-minikube", "static-uid")
    );
    assert_eq!(
        pod_ref(&pod(serde_json::json!({}))),
        self::pod("kube-system", "etcd-minikube", "mirror-object-uid")
    );
}

/// The pause image both runtimes of the test cluster hold (`up` puts it there).
const PAUSE_IMAGE: &str = "k8s.gcr.io/pause:3.2";
/// How long a pod may take to run, or a namespace to go.
const WAIT: Duration = Duration::from_secs(180);

/// A pod of the test cluster in a namespace of its own, running the pause
/// image; [`ClusterPod::remove`] deletes the namespace.
struct ClusterPod {
    client: Client,
    namespace: String,
    name: String,
    uid: String,
}

impl ClusterPod {
    async fn start(kubeconfig: &Path) -> Self {
        hoist_cluster::kubeconfig::install_crypto_provider();
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(kubeconfig).unwrap(),
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .unwrap();
        let client = Client::try_from(config).unwrap();
        let namespace = format!("hoist-detect-{}", std::process::id());
        let ns: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}})).unwrap();
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap();
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "probe"},
            "spec": {
                "containers": [{
                    "name": "main",
                    "image": PAUSE_IMAGE,
                    "imagePullPolicy": "Never",
                    "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}},
                }],
                "terminationGracePeriodSeconds": 0,
            },
        }))
        .unwrap();
        let pods = Api::<Pod>::namespaced(client.clone(), &namespace);
        // Refused until the namespace's service account has its token.
        let created = timeout(WAIT, async {
            loop {
                match pods.create(&PostParams::default(), &pod).await {
                    Err(kube::Error::Api(status)) if status.message.contains("No API token") => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    other => return other,
                }
            }
        })
        .await
        .expect("the probe pod is accepted in time");
        created.unwrap();
        timeout(
            WAIT,
            await_condition(pods.clone(), "probe", conditions::is_pod_running()),
        )
        .await
        .expect("the probe pod runs in time")
        .unwrap();
        let uid = pods.get("probe").await.unwrap().metadata.uid.unwrap();
        Self {
            client,
            namespace,
            name: "probe".into(),
            uid,
        }
    }

    async fn remove(self) {
        let namespaces = Api::<Namespace>::all(self.client.clone());
        let uid = namespaces
            .get(&self.namespace)
            .await
            .unwrap()
            .metadata
            .uid
            .unwrap();
        namespaces
            .delete(&self.namespace, &DeleteParams::default())
            .await
            .unwrap();
        timeout(
            WAIT,
            await_condition(namespaces, &self.namespace, conditions::is_deleted(&uid)),
        )
        .await
        .expect("the namespace is deleted in time")
        .unwrap();
    }
}

/// What `hoist doctor` sees with `kubeconfig` and `DOCKER_HOST=docker_host`.
fn env(home: &Path, kubeconfig: &Path, docker_host: &str) -> Environment {
    Environment::from_pairs([
        ("HOME", home.to_str().unwrap()),
        ("KUBECONFIG", kubeconfig.to_str().unwrap()),
        ("DOCKER_HOST", docker_host),
    ])
}

/// The node's own daemon when the test cluster runs in docker mode.
fn node_docker_host(kubeconfig: &Path) -> Option<String> {
    std::env::var("HOIST_E2E_DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            let runtime = kubeconfig.with_file_name("runtime");
            let docker = std::fs::read_to_string(runtime).is_ok_and(|r| r.trim() == "docker");
            assert!(
                !(docker && hoist_testkit::services_required()),
                "the test cluster runs in docker mode but HOIST_E2E_DOCKER_HOST is not set; \
                 export it with `eval \"$(cargo xtask k8s env)\"`"
            );
            None
        })
}

fn kubeconfig() -> Option<PathBuf> {
    hoist_testkit::service_path(hoist_testkit::KUBECONFIG)
}

#[tokio::test]
async fn the_test_clusters_docker_mode_is_detected_by_its_pod_containers() {
    let Some(kubeconfig) = kubeconfig() else {
        return;
    };
    let Some(node_daemon) = node_docker_host(&kubeconfig) else {
        eprintln!("skipped: the test cluster runs on containerd (no HOIST_E2E_DOCKER_HOST)");
        return;
    };
    let home = tempfile::tempdir().unwrap();
    // Before this test's workload: the node's resident pod (`up --runtime
    // docker`) is enough, as Minikube's system pods are. The pass's other
    // tests may have pods running already: the evidence names three pods
    // (sorted, `hoist-*` before `kube-system`) and counts the rest.
    let detected = detect(&env(home.path(), &kubeconfig, &node_daemon), None)
        .await
        .unwrap();
    assert!(
        matches!(detected.target, Target::DockerNode { .. }),
        "{detected:?}"
    );
    let evidence = detected.evidence.last().unwrap();
    assert!(
        evidence.contains("kube-system/hoist-node-resident")
            || (evidence.contains(" k8s_* containers of ") && evidence.contains(" more)")),
        "{:?}",
        detected.evidence
    );

    let pod = ClusterPod::start(&kubeconfig).await;
    let detected = detect(&env(home.path(), &kubeconfig, &node_daemon), None)
        .await
        .unwrap();
    assert_eq!(
        detected.target,
        Target::DockerNode {
            nodes: vec!["hoist-node".into()]
        },
        "{:?}",
        detected.evidence
    );
    assert_eq!(
        detected.delivery,
        Delivery::Daemon {
            host: node_daemon.clone(),
            cert_dir: None
        }
    );
    let last = detected.evidence.last().unwrap();
    assert!(
        last.starts_with("node hoist-node runs its pods on docker://")
            && last.contains(&format!("{}/{}", pod.namespace, pod.name)),
        "{last}"
    );

    // Another daemon (the CI's) does not run the node's pods: remote.
    if let Some(other) = hoist_testkit::service(hoist_testkit::DOCKER) {
        let detected = detect(&env(home.path(), &kubeconfig, &other), None)
            .await
            .unwrap();
        assert_eq!(detected.delivery, Delivery::Registry, "{detected:?}");
    }
    pod.remove().await;
}

#[tokio::test]
async fn look_alike_pod_containers_do_not_make_a_containerd_node_local() {
    let Some(kubeconfig) = kubeconfig() else {
        return;
    };
    if node_docker_host(&kubeconfig).is_some() {
        eprintln!("skipped: the test cluster runs in docker mode; this checks a containerd node");
        return;
    }
    let Some((docker, host)) = crate::docker().await else {
        return;
    };
    let pod = ClusterPod::start(&kubeconfig).await;
    // On the CI dockerd, a container named and labelled as dockershim would
    // name and label the cluster's real pod, uid included.
    let image = busybox_image(&unique("hoist-test/lookalike"), &[]);
    let reference = DaemonLoader::new(docker, host.clone())
        .deliver(&image.image, &hoist_imager::NoReporter)
        .await
        .unwrap()
        .reference;
    let name = format!("k8s_main_{}_{}_{}_0", pod.name, pod.namespace, pod.uid);
    let labels = [
        format!("io.kubernetes.pod.namespace={}", pod.namespace),
        format!("io.kubernetes.pod.name={}", pod.name),
        format!("io.kubernetes.pod.uid={}", pod.uid),
    ];
    let mut args = Vec::new();
    for label in &labels {
        args.extend(["--label".to_owned(), label.clone()]);
    }
    args.extend([reference, "sleep".into(), "600".into()]);
    let _lookalike = Container::run(&host, &name, &args);

    let home = tempfile::tempdir().unwrap();
    let detected = detect(&env(home.path(), &kubeconfig, &host), None)
        .await
        .unwrap();
    assert!(
        matches!(detected.target, Target::Remote { .. }),
        "{detected:?}"
    );
    assert_eq!(detected.delivery, Delivery::Registry);
    // The facts were gathered: the API server was asked about the node.
    assert!(
        detected.evidence.iter().any(|e| e
            .starts_with("node hoist-node runs its pods on containerd://")
            && e.ends_with(", not Docker")),
        "{:?}",
        detected.evidence
    );
    pod.remove().await;
}
