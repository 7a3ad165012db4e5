//! The rollout engine against the real test cluster (`cargo xtask k8s up`):
//! real helm, real kubelet, real failures planted with busybox images and a
//! small test chart (`tests/data/charts/probe`), and the reference app's
//! three tiers with images built by hoist-imager.
//!
//! Skipped unless HOIST_E2E_KUBECONFIG is set (HOIST_E2E_REQUIRE=1 makes
//! that a failure). Run with:
//! ```text
//! cargo xtask k8s up
//! source /var/lib/hoist-ci/env; export PATH=/opt/hoist-tools/bin:$PATH
//! HOIST_E2E_KUBECONFIG=/var/lib/hoist-k8s/kubeconfig \
//!   cargo test -p hoist-cluster --test it rollout -- --nocapture
//! ```
//! Each test prints the times the closing note of issue 12 asks for.

mod config;
mod failures;
mod lease;
mod render;
mod tiers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hoist_cluster::helm::Helm;
use hoist_cluster::rollout::{
    ConfigObjects, Event, Options, Plan, ReleasePlan, Reporter, Stage, Target,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::support::{busybox_image, run};

/// The busybox image the probe chart runs, as the cluster knows it.
const PROBE_IMAGE: &str = "hoist-rollout-busybox";

/// The cluster, or `None` to skip.
pub(crate) struct Cluster {
    pub(crate) kubeconfig: PathBuf,
    pub(crate) client: Client,
}

pub(crate) async fn cluster() -> Option<Cluster> {
    let kubeconfig = hoist_testkit::service_path(hoist_testkit::KUBECONFIG)?;
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let config = Kubeconfig::read_from(&kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    Some(Cluster { kubeconfig, client })
}

/// A namespace for one test, deleted when dropped (without waiting, so a
/// failed test still cleans up).
pub(crate) struct TestNs {
    pub(crate) name: String,
    kubeconfig: PathBuf,
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args([
                "delete",
                "namespace",
                &self.name,
                "--wait=false",
                "--ignore-not-found",
            ])
            .output();
    }
}

impl Cluster {
    /// A fresh namespace `hoist-rollout-<test>-<pid>`.
    pub(crate) async fn namespace(&self, test: &str) -> TestNs {
        let name = format!("hoist-rollout-{test}-{}", std::process::id());
        let api = Api::<Namespace>::all(self.client.clone());
        if let Some(old) = api.get_opt(&name).await.unwrap() {
            let _ = api.delete(&name, &DeleteParams::default()).await;
            let uid = old.metadata.uid.unwrap();
            tokio::time::timeout(
                Duration::from_secs(120),
                await_condition(api.clone(), &name, conditions::is_deleted(&uid)),
            )
            .await
            .unwrap()
            .unwrap();
        }
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        api.create(&PostParams::default(), &ns).await.unwrap();
        TestNs {
            name,
            kubeconfig: self.kubeconfig.clone(),
        }
    }

    pub(crate) fn target(&self, ns: &TestNs) -> Target {
        let helm = Helm::find(
            &hoist_cluster::env::Environment::current(),
            Some(self.kubeconfig.clone()),
            None,
        )
        .expect("helm on PATH (/opt/hoist-tools/bin)");
        Target {
            client: self.client.clone(),
            helm,
            namespace: ns.name.clone(),
        }
    }

    /// `ctr ARGS` against the cluster's containerd, serialised with the
    /// other tests by the lock file the chatbot test uses.
    pub(crate) fn ctr(&self, args: &[&str]) -> String {
        let state = self.kubeconfig.parent().unwrap();
        run(Command::new("flock")
            .arg(state.join("import.lock"))
            .arg("ctr")
            .arg("--address")
            .arg(state.join("containerd/containerd.sock"))
            .args(["--namespace", "k8s.io"])
            .args(args))
    }

    /// Imports the probe image once per test process; its digest.
    pub(crate) async fn probe_image(&self) -> &'static str {
        static DIGEST: OnceCell<String> = OnceCell::const_new();
        DIGEST
            .get_or_init(|| async {
                let image = busybox_image(PROBE_IMAGE, &[]);
                self.ctr(&[
                    "images",
                    "import",
                    &image.image.source.archive.to_string_lossy(),
                ]);
                image.image.digest.clone()
            })
            .await
    }
}

/// Content-named immutable configuration objects, as hoist-config names them.
pub(crate) fn config_objects(
    project: &str,
    service: &str,
    config: &[(&str, &str)],
    secret: &[(&str, &str)],
) -> ConfigObjects {
    let hash10 = |section: &str, data: &[(&str, &str)]| {
        let mut h = Sha256::new();
        h.update(section);
        for (k, v) in data {
            h.update(format!("{k}={v}\n"));
        }
        hex::encode(h.finalize())[..10].to_owned()
    };
    let labels = BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), service.to_owned()),
        ("app.kubernetes.io/instance".to_owned(), project.to_owned()),
        (
            "app.kubernetes.io/component".to_owned(),
            "configuration".to_owned(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "hoist".to_owned(),
        ),
    ]);
    let meta = |name: String| ObjectMeta {
        name: Some(name),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    let hash = {
        let mut h = Sha256::new();
        h.update(hash10("c", config));
        h.update(hash10("s", secret));
        hex::encode(h.finalize())
    };
    ConfigObjects {
        config_map: ConfigMap {
            metadata: meta(format!(
                "{project}-{service}-config-{}",
                hash10("configmap", config)
            )),
            data: Some(
                config
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            immutable: Some(true),
            ..ConfigMap::default()
        },
        secret: Secret {
            metadata: meta(format!(
                "{project}-{service}-secret-{}",
                hash10("secret", secret)
            )),
            data: Some(
                secret
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            immutable: Some(true),
            type_: Some("Opaque".to_owned()),
            ..Secret::default()
        },
        hash,
    }
}

/// The probe chart's directory.
pub(crate) fn probe_chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/charts/probe")
}

/// A release of the probe chart for `service` of `project`, with `values`
/// (YAML) written to a file in `dir`.
pub(crate) fn probe_release(
    dir: &Path,
    project: &str,
    service: &str,
    values: &str,
    deadline: Duration,
) -> ReleasePlan {
    let file = dir.join(format!(
        "{service}-{}.yaml",
        crate::support::unique("values")
    ));
    std::fs::write(&file, values).unwrap();
    let release = format!("{project}-{service}");
    ReleasePlan {
        service: service.to_owned(),
        release: release.clone(),
        chart: probe_chart(),
        values_files: vec![file],
        set: vec![("fullnameOverride".to_owned(), release)],
        image: None,
        config: None,
        depends_on: Vec::new(),
        deadline,
    }
}

pub(crate) fn plan(
    project: &str,
    state_dir: &Path,
    levels: Vec<Vec<ReleasePlan>>,
    redact: Vec<String>,
) -> Plan {
    Plan {
        project: project.to_owned(),
        state_dir: state_dir.to_path_buf(),
        levels,
        redact,
        options: Options::default(),
    }
}

/// A reporter that keeps every event with the time it came.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) events: Mutex<Vec<(Instant, Event)>>,
}

impl Reporter for Recorder {
    fn on_event(&self, event: &Event) {
        self.events
            .lock()
            .unwrap()
            .push((Instant::now(), event.clone()));
    }
}

impl Recorder {
    /// When `service` first reached `stage`.
    pub(crate) fn at(&self, service: &str, stage: Stage) -> Option<Instant> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .find_map(|(t, e)| match e {
                Event::Stage {
                    service: s,
                    stage: st,
                } if s == service && *st == stage => Some(*t),
                _ => None,
            })
    }

    /// When the first finding about `service` came.
    pub(crate) fn first_finding(&self, service: &str) -> Option<Instant> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .find_map(|(t, e)| match e {
                Event::Finding(f) if f.service == service => Some(*t),
                _ => None,
            })
    }

    /// Every stage `service` reached, in order.
    pub(crate) fn stages(&self, service: &str) -> Vec<Stage> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Stage { service: s, stage } if s == service => Some(*stage),
                _ => None,
            })
            .collect()
    }
}

/// Prints a figure for the closing note (not asserted: timings vary).
#[allow(clippy::print_stdout)]
pub(crate) fn figure(what: &str, value: Duration, deadline: Option<Duration>) {
    match deadline {
        Some(d) => println!(
            "FIGURE {what}: {:.1}s (deadline {}s)",
            value.as_secs_f64(),
            d.as_secs()
        ),
        None => println!("FIGURE {what}: {:.3}s", value.as_secs_f64()),
    }
}

/// The helm releases in `ns`.
pub(crate) fn releases(cluster: &Cluster, ns: &str) -> Vec<String> {
    let out = run(Command::new("helm")
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(["list", "-q", "-a", "-n", ns]));
    out.lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}
