//! Shared fixtures: source trees, recipes, hand-made base images.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use hoist_imager::{BuildOptions, Built, NoReporter, Recipe, build};

/// Writes `files` (path, content) under `root`.
pub(crate) fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}

/// Sets the mtime of every file under `dir` to `when`.
pub(crate) fn touch_all(dir: &Path, when: std::time::SystemTime) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            touch_all(&path, when);
        } else {
            fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
    }
}

/// A small app: a dependency directory and application code.
pub(crate) fn app_tree(root: &Path) {
    write_tree(
        root,
        &[
            ("deps/lib/dep.py", "VALUE = 1\n"),
            ("deps/lib/data.bin", &"x".repeat(4096)),
            ("src/app/main.py", "print('hello')\n"),
            ("src/app/util.py", "def f():\n    return 2\n"),
            ("src/app/__pycache__/main.cpython-311.pyc", "junk"),
        ],
    );
}

pub(crate) const APP_RECIPE: &str = r#"
[[layers]]
name = "deps"
copy = [{ from = "deps", to = "/opt/deps" }]

[[layers]]
name = "app"
copy = [{ from = "src", to = "/app" }]
exclude = ["**/__pycache__"]

[config]
user = "10001"
workdir = "/app"
env = { PYTHONPATH = "/opt/deps/lib" }
ports = [8000]
cmd = ["python3", "/app/app/main.py"]

[annotations]
source = "https://example.invalid/todo"
"#;

pub(crate) fn recipe(dir: &Path, text: &str) -> Recipe {
    Recipe::from_toml_str(text, dir).unwrap()
}

/// The tests' build options: output in `out`, the cache at `cache`, time 0,
/// a fixed revision, no registry credentials, Docker config or mirrors from
/// the environment.
pub(crate) fn options(service: &str, out: &Path, cache: &Path) -> BuildOptions {
    let mut options = BuildOptions::new(service, out);
    options.cache_dir = cache.to_path_buf();
    options.source_date_epoch = 0;
    options.revision = Some("0123456789abcdef".into());
    options.registry_auth = hoist_imager::RegistryAuth::Anonymous;
    options.registries = hoist_imager::Registries::default();
    options
}

/// Builds into `out`, with the cache at `cache`.
pub(crate) fn build_with(
    recipe: &Recipe,
    service: &str,
    out: &Path,
    cache: &Path,
) -> hoist_imager::Result<Built> {
    build(recipe, &options(service, out, cache), &NoReporter)
}

/// The app's sources in a new temporary directory, and the app built from
/// them for `service` on scratch, with output and cache under `dir`.
pub(crate) fn built_app(dir: &Path, service: &str) -> (tempfile::TempDir, Built) {
    let src = tempfile::tempdir().unwrap();
    app_tree(src.path());
    let built = build_with(
        &recipe(src.path(), APP_RECIPE),
        service,
        &dir.join(service),
        &dir.join(format!("cache-{service}")),
    )
    .unwrap();
    (src, built)
}

/// A gzipped layer from raw tar bytes; returns (blob, digest, diff_id).
pub(crate) fn gzip_layer(tar: &[u8]) -> (Vec<u8>, String, String) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(tar).unwrap();
    let blob = gz.finish().unwrap();
    (blob.clone(), digest(&blob), digest(tar))
}

pub(crate) fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A tar whose entries are written header by header, so that it can hold
/// what the tar crate's safe API refuses (`..`, absolute paths).
pub(crate) struct RawTar(tar::Builder<Vec<u8>>);

impl RawTar {
    pub(crate) fn new() -> Self {
        Self(tar::Builder::new(Vec::new()))
    }

    pub(crate) fn entry(
        mut self,
        name: &str,
        kind: tar::EntryType,
        link: Option<&str>,
        data: &[u8],
    ) -> Self {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    pub(crate) fn file(self, name: &str, data: &str) -> Self {
        self.entry(name, tar::EntryType::Regular, None, data.as_bytes())
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// Writes an OCI layout at `dir` holding one image of `layers` (raw tars),
/// tagged `tag`, with `config_extra` merged into the config's `config`.
pub(crate) fn oci_layout(
    dir: &Path,
    tag: &str,
    layers: &[Vec<u8>],
    config_extra: &serde_json::Value,
) -> PathBuf {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = digest(bytes);
        fs::write(blobs.join(d.trim_start_matches("sha256:")), bytes).unwrap();
        d
    };
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for tar in layers {
        let (blob, d, diff) = gzip_layer(tar);
        put(&blob);
        descriptors.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": blob.len()}));
        diff_ids.push(diff);
    }
    let mut inner =
        serde_json::json!({"Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "User": "10001"});
    if let (Some(base), Some(extra)) = (inner.as_object_mut(), config_extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": inner,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_digest = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descriptors,
    }))
    .unwrap();
    let manifest_digest = put(&manifest);
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag}}],
        }))
        .unwrap(),
    )
    .unwrap();
    dir.to_path_buf()
}

/// Runs a command, panicking with its output when it fails.
pub(crate) fn run(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
