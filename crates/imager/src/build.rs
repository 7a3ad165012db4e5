//! The build: base, layers (from the cache when their inputs are unchanged),
//! config, budget, then the outputs.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::{self, BaseImage, BaseLayer};
use crate::budget::{self, Sized};
use crate::cache::{Cache, LayerRecord};
use crate::digest::{hex_part, sha256};
use crate::image_config::{ConfigLayer, Stamp, config_json, manifest_json, resolve_user, rfc3339};
use crate::layer::{self, PackedLayer};
use crate::output::{Image, write_archive, write_layout};
use crate::recipe::Recipe;
use crate::untrusted::{Listing, passwd};
use crate::{Reporter, Result};

/// How to build, beyond the recipe.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The service name: names the image and picks the default budget.
    pub service: String,
    /// Where the OCI layout (`oci/`) and the docker-archive (`image.tar`) go.
    pub out_dir: PathBuf,
    /// The cache directory (default [`crate::cache::default_dir`]).
    pub cache_dir: PathBuf,
    /// Ignore cached layers and prepare steps (`--no-cache`).
    pub no_cache: bool,
    /// Timestamps for files and the config; `SOURCE_DATE_EPOCH` or 0.
    pub source_date_epoch: u64,
    /// The source revision for the `org.opencontainers.image.revision` annotation.
    pub revision: Option<String>,
    /// The repository the docker-archive tags the image in (default `hoist/<service>`).
    pub repository: Option<String>,
    /// Credentials for a registry base (default [`crate::RegistryAuth::from_env`]).
    pub registry_auth: crate::RegistryAuth,
    /// Docker's config and mirrors for registry bases (default [`crate::Registries::from_env`]).
    pub registries: crate::Registries,
}

impl BuildOptions {
    /// Options with the defaults: the default cache, `SOURCE_DATE_EPOCH`
    /// from the environment (else 0), caching on.
    pub fn new(service: &str, out_dir: impl Into<PathBuf>) -> Self {
        Self {
            service: service.to_owned(),
            out_dir: out_dir.into(),
            cache_dir: crate::cache::default_dir(),
            no_cache: false,
            source_date_epoch: std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
            revision: None,
            repository: None,
            registry_auth: crate::RegistryAuth::from_env(),
            registries: crate::Registries::from_env(),
        }
    }
}

/// Where the work went: lets callers (and tests) see that a warm build did
/// no tar or gzip work.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Work {
    /// Recipe layers tarred and gzipped in this build.
    pub layers_packed: usize,
    /// Recipe layers reused from the cache.
    pub layers_reused: usize,
    /// Uncompressed bytes written by the tar writer.
    pub bytes_packed: u64,
    /// Prepare steps run.
    pub prepare_run: usize,
    /// Prepare steps skipped because their inputs had not changed.
    pub prepare_skipped: usize,
    /// Files read by the secret scan.
    pub files_scanned: usize,
}

/// One layer of a built image.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LayerReport {
    /// `base` for base layers, else the recipe layer's name.
    pub name: String,
    /// The compressed blob's digest.
    pub digest: String,
    /// The uncompressed digest.
    pub diff_id: String,
    /// Compressed bytes.
    pub size: u64,
    /// Uncompressed bytes.
    pub uncompressed_size: u64,
    /// The blob's media type.
    pub media_type: String,
    /// Whether it came from the cache (or the base) rather than being packed.
    pub cached: bool,
}

/// A built image: what delivery needs and what the CLI reports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Built {
    /// The service.
    pub service: String,
    /// The OCI image layout directory (tagged with [`Built::tag`]).
    pub layout: PathBuf,
    /// The docker-archive (`docker load -i`).
    pub archive: PathBuf,
    /// The tag in the layout's index (the first 12 hex digits of the manifest digest).
    pub tag: String,
    /// `repository:tag` as the docker-archive names it.
    pub reference: String,
    /// The manifest's digest: the image's identity.
    pub manifest_digest: String,
    /// The config's digest (Docker's image id).
    pub config_digest: String,
    /// Layers, base first.
    pub layers: Vec<LayerReport>,
    /// Total compressed bytes.
    pub size: u64,
    /// Total uncompressed bytes.
    pub uncompressed_size: u64,
    /// The work this build did.
    pub work: Work,
}

/// Builds `recipe` into an OCI layout and a docker-archive under
/// `options.out_dir`.
///
/// # Errors
///
/// Any [`crate::Error`]: a bad recipe or base, a secret found, a budget
/// exceeded (nothing is written then), or an I/O failure.
pub fn build(recipe: &Recipe, options: &BuildOptions, reporter: &dyn Reporter) -> Result<Built> {
    let cache = Cache::open(&options.cache_dir, !options.no_cache)?;
    let mut work = Work::default();
    let level = recipe.compression_level.unwrap_or(6).min(9);
    let mtime = options.source_date_epoch;

    crate::prepare::run(recipe, &cache, reporter, &mut work)?;
    let ctx = base::Ctx {
        store: cache.store(),
        cache_dir: cache.dir(),
        level,
        mtime,
        reporter,
        reuse: cache.reuse(),
        registry_auth: &options.registry_auth,
        registries: &options.registries,
    };
    let base = match &recipe.dockerfile {
        Some(dockerfile) => {
            let archive = cache
                .dir()
                .join("docker-builds")
                .join(format!("{}.tar", options.service));
            let tag = format!("hoist-build/{}:latest", options.service);
            crate::dockerfile::build_and_save(dockerfile, &tag, &archive, reporter)?;
            base::load(&crate::recipe::Base::DockerArchive(archive), &ctx)?
        }
        None => base::load(&recipe.base, &ctx)?,
    };
    let walked = recipe
        .layers
        .iter()
        .map(layer::walk)
        .collect::<Result<Vec<_>>>()?;
    let keys = walked
        .iter()
        .map(|w| layer::input_key(w, level))
        .collect::<Result<Vec<_>>>()?;
    let stamp = Stamp {
        created: rfc3339(options.source_date_epoch),
        revision: options.revision.as_deref(),
    };
    let user = resolve_user(
        recipe,
        base.config.as_ref(),
        passwd(base.layers.iter().map(|l| &l.listing)),
    )?;
    let records: Vec<Option<LayerRecord>> = keys.iter().map(|key| cache.layer(key)).collect();
    let scan_key = scan_everything(
        recipe, &base, &walked, &records, &cache, &user, &stamp, &mut work,
    )?;

    let mut ours: Vec<(PackedLayer, bool)> = Vec::new();
    for (((layer, walked), key), record) in
        recipe.layers.iter().zip(&walked).zip(&keys).zip(records)
    {
        let (packed, cached) = if let Some(record) = record {
            work.layers_reused += 1;
            (record.packed, true)
        } else {
            let packed = layer::pack(walked, &layer.name, level, mtime, cache.store(), reporter)?;
            work.layers_packed += 1;
            work.bytes_packed += packed.uncompressed_size;
            (packed, false)
        };
        let record = LayerRecord {
            packed,
            scanned: scan_key.clone(),
        };
        cache.put_layer(key, &record)?;
        ours.push((record.packed, cached));
    }
    check_budget(recipe, options, &base, &ours)?;
    write(
        recipe,
        options,
        &base,
        &ours,
        &user,
        &stamp,
        cache.store(),
        reporter,
        work,
    )
}

/// Scans base layers, changed recipe layers and the config before anything
/// is written; returns the scan's key for the layer records.
#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename them.
fn scan_everything(
    recipe: &Recipe,
    base: &BaseImage,
    walked: &[layer::Walked],
    records: &[Option<LayerRecord>],
    cache: &Cache,
    user: &str,
    stamp: &Stamp<'_>,
    work: &mut Work,
) -> Result<String> {
    let mut scan = crate::scan::Scan::new(recipe)?;
    scan.base_layers(base, cache, work)?;
    for ((layer, walked), record) in recipe.layers.iter().zip(walked).zip(records) {
        if record.as_ref().is_none_or(|r| r.scanned != scan.key()) {
            scan.host_files(&layer.name, walked, work)?;
        }
    }
    // The config is scanned before any layer is packed, so a secret in Env
    // or Labels fails the build before anything is written.
    let preview = config_json(recipe, base.config.as_ref(), user, &[], stamp)?;
    scan.config(&preview)?;
    scan.finish()?;
    Ok(scan.key().to_owned())
}

fn check_budget(
    recipe: &Recipe,
    options: &BuildOptions,
    base: &BaseImage,
    ours: &[(PackedLayer, bool)],
) -> Result<()> {
    let listings: Vec<Listing> = ours
        .iter()
        .map(|(p, _)| Listing {
            files: p.files.clone(),
            ..Listing::default()
        })
        .collect();
    let mut sized: Vec<Sized<'_>> = base
        .layers
        .iter()
        .map(|l| Sized {
            name: "base",
            size: l.packed.size,
            uncompressed: l.packed.uncompressed_size,
            listing: &l.listing,
        })
        .collect();
    sized.extend(recipe.layers.iter().zip(ours).zip(&listings).map(
        |((layer, (packed, _)), listing)| Sized {
            name: &layer.name,
            size: packed.size,
            uncompressed: packed.uncompressed_size,
            listing,
        },
    ));
    Ok(budget::check(
        &options.service,
        recipe.budget_for(&options.service),
        &sized,
    )?)
}

/// Writes the config, the manifest and both outputs.
#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename them.
fn write(
    recipe: &Recipe,
    options: &BuildOptions,
    base: &BaseImage,
    ours: &[(PackedLayer, bool)],
    user: &str,
    stamp: &Stamp<'_>,
    store: &crate::blobs::BlobStore,
    reporter: &dyn Reporter,
    work: Work,
) -> Result<Built> {
    let reports = reports(base, recipe, ours);
    let config_layers: Vec<ConfigLayer<'_>> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| ConfigLayer {
            digest: &r.digest,
            diff_id: &r.diff_id,
            size: r.size,
            media_type: &r.media_type,
            created_by: (i >= base.layers.len()).then(|| format!("hoist: layer {}", r.name)),
        })
        .collect();
    let config = config_json(recipe, base.config.as_ref(), user, &config_layers, stamp)?;
    let config_digest = sha256(&config);
    let manifest = manifest_json(
        recipe,
        (&config_digest, config.len() as u64),
        &config_layers,
        stamp,
    )?;
    let manifest_digest = sha256(&manifest);
    let tag = hex_part(&manifest_digest)[..12].to_owned();
    let repository = options
        .repository
        .clone()
        .unwrap_or_else(|| format!("hoist/{}", options.service));
    let reference = format!("{repository}:{tag}");
    let layout = options.out_dir.join("oci");
    let archive = options.out_dir.join("image.tar");
    let image = Image {
        store,
        manifest: (&manifest_digest, &manifest),
        config: (&config_digest, &config),
        layers: reports.iter().map(|r| r.digest.as_str()).collect(),
        tag: &tag,
        reference: &reference,
    };
    let task = reporter.on_start(&format!("write {}", options.out_dir.display()), None);
    write_layout(&layout, &image)?;
    if !archive_is_current(&archive, &manifest_digest) {
        write_archive(&archive, &image)?;
        crate::blobs::write_atomic(&stamp_path(&archive), manifest_digest.as_bytes())?;
    }
    reporter.on_finish(task, &manifest_digest);
    Ok(Built {
        service: options.service.clone(),
        layout,
        archive,
        tag,
        reference,
        manifest_digest,
        config_digest,
        size: reports.iter().map(|r| r.size).sum(),
        uncompressed_size: reports.iter().map(|r| r.uncompressed_size).sum(),
        layers: reports,
        work,
    })
}

fn reports(base: &BaseImage, recipe: &Recipe, ours: &[(PackedLayer, bool)]) -> Vec<LayerReport> {
    let report = |name: &str, p: &PackedLayer, cached: bool| LayerReport {
        name: name.to_owned(),
        digest: p.digest.clone(),
        diff_id: p.diff_id.clone(),
        size: p.size,
        uncompressed_size: p.uncompressed_size,
        media_type: p.media_type.clone(),
        cached,
    };
    base.layers
        .iter()
        .map(|l: &BaseLayer| report("base", &l.packed, true))
        .chain(
            recipe
                .layers
                .iter()
                .zip(ours)
                .map(|(l, (p, cached))| report(&l.name, p, *cached)),
        )
        .collect()
}

/// The archive is rewritten only when its image changed: a warm build then
/// writes nothing large.
fn stamp_path(archive: &Path) -> PathBuf {
    archive.with_extension("tar.digest")
}

fn archive_is_current(archive: &Path, digest: &str) -> bool {
    archive.is_file() && std::fs::read(stamp_path(archive)).is_ok_and(|d| d == digest.as_bytes())
}
