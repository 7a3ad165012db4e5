//! Helpers for the suites that run against the real test cluster from
//! `cargo xtask k8s up` (found through `HOIST_E2E_KUBECONFIG`).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hoist_e2e::run;
use k8s_openapi::api::core::v1::{Namespace, Pod};
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
    run(Command::new("flock")
        .arg(state.join("import.lock"))
        .arg("ctr")
        .arg("--address")
        .arg(state.join("containerd/containerd.sock"))
        .args(["--namespace", "k8s.io"])
        .args(args))
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
