//! The Docker-engine run against the real dockerd: stacks written as
//! `hoist.toml` files at test time, built with hoist-imager, loaded with
//! the DaemonLoader, run with `engine::up`.
//!
//! Run with `source /var/lib/hoist-ci/env && cargo nextest run -p hoist-cluster
//! --test it engine` (the reference app's bases come from the mirror that
//! `HOIST_REGISTRY_MIRRORS` names).
//!
//! Every test uses its own project (a prefix and the pid), so names never
//! collide, and publishes only on free loopback ports it picks itself.

mod app;
mod gating;
mod offline;
mod rerun;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hoist_cluster::deliver::{DaemonLoader, Delivered, ImageSource, Loader};
use hoist_cluster::docker::DockerEndpoint;
use hoist_cluster::engine::{EnginePlan, PROJECT_LABEL};
use hoist_config::{EnvInputs, Mapping, Stack};
use hoist_imager::{BuildOptions, NoReporter, Recipe};

/// A unique project name: `prefix` and the pid.
fn project_name(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

/// The test daemon's host, a project name unique to the test (`prefix`
/// and the pid) and its [`Cleanup`]; `None` to skip without a daemon.
pub(crate) fn on_the_daemon(prefix: &str) -> Option<(String, String, Cleanup)> {
    let host = hoist_testkit::service(hoist_testkit::DOCKER)?;
    let project = project_name(prefix);
    let cleanup = Cleanup::new(&host, &project);
    Some((host, project, cleanup))
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The image build cache the workspace's app tests share (pip and npm
/// outputs included); its lock makes sharing safe.
fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("imager-app-cache")
}

/// Removes whatever a project left on the daemon, also when a test fails.
pub(crate) struct Cleanup {
    host: String,
    project: String,
}

impl Cleanup {
    pub(crate) fn new(host: &str, project: &str) -> Self {
        let cleanup = Self {
            host: host.to_owned(),
            project: project.to_owned(),
        };
        cleanup.run(); // What an earlier, killed run of this pid left.
        cleanup
    }

    fn run(&self) {
        let docker = |args: &[&str]| {
            Command::new("docker")
                .env("DOCKER_HOST", &self.host)
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        let filter = format!("label={PROJECT_LABEL}={}", self.project);
        for id in docker(&["ps", "-aq", "--filter", &filter]).split_whitespace() {
            docker(&["rm", "-f", "-v", id]);
        }
        docker(&["network", "rm", &format!("{}-net", self.project)]);
        for name in docker(&["volume", "ls", "-q", "--filter", &filter]).split_whitespace() {
            docker(&["volume", "rm", "-f", name]);
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.run();
    }
}

/// A stack on disk, loaded and mapped.
pub(crate) struct TestStack {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) stack: Stack,
    pub(crate) mapping: Mapping,
}

impl TestStack {
    /// Writes `files` and a busybox root filesystem (`rootfs/`, for
    /// [`busybox_image`]) into a new directory and loads its `hoist.toml`.
    pub(crate) fn busybox(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, contents) in files {
            std::fs::write(dir.path().join(name), contents).unwrap();
        }
        let tmp = dir.path().join("rootfs/tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
            .unwrap();
        let bin = dir.path().join("rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("apt-get install busybox-static");
        for applet in ["sh", "echo", "sleep", "wget", "httpd", "cat", "mkdir"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        Self::load(dir)
    }

    /// Loads `dir/hoist.toml` and maps its `.env` (no process environment).
    pub(crate) fn load(dir: tempfile::TempDir) -> Self {
        let stack = Stack::load(&dir.path().join("hoist.toml"), None).unwrap();
        let mapping = hoist_config::resolve(&stack, &EnvInputs::default()).unwrap();
        Self {
            dir,
            stack,
            mapping,
        }
    }

    /// Loads the stack file again after a change on disk.
    pub(crate) fn reload(self) -> Self {
        Self::load(self.dir)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Builds every service's image with hoist-imager (the shared cache)
    /// and loads it into the daemon at `host`.
    pub(crate) async fn build_and_load(&self, host: &str) -> BTreeMap<String, Delivered> {
        let (docker, _) = endpoint(host)
            .connect(std::time::Duration::from_secs(10))
            .await
            .expect("connect to dockerd");
        let loader = DaemonLoader::new(docker, host);
        let mut images = BTreeMap::new();
        for service in self.stack.services.keys() {
            let stack_file = self.path("hoist.toml");
            let out = self.path(&format!(".hoist/images/{service}"));
            let name = service.clone();
            let built = tokio::task::spawn_blocking(move || {
                let recipe = Recipe::from_stack_file(&stack_file, &name).unwrap();
                let mut options = BuildOptions::new(&name, out);
                options.cache_dir = shared_cache();
                hoist_imager::build(&recipe, &options, &NoReporter)
                    .unwrap_or_else(|e| panic!("building the {name} image: {e}"))
            })
            .await
            .unwrap();
            let image = ImageSource {
                layout: built.layout,
                archive: built.archive,
                name: format!("hoist-engine-it/{service}"),
            }
            .open()
            .unwrap();
            let delivered = loader.deliver(&image, &NoReporter).await.unwrap();
            images.insert(service.clone(), delivered);
        }
        images
    }

    /// The engine plan for the loaded images.
    pub(crate) fn plan(&self, host: &str, images: &BTreeMap<String, Delivered>) -> EnginePlan {
        EnginePlan::new(&self.stack, &self.mapping, images, endpoint(host)).unwrap()
    }
}

pub(crate) fn endpoint(host: &str) -> DockerEndpoint {
    DockerEndpoint {
        host: host.to_owned(),
        tls: None,
    }
}

/// `docker ARGS` against `host`: its standard output, trimmed.
pub(crate) fn docker_cli(host: &str, args: &[&str]) -> String {
    crate::support::docker_cli(host, args)
}

/// The image table of a busybox service running `script` with `sh -c`.
pub(crate) fn busybox_image(service: &str, script: &str) -> String {
    format!(
        r#"
[services.{service}.image]
base = {{ rootfs = "rootfs" }}
[services.{service}.image.config]
user = "10001:10001"
env = {{ PATH = "/bin" }}
entrypoint = ["/bin/sh", "-c"]
cmd = [{script:?}]
"#
    )
}

/// Asserts `haystack` (JSON of an outcome, a log...) holds none of `secrets`.
pub(crate) fn assert_no_secret(what: &str, haystack: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !haystack.contains(secret),
            "{what} shows a secret value: {haystack}"
        );
    }
}
