//! The build: base, layers (from the cache when their inputs are unchanged),
//! config, budget, then the outputs.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::{self, BaseImage, BaseLayer};
use crate::budget::{self, Sized};
use crate::cache::{Cache, LayerRecord};
use crate::digest::{hex_part, sha256};
use crate::image_config::{ConfigLayer, Stamp, config_json, manifest_json, resolve_user, rfc3339};
use crate::index::{Index, Keyed};
use crate::layer::{self, PackedLayer, Walked};
use crate::output::{Image, write_archive, write_layout};
use crate::recipe::Recipe;
use crate::scan::Scan;
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
/// no tar work and read no file.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Work {
    /// Recipe layers tarred in this build.
    pub layers_packed: usize,
    /// Recipe layers reused from the cache.
    pub layers_reused: usize,
    /// Uncompressed bytes written by the tar writer.
    pub bytes_packed: u64,
    /// Prepare steps run.
    pub prepare_run: usize,
    /// Prepare steps skipped because their inputs had not changed.
    pub prepare_skipped: usize,
    /// Files read by the secret scan (base layer entries and host files).
    pub files_scanned: usize,
    /// Host files of recipe layers opened and read, for a content digest,
    /// the secret scan or the tar (packing reads each file once).
    pub files_read: usize,
}

/// One layer of a built image.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LayerReport {
    /// `base` for base layers, else the recipe layer's name.
    pub name: String,
    /// The blob's digest (the `diff_id` for the uncompressed tars a build writes).
    pub digest: String,
    /// The uncompressed digest.
    pub diff_id: String,
    /// The blob's bytes.
    pub size: u64,
    /// Uncompressed bytes.
    pub uncompressed_size: u64,
    /// The blob's media type.
    pub media_type: String,
    /// Whether it came from the cache rather than being packed or imported
    /// in this build.
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
    /// Total bytes of the layer blobs (uncompressed tars, unless a base
    /// layer came gzipped).
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
    let mtime = options.source_date_epoch;

    crate::prepare::run(recipe, &cache, reporter, &mut work)?;
    let ctx = base::Ctx {
        store: cache.store(),
        cache_dir: cache.dir(),
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
    let started = crate::index::walk_started();
    let walked = recipe
        .layers
        .iter()
        .map(layer::walk)
        .collect::<Result<Vec<_>>>()?;
    let indexes: Vec<Index> = recipe
        .layers
        .iter()
        .map(|l| Index::load(cache.dir(), cache.reuse(), l))
        .collect();
    let keyed = indexes
        .iter()
        .zip(&walked)
        .map(|(index, walked)| index.key(walked, &mut work.files_read))
        .collect::<Result<Vec<_>>>()?;
    let records: Vec<Option<LayerRecord>> = keyed
        .iter()
        .map(|k| k.as_ref().and_then(|k| cache.layer(&k.key)))
        .collect();
    let stamp = Stamp {
        created: rfc3339(options.source_date_epoch),
        revision: options.revision.as_deref(),
    };
    let user = resolve_user(
        recipe,
        base.config.as_ref(),
        passwd(base.layers.iter().map(|l| &l.listing)),
    )?;
    let scan = scan_before_packing(recipe, &base, &walked, &records, &user, &stamp, &mut work)?;
    let packed = pack_missing(recipe, &walked, &records, &scan, &cache, mtime, reporter);
    let layers = Layers {
        walked,
        indexes,
        keyed,
        records,
        packed,
        started,
    };
    let ours = settle(recipe, layers, scan, &cache, &mut work)?;
    check_budget(recipe, options, &base, &ours, &cache)?;
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

/// What the build learnt about its recipe layers before settling them.
struct Layers {
    walked: Vec<Walked>,
    indexes: Vec<Index>,
    keyed: Vec<Option<Keyed>>,
    records: Vec<Option<LayerRecord>>,
    packed: std::collections::BTreeMap<usize, Result<layer::Packed>>,
    started: i64,
}

/// Takes each layer from its record or from packing, updates the stat
/// indexes, fails on any secret found (removing what was packed), and only
/// then records the new layers.
fn settle(
    recipe: &Recipe,
    layers: Layers,
    mut scan: Scan,
    cache: &Cache,
    work: &mut Work,
) -> Result<Vec<(PackedLayer, bool)>> {
    let Layers {
        walked,
        indexes,
        keyed,
        records,
        mut packed,
        started,
    } = layers;
    let mut ours = Vec::new();
    let mut to_record = Vec::new();
    let mut new_blobs = Vec::new();
    for (i, ((layer, walked), (keyed, record))) in recipe
        .layers
        .iter()
        .zip(&walked)
        .zip(keyed.into_iter().zip(records))
        .enumerate()
    {
        let (packed_layer, keyed, cached) = if let (Some(record), Some(keyed)) = (record, keyed) {
            work.layers_reused += 1;
            (record.packed, keyed, true)
        } else {
            let Some(packed) = packed.remove(&i) else {
                unreachable!("every layer without a record is packed");
            };
            let packed = packed?;
            work.layers_packed += 1;
            work.files_read += packed.reads;
            work.files_scanned += packed.reads;
            work.bytes_packed += packed.layer.uncompressed_size;
            new_blobs.push(packed.layer.digest.clone());
            scan.found_in_layer(&layer.name, packed.findings);
            let Some(key) = layer::content_key(walked, &packed.digests) else {
                unreachable!("packing learns every file's digest");
            };
            let keyed = Keyed {
                key,
                digests: packed.digests,
            };
            (packed.layer, keyed, false)
        };
        indexes[i].update(cache.dir(), layer, walked, &keyed.digests, started)?;
        to_record.push((keyed.key, packed_layer.clone()));
        ours.push((packed_layer, cached));
    }
    if let Err(found) = scan.finish() {
        // Nothing of a layer holding a secret stays behind.
        for digest in &new_blobs {
            let _ = std::fs::remove_file(cache.store().path(digest));
        }
        return Err(found);
    }
    for (key, packed) in to_record {
        let record = LayerRecord {
            packed,
            scanned: scan.key().to_owned(),
        };
        cache.put_layer(&key, &record)?;
    }
    Ok(ours)
}

/// Scans what is known before packing: the base layers (from their import
/// records), reused layers last cleared under another allowlist, and the
/// config. Layers to pack are scanned as they are packed, and every finding
/// is reported at once, before any output is written.
fn scan_before_packing(
    recipe: &Recipe,
    base: &BaseImage,
    walked: &[Walked],
    records: &[Option<LayerRecord>],
    user: &str,
    stamp: &Stamp<'_>,
    work: &mut Work,
) -> Result<Scan> {
    let mut scan = Scan::new(recipe)?;
    scan.base_layers(base);
    for ((layer, walked), record) in recipe.layers.iter().zip(walked).zip(records) {
        if let Some(record) = record
            && record.scanned != scan.key()
        {
            scan.host_files(&layer.name, walked, work)?;
        }
    }
    let preview = config_json(recipe, base.config.as_ref(), user, &[], stamp)?;
    scan.config(&preview)?;
    Ok(scan)
}

/// Packs every layer without a record, in parallel where there is more than
/// one core; each is scanned in the same read.
fn pack_missing(
    recipe: &Recipe,
    walked: &[Walked],
    records: &[Option<LayerRecord>],
    scan: &Scan,
    cache: &Cache,
    mtime: u64,
    reporter: &dyn Reporter,
) -> std::collections::BTreeMap<usize, Result<layer::Packed>> {
    let missing: Vec<usize> = (0..walked.len())
        .filter(|&i| records[i].is_none())
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut packed = std::collections::BTreeMap::new();
    for group in missing.chunks(threads) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = group
                .iter()
                .map(|&i| {
                    let name = &recipe.layers[i].name;
                    let walked = &walked[i];
                    let handle = scope.spawn(move || {
                        layer::pack(
                            walked,
                            name,
                            mtime,
                            cache.store(),
                            Some(scan.scanner()),
                            reporter,
                        )
                    });
                    (i, handle)
                })
                .collect();
            for (i, handle) in handles {
                packed.insert(i, handle.join().expect("a packing thread panicked"));
            }
        });
    }
    packed
}

fn check_budget(
    recipe: &Recipe,
    options: &BuildOptions,
    base: &BaseImage,
    ours: &[(PackedLayer, bool)],
    cache: &Cache,
) -> Result<()> {
    let budget = recipe.budget_for(&options.service);
    // A compressed budget is checked against the gzip form a push would send
    // (made once per layer and cached for that push); else no gzip is made.
    let gzip_size = |packed: &PackedLayer| {
        if budget.compressed.is_some() {
            crate::gzip::compressed_size(cache, packed)
        } else {
            Ok(packed.size)
        }
    };
    let listings: Vec<Listing> = ours
        .iter()
        .map(|(p, _)| Listing {
            files: p.files.clone(),
            ..Listing::default()
        })
        .collect();
    let mut sized: Vec<Sized<'_>> = Vec::new();
    for layer in &base.layers {
        sized.push(Sized {
            name: "base",
            size: gzip_size(&layer.packed)?,
            uncompressed: layer.packed.uncompressed_size,
            listing: &layer.listing,
        });
    }
    for ((layer, (packed, _)), listing) in recipe.layers.iter().zip(ours).zip(&listings) {
        sized.push(Sized {
            name: &layer.name,
            size: gzip_size(packed)?,
            uncompressed: packed.uncompressed_size,
            listing,
        });
    }
    Ok(budget::check(&options.service, budget, &sized)?)
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
        let size = std::fs::metadata(&archive)
            .map_err(|e| crate::Error::io("stat", &archive, e))?
            .len();
        crate::blobs::write_atomic(
            &stamp_path(&archive),
            archive_stamp(&manifest_digest, size).as_bytes(),
        )?;
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
        .map(|l: &BaseLayer| report("base", &l.packed, !l.fresh))
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
/// writes nothing large. Its stamp records the image and the archive's
/// size, as the blob store does for blobs: the archive is not synced to
/// disk, so one a crash left short is written again, never delivered.
fn stamp_path(archive: &Path) -> PathBuf {
    archive.with_extension("tar.digest")
}

fn archive_stamp(digest: &str, size: u64) -> String {
    format!("{digest} {size}")
}

fn archive_is_current(archive: &Path, digest: &str) -> bool {
    let Ok(meta) = std::fs::metadata(archive) else {
        return false;
    };
    meta.is_file()
        && std::fs::read(stamp_path(archive))
            .is_ok_and(|s| s == archive_stamp(digest, meta.len()).as_bytes())
}
