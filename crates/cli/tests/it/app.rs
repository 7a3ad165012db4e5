//! A working copy of the reference app for the `hoist up` tests, and the
//! `hoist` and `kubectl` commands that drive and inspect it.
//!
//! The copy mirrors the repository's layout (`charts/` next to
//! `examples/todo-chatbot/`), so the stack's `../../charts/...` paths hold.
//! It lives at a fixed place under the target directory and is refreshed
//! from the repository on every run, leaving the prepared outputs (pip's
//! wheels, `node_modules`, `.next`) in place: the imager's prepare steps
//! are keyed by their paths and inputs, so a second run skips pip and npm.

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Directories the refresh leaves alone: outputs, not sources.
const OUTPUTS: &[&str] = &[
    "node_modules",
    ".next",
    ".hoist",
    ".venv",
    "__pycache__",
    "test-results",
];

/// Every variable the stack reads: removed from hoist's environment, so
/// only the test's `.env` decides (the process environment would win).
const STACK_VARS: &[&str] = &[
    "POSTGRES_PASSWORD",
    "POSTGRES_USER",
    "POSTGRES_DB",
    "DATABASE_URL",
    "JWT_SECRET",
    "LOG_LEVEL",
    "ALLOWED_ORIGINS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "BACKEND_URL",
    "HOIST_PROFILE",
    "KUBECONFIG",
    "DOCKER_HOST",
];

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The app copy and how this run reaches the cluster.
pub(crate) struct App {
    /// The copy's root (`charts/`, `examples/todo-chatbot/`).
    pub(crate) root: PathBuf,
    /// The namespace, `<prefix>-<pid>`.
    pub(crate) namespace: String,
    /// The frontend's node port.
    pub(crate) node_port: u16,
    pub(crate) kubeconfig: Option<PathBuf>,
    /// `HOIST_E2E_DOCKER_HOST`: the kubelet runs on this daemon.
    docker_host: Option<String>,
    /// `127.0.0.1:5000/<unique prefix>` when the images go through the registry.
    registry: Option<String>,
    /// The fake secrets in the `.env`, to check no output holds them.
    pub(crate) planted: Vec<String>,
}

impl App {
    /// A fresh copy at `name` under the target directory, in `hoist-<name>-<pid>`.
    pub(crate) fn new(name: &str, node_port: u16, kubeconfig: Option<PathBuf>) -> Self {
        // Named after the copy, so that no suite's clean-up of its own
        // leftovers (`hoist-up-*`, `hoist-load-*`) deletes another's.
        Self::new_in(name, &format!("hoist-{name}"), node_port, kubeconfig)
    }

    /// A fresh copy at `name`, deploying to the namespace `<prefix>-<pid>`
    /// (each suite its own prefix: the `up` suite deletes the `hoist-up-`
    /// namespaces an earlier run left).
    pub(crate) fn new_in(
        name: &str,
        prefix: &str,
        node_port: u16,
        kubeconfig: Option<PathBuf>,
    ) -> Self {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        let repo = repo_root();
        sync(&repo.join("charts"), &root.join("charts"));
        sync(
            &repo.join("examples/todo-chatbot"),
            &root.join("examples/todo-chatbot"),
        );
        let pid = std::process::id();
        let namespace = format!("{prefix}-{pid}");
        let docker_host = std::env::var("HOIST_E2E_DOCKER_HOST")
            .ok()
            .filter(|v| !v.is_empty());
        let registry = match &docker_host {
            Some(_) => None,
            None => std::env::var("HOIST_TEST_REGISTRY")
                .ok()
                .filter(|v| !v.is_empty())
                .map(|r| format!("{r}/{namespace}")),
        };
        let mut app = Self {
            root,
            namespace,
            node_port,
            kubeconfig,
            docker_host,
            registry,
            planted: Vec::new(),
        };
        app.write_profile();
        app.write_env(&[]);
        app
    }

    /// A copy on the real test cluster ([`App::new_in`]), after deleting the
    /// namespaces with the same prefix that an earlier, failed run left for
    /// inspection (they hold the suite's node port); `None`, so the test
    /// skips, without the cluster, the mirror of the app's bases or a way
    /// to deliver images.
    pub(crate) fn on_cluster(name: &str, prefix: &str, node_port: u16) -> Option<Self> {
        let app = Self::new_in(name, prefix, node_port, Some(e2e_kubeconfig()?));
        let output = app.kubectl(&["get", "namespaces", "-o", "name"]);
        for line in text(&output.stdout).lines() {
            let ns = line.trim_start_matches("namespace/");
            if ns.starts_with(&format!("{prefix}-")) && ns != app.namespace {
                let _ = app.kubectl(&["delete", "namespace", ns, "--wait=true", "--timeout=120s"]);
            }
        }
        Some(app)
    }

    pub(crate) fn dir(&self) -> PathBuf {
        self.root.join("examples/todo-chatbot")
    }

    pub(crate) fn stack_file(&self) -> PathBuf {
        self.dir().join("hoist.toml")
    }

    /// The same copy run against the Docker daemon at `host` (DOCKER_HOST),
    /// with no registry: for `--engine docker`.
    pub(crate) fn on_docker(mut self, host: &str) -> Self {
        self.docker_host = Some(host.to_owned());
        self.registry = None;
        self
    }

    /// Appends the test's profile: its namespace, its node port, small CPU
    /// requests (the node has 2 CPUs for every test).
    fn write_profile(&self) {
        let mut text = std::fs::read_to_string(self.stack_file()).unwrap();
        let _ = write!(
            text,
            r#"
[profiles.e2e]
namespace = "{ns}"

[profiles.e2e.services.database.chart.set]
"resources.requests.cpu" = "10m"

[profiles.e2e.services.backend.chart.set]
"resources.requests.cpu" = "10m"
"waitForDatabase.resources.requests.cpu" = "10m"

[profiles.e2e.services.frontend.chart.set]
"resources.requests.cpu" = "10m"
"service.nodePort" = {port}
"#,
            ns = self.namespace,
            port = self.node_port
        );
        std::fs::write(self.stack_file(), text).unwrap();
    }

    /// Writes `.env` with fake secrets made at run time; `overrides` replace
    /// or add lines.
    pub(crate) fn write_env(&mut self, overrides: &[(&str, &str)]) {
        let seed = u64::from(std::process::id());
        let password = hoist_testkit::fake_secret("pg", 20, seed);
        let jwt = hoist_testkit::fake_secret("jwt", 44, seed + 1);
        let mut vars = vec![
            ("POSTGRES_PASSWORD".to_owned(), password.clone()),
            (
                "DATABASE_URL".to_owned(),
                format!("postgresql://todo:{password}@todo-chatbot-database:5432/todo"),
            ),
            ("JWT_SECRET".to_owned(), jwt.clone()),
            ("LOG_LEVEL".to_owned(), "INFO".to_owned()),
        ];
        for (key, value) in overrides {
            match vars.iter_mut().find(|(k, _)| k == key) {
                Some(var) => (*value).clone_into(&mut var.1),
                None => vars.push(((*key).to_owned(), (*value).to_owned())),
            }
        }
        let text = vars.iter().fold(String::new(), |mut text, (k, v)| {
            let _ = writeln!(text, "{k}={v}");
            text
        });
        std::fs::write(self.dir().join(".env"), text).unwrap();
        self.planted = vec![password, jwt];
        for (key, value) in overrides {
            if key.contains("SECRET") || key.contains("PASSWORD") {
                self.planted.push((*value).to_owned());
            }
        }
    }

    /// `hoist ARGS` on the copy with the test profile, the shared build
    /// cache, and this run's way to the cluster.
    pub(crate) fn hoist(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The command [`App::hoist`] runs, to spawn it instead.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        if matches!(args.first(), Some(&"up" | &"dev" | &"build")) {
            self.seed_prepared();
        }
        let mut command = Command::new(assert_cmd::cargo::cargo_bin!("hoist"));
        for var in STACK_VARS {
            command.env_remove(var);
        }
        command
            .current_dir(self.dir())
            .env(
                "HOIST_CACHE_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("imager-app-cache"),
            )
            .args(["--profile", "e2e"])
            .args(args);
        if let Some(kubeconfig) = &self.kubeconfig {
            command.env("KUBECONFIG", kubeconfig);
        }
        if let Some(docker) = &self.docker_host {
            command.env("DOCKER_HOST", docker);
        }
        if matches!(args.first(), Some(&"up" | &"dev"))
            && let Some(registry) = &self.registry
        {
            command.args(["--registry", registry, "--insecure-registry"]);
        }
        command
    }

    /// Gives this copy the prepare steps' outputs (`node_modules`, `.next`,
    /// the backend's wheels) it lacks, from one copy that `hoist build`
    /// prepared under a lock: every copy's prepare steps then find their
    /// inputs and outputs as keyed (the key is relative to the stack's
    /// directory) and skip npm, Next.js and pip, which would otherwise run
    /// once per copy, one after the other on the build cache's lock, and
    /// leave half a gigabyte each. `node_modules` is hard-linked (`npm ci`
    /// removes it before installing); the rest is copied.
    fn seed_prepared(&self) {
        static SEEDED: std::sync::Once = std::sync::Once::new();
        const TEMPLATE: &str = "app-prepared";
        if self.root.ends_with(TEMPLATE) || hoist_testkit::mirror::app_bases().is_none() {
            return;
        }
        SEEDED.call_once(|| {
            let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
            std::fs::create_dir_all(tmp).unwrap();
            let lock = std::fs::File::create(tmp.join("app-prepared.lock")).unwrap();
            lock.lock().unwrap();
            let template = Self::new_in(TEMPLATE, "hoist-prepared", self.node_port, None);
            let output = template.hoist(&["build"]);
            assert!(
                output.status.success(),
                "the shared prepared copy of the reference app did not build:\n{}",
                text(&output.stderr)
            );
            for (path, link) in [
                ("frontend/node_modules", true),
                ("frontend/.next", false),
                (".hoist/build", false),
            ] {
                let (from, to) = (template.dir().join(path), self.dir().join(path));
                if !from.exists() || to.exists() {
                    continue;
                }
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                let status = Command::new("cp")
                    .arg(if link { "-al" } else { "-a" })
                    .arg(&from)
                    .arg(&to)
                    .status()
                    .unwrap();
                assert!(status.success(), "cp {} {}", from.display(), to.display());
            }
        });
    }

    /// Whether this run's images go through the registry (the kubelet runs
    /// on containerd, which pulls).
    pub(crate) fn via_registry(&self) -> bool {
        self.registry.is_some()
    }

    /// `hoist ARGS` without the run's `--registry`.
    pub(crate) fn hoist_without_registry(&self, args: &[&str]) -> Output {
        let plain = Self {
            root: self.root.clone(),
            namespace: self.namespace.clone(),
            node_port: self.node_port,
            kubeconfig: self.kubeconfig.clone(),
            docker_host: self.docker_host.clone(),
            registry: None,
            planted: self.planted.clone(),
        };
        plain.hoist(args)
    }

    /// `hoist ARGS --json`: the exit code and the document.
    pub(crate) fn hoist_json(&self, args: &[&str]) -> (i32, Value) {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let output = self.hoist(&with_json);
        let document = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "hoist {args:?} --json printed no JSON ({e}):\nstdout: {}\nstderr: {}",
                text(&output.stdout),
                text(&output.stderr)
            )
        });
        self.assert_clean(&output);
        (output.status.code().unwrap_or(-1), document)
    }

    /// No planted secret value in `output`.
    pub(crate) fn assert_clean(&self, output: &Output) {
        for secret in &self.planted {
            for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
                assert!(
                    !text(bytes).contains(secret.as_str()),
                    "a planted secret value appears on {stream}"
                );
            }
        }
    }

    /// `kubectl get KIND -l SELECTOR -o json` in the test's namespace: the items.
    pub(crate) fn kubectl_items(&self, kind: &str, selector: &str) -> Vec<Value> {
        let kubeconfig = self.kubeconfig.as_ref().expect("a cluster");
        let output = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["-n", &self.namespace, "get", kind, "-o", "json"])
            .args(if selector.is_empty() {
                vec![]
            } else {
                vec!["-l", selector]
            })
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        let list: Value = serde_json::from_slice(&output.stdout).unwrap();
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// The uids of the pods of `service`'s release.
    pub(crate) fn pod_uids(&self, service: &str) -> Vec<String> {
        let mut uids: Vec<String> = self
            .kubectl_items(
                "pods",
                &format!("app.kubernetes.io/instance=todo-chatbot-{service}"),
            )
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .map(|p| p["metadata"]["uid"].as_str().unwrap_or_default().to_owned())
            .collect();
        uids.sort();
        uids
    }

    pub(crate) fn kubectl(&self, args: &[&str]) -> Output {
        let kubeconfig = self.kubeconfig.as_ref().expect("a cluster");
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .output()
            .unwrap()
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Copies `src` over `dst`, writing only files whose content differs and
/// skipping output directories.
fn sync(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if OUTPUTS.iter().any(|o| name == *o) || name == ".env" {
            continue;
        }
        let (from, to) = (entry.path(), dst.join(&name));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            sync(&from, &to);
        } else if kind.is_file() {
            let content = std::fs::read(&from).unwrap();
            if std::fs::read(&to).ok().as_deref() != Some(content.as_slice()) {
                std::fs::write(&to, &content).unwrap();
            }
            let mode = std::fs::metadata(&from).unwrap().permissions();
            std::fs::set_permissions(&to, mode).unwrap();
        }
    }
}

/// One HTTP/1.0 request to 127.0.0.1:`port`: the status and the body.
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    std::io::Write::write_fmt(
        &mut stream,
        format_args!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

/// Retries `attempt` every second until it returns `Some`, for at most `within`.
pub(crate) fn eventually<T>(
    within: Duration,
    what: &str,
    mut attempt: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test cluster's kubeconfig when the real-cluster tests can run here:
/// the cluster, the mirror serving the app's public bases, and a way to get
/// images to the kubelet.
pub(crate) fn e2e_kubeconfig() -> Option<PathBuf> {
    let kubeconfig = hoist_testkit::service_path(hoist_testkit::KUBECONFIG)?;
    hoist_testkit::mirror::app_bases()?;
    if std::env::var_os("HOIST_E2E_DOCKER_HOST").is_none()
        && hoist_testkit::service(hoist_testkit::REGISTRY).is_none()
    {
        return None;
    }
    Some(kubeconfig)
}
