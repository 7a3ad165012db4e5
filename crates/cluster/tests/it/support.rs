//! Test images built with independent tools (busybox, umoci, skopeo), never
//! with hoist's own imager, so a bug there cannot hide one here; and, apart,
//! [`imager_image`]: what `hoist build` writes, for the tests of that path.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hoist_cluster::deliver::{Image, ImageSource};

/// A built image and the directory that holds it.
pub(crate) struct TestImage {
    pub(crate) image: Image,
    /// Printed by the image's default command; unique per image.
    pub(crate) marker: String,
    _dir: tempfile::TempDir,
}

/// A script installed in the image, with its path inside the rootfs.
pub(crate) struct Script<'a> {
    pub(crate) path: &'a str,
    pub(crate) body: &'a str,
}

/// A name unique to this test run and call, so images never collide across
/// tests or runs against the same daemon or registry.
pub(crate) fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `command`, fails the test unless it succeeds, and returns its
/// standard output, trimmed.
pub(crate) fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `docker ARGS` against the daemon at `host`, as [`run`].
pub(crate) fn docker_cli(host: &str, args: &[&str]) -> String {
    run(Command::new("docker").env("DOCKER_HOST", host).args(args))
}

/// A busybox image whose default command prints a unique marker, as an OCI
/// layout (umoci) and a docker-archive (skopeo) named `name:test`.
pub(crate) fn busybox_image(name: &str, scripts: &[Script<'_>]) -> TestImage {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("apt-get install busybox-static");
    for applet in ["sh", "cat", "echo", "sleep", "sha256sum", "mkdir"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let marker = unique("hello from");
    std::fs::write(rootfs.join("hello.txt"), format!("{marker}\n")).unwrap();
    for script in scripts {
        let path = rootfs.join(script.path.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, script.body).unwrap();
        let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&path, executable).unwrap();
    }
    let layout = dir.path().join("oci");
    let tagged = format!("{}:test", layout.display());
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci").args(["new", "--image", &tagged]));
    run(Command::new("umoci")
        .args(["insert", "--image", &tagged])
        .arg(&rootfs)
        .arg("/"));
    run(Command::new("umoci").args([
        "config",
        "--image",
        &tagged,
        "--config.env=PATH=/usr/local/bin:/bin",
        "--config.cmd=/bin/cat",
        "--config.cmd=/hello.txt",
    ]));
    let archive = dir.path().join("image.tar");
    archive_layout(&layout, &archive, &format!("{name}:test"));
    let image = ImageSource {
        layout,
        archive,
        name: name.to_owned(),
    }
    .open()
    .unwrap();
    TestImage {
        image,
        marker,
        _dir: dir,
    }
}

/// Writes the docker-archive of `layout`'s image `test` with skopeo.
pub(crate) fn archive_layout(layout: &Path, archive: &Path, tag: &str) {
    run(Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci:{}:test", layout.display()))
        .arg(format!("docker-archive:{}:{tag}", archive.display())));
}

/// A container of the test daemon, removed when dropped.
pub(crate) struct Container {
    pub(crate) name: String,
    host: String,
}

impl Container {
    /// Runs `sleep` from `reference` detached as `name` with `labels`,
    /// publishing port 6443 on a free loopback port.
    pub(crate) fn start(host: &str, reference: &str, name: &str, labels: &[(&str, &str)]) -> Self {
        let mut args = vec!["-p".to_owned(), "127.0.0.1::6443".to_owned()];
        for (key, value) in labels {
            args.push("--label".to_owned());
            args.push(format!("{key}={value}"));
        }
        args.extend([reference, "sleep", "600"].map(str::to_owned));
        Self::run(host, name, &args)
    }

    /// `docker run -d --name NAME ARGS...`.
    pub(crate) fn run(host: &str, name: &str, args: &[String]) -> Self {
        let mut full = vec!["run", "-d", "--name", name];
        full.extend(args.iter().map(String::as_str));
        docker_cli(host, &full);
        Self {
            name: name.to_owned(),
            host: host.to_owned(),
        }
    }

    /// The loopback port that publishes the container's port 6443.
    pub(crate) fn api_port(&self) -> u16 {
        let output = self.docker(&["port", &self.name, "6443/tcp"]);
        output
            .trim()
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no published port in {output:?}"))
    }

    /// Runs `docker ARGS` against the test daemon and returns its stdout.
    pub(crate) fn docker(&self, args: &[&str]) -> String {
        docker_cli(&self.host, args)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .env("DOCKER_HOST", &self.host)
            .args(["rm", "-f", &self.name])
            .output();
    }
}

/// A reporter that keeps every call, to check what a loader reported.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) calls: std::sync::Mutex<Vec<String>>,
}

impl hoist_imager::Reporter for Recorder {
    fn on_start(&self, what: &str, total: Option<u64>) -> hoist_imager::TaskId {
        self.calls
            .lock()
            .unwrap()
            .push(format!("start {what} {total:?}"));
        hoist_imager::TaskId(1)
    }
    fn on_progress(&self, _id: hoist_imager::TaskId, done: u64) {
        self.calls.lock().unwrap().push(format!("progress {done}"));
    }
    fn on_finish(&self, _id: hoist_imager::TaskId, outcome: &str) {
        self.calls.lock().unwrap().push(format!("finish {outcome}"));
    }
}

/// What `hoist build` writes for a one-file scratch image (uncompressed
/// layers), built by hoist's imager in `dir` with its cache at `dir/cache`.
pub(crate) fn imager_image(dir: &Path, name: String) -> (hoist_imager::Built, Image) {
    std::fs::write(dir.join("hello.txt"), "hello\n".repeat(1000)).unwrap();
    let recipe = hoist_imager::Recipe::from_toml_str(
        r#"
        base = "scratch"
        [[layers]]
        name = "app"
        copy = [{ from = "hello.txt", to = "/hello.txt" }]
        [config]
        user = "10001"
        "#,
        dir,
    )
    .unwrap();
    let mut options = hoist_imager::BuildOptions::new("built", dir.join("out"));
    options.cache_dir = dir.join("cache");
    let built = hoist_imager::build(&recipe, &options, &hoist_imager::NoReporter).unwrap();
    let image = ImageSource {
        layout: built.layout.clone(),
        archive: built.archive.clone(),
        name,
    }
    .open()
    .unwrap();
    (built, image)
}
