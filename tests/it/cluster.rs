//! Helpers for the suites that run against the real test cluster from
//! `cargo xtask k8s up` (found through `HOIST_E2E_KUBECONFIG`).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hoist_e2e::run;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, Config};
use serde_json::json;
use tokio::time::timeout;

/// How long a rollout or a deletion may take before a test fails.
pub(crate) const ROLLOUT: Duration = Duration::from_secs(180);

/// Runs `ctr` against the cluster's containerd, the one `cargo xtask k8s`
/// keeps beside the kubeconfig, in the namespace the kubelet uses. Tests run
/// in parallel processes, so every call holds a lock file in the state dir.
pub(crate) fn ctr(kubeconfig: &Path, args: &[&str]) -> String {
    let state = kubeconfig
        .parent()
        .expect("the kubeconfig is in the cluster's state dir");
    locked(
        kubeconfig,
        Command::new("ctr")
            .arg("--address")
            .arg(state.join("containerd/containerd.sock"))
            .args(["--namespace", "k8s.io"])
            .args(args),
    )
}

/// Runs `command` holding the import lock in the state dir next to
/// `kubeconfig` (tests run in parallel processes); its stdout.
pub(crate) fn locked(kubeconfig: &Path, command: &Command) -> String {
    let state = kubeconfig
        .parent()
        .expect("the kubeconfig is in the cluster's state dir");
    let mut flock = Command::new("flock");
    flock
        .arg(state.join("import.lock"))
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => flock.env(key, value),
            None => flock.env_remove(key),
        };
    }
    run(&mut flock)
}

pub(crate) async fn client(kubeconfig: &Path) -> Client {
    // The workspace links both ring and aws-lc-rs; rustls needs telling.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let kubeconfig = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

pub(crate) async fn create_namespace(client: &Client, prefix: &str) -> String {
    let name = format!("{prefix}-{}", std::process::id());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    // Pods are refused until the token controller has given the namespace's
    // default service account its token ("No API token found").
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), &name);
    timeout(ROLLOUT, async {
        loop {
            if let Ok(Some(account)) = accounts.get_opt("default").await
                && account.secrets.is_some_and(|s| !s.is_empty())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the namespace's default service account gets its token in time");
    name
}

pub(crate) async fn delete_namespace(client: &Client, name: &str) {
    let namespaces = Api::<Namespace>::all(client.clone());
    let ns = namespaces.get(name).await.unwrap();
    let uid = ns.metadata.uid.unwrap();
    // A second delete of a terminating namespace is refused (409).
    if ns.metadata.deletion_timestamp.is_none() {
        namespaces
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    timeout(
        ROLLOUT,
        await_condition(namespaces, name, conditions::is_deleted(&uid)),
    )
    .await
    .expect("the namespace is deleted in time")
    .unwrap();
}

/// One HTTP/1.0 exchange with 127.0.0.1:`port`; the whole response, status
/// line and headers included.
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    for (name, value) in headers {
        write!(request, "{name}: {value}\r\n").unwrap();
    }
    if !body.is_empty() {
        write!(request, "Content-Length: {}\r\n", body.len()).unwrap();
    }
    write!(request, "\r\n{body}").unwrap();
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

pub(crate) fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    http(port, "GET", path, &[], "")
}

/// The pods matching `selector` that are Ready and not being deleted.
pub(crate) async fn ready_pods(pods: &Api<Pod>, selector: &str) -> Vec<Pod> {
    let list = pods
        .list(&ListParams::default().labels(selector))
        .await
        .unwrap();
    list.items
        .into_iter()
        .filter(|pod| {
            pod.metadata.deletion_timestamp.is_none()
                && pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .collect()
}

/// Runs helm against the cluster in namespace `ns`; its stdout.
pub(crate) fn helm(kubeconfig: &Path, ns: &str, args: &[&str]) -> String {
    run(Command::new(helm_binary())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--namespace", ns])
        .args(args))
}

/// helm 3.17 from /opt/hoist-tools/bin (see .ci/tools.sh), else from PATH.
fn helm_binary() -> PathBuf {
    let tools = Path::new("/opt/hoist-tools/bin/helm");
    if tools.is_file() {
        tools.to_path_buf()
    } else {
        PathBuf::from("helm")
    }
}

/// The node's own Docker daemon (`cargo xtask k8s up --runtime docker`), as
/// `unix://...` from `HOIST_E2E_DOCKER_HOST` (`cargo xtask k8s env` prints
/// it); `None` when the cluster runs on containerd.
///
/// # Panics
///
/// When the variable is unset although the cluster next to `kubeconfig`
/// records the docker runtime and services are required: a CI set-up that
/// forgot to export it must not pass by skipping.
pub(crate) fn node_docker_host(kubeconfig: &Path) -> Option<String> {
    if let Ok(host) = std::env::var(NODE_DOCKER_HOST)
        && !host.is_empty()
    {
        return Some(host);
    }
    let state = kubeconfig
        .parent()
        .expect("the kubeconfig is in the cluster's state dir");
    let runtime = std::fs::read_to_string(state.join("runtime")).unwrap_or_default();
    assert!(
        !(runtime.trim() == "docker" && hoist_testkit::services_required()),
        "the cluster runs on its node's dockerd but {NODE_DOCKER_HOST} is not set; \
         export it with `eval \"$(cargo xtask k8s env)\"`"
    );
    None
}

/// The variable naming the node's Docker daemon in docker mode.
pub(crate) const NODE_DOCKER_HOST: &str = "HOIST_E2E_DOCKER_HOST";

/// A one-layer busybox image unique to this call (its `/marker` holds
/// `marker`), made with umoci in an OCI layout under `dir`; returns the
/// `oci:DIR:TAG` reference skopeo reads. Its default command sleeps.
pub(crate) fn busybox_layout(dir: &Path, marker: &str) -> String {
    let rootfs = dir.join("rootfs");
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("apt-get install busybox-static");
    for applet in ["sh", "cat", "sleep", "ip", "wget"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    std::fs::write(rootfs.join("marker"), format!("{marker}\n")).unwrap();
    let layout = dir.join("oci");
    let image = format!("{}:v1", layout.display());
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci").args(["new", "--image", &image]));
    run(Command::new("umoci")
        .args(["insert", "--image", &image])
        .arg(&rootfs)
        .arg("/"));
    run(Command::new("umoci").args([
        "config",
        "--image",
        &image,
        "--config.env=PATH=/bin",
        "--config.cmd=sleep",
        "--config.cmd=3600",
    ]));
    format!("oci:{image}")
}

/// Waits until pod `name` runs; the pod. Fails the test, showing the pod's
/// status (an image pull error, say), when it does not run in time.
pub(crate) async fn running_pod(pods: &Api<Pod>, name: &str) -> Pod {
    let ran = timeout(
        ROLLOUT,
        await_condition(pods.clone(), name, conditions::is_pod_running()),
    )
    .await;
    let pod = pods.get(name).await.unwrap();
    assert!(
        ran.is_ok_and(|r| r.is_ok()),
        "pod {name} is not running after {ROLLOUT:?}: {:#?}",
        pod.status
    );
    pod
}
