//! The gzip form of an image, made only where bytes cross a network.
//!
//! A build writes every layer uncompressed (`application/vnd.oci.image.layer.v1.tar`,
//! its digest is its `diff_id`): a Docker daemon or containerd on the same
//! machine would only decompress it again. A registry push wants gzip, so
//! [`GzipPlan`] turns the layout's manifest into its gzip twin:
//!
//! - each uncompressed layer is compressed once per machine and cached by its
//!   `diff_id` (`<cache>/gzip/<hex>.json` and the blob store), so a second
//!   push, of this image or of any image sharing the layer, compresses
//!   nothing; a base layer that arrived gzipped keeps its original blob;
//! - compression runs on every core, pigz style: the tar is cut into fixed
//!   1 MiB chunks, each deflated on its own and ended on a byte boundary
//!   (a sync flush), and the pieces joined into one gzip member. The bytes
//!   depend only on the content and the level, never on the number of
//!   threads, so the gzip form is as reproducible as the tar;
//! - the config is unchanged (its `diff_ids` are the uncompressed digests), so
//!   the image id stays the same; only the manifest differs.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use oci_spec::image::{Descriptor, DescriptorBuilder, ImageIndex, ImageManifest, MediaType};
use serde::{Deserialize, Serialize};

use crate::blobs::BlobStore;
use crate::cache::Cache;
use crate::digest::{HashingReader, hex_part, sha256};
use crate::layer::PLAIN_LAYER;
use crate::{Error, Result};

/// The gzip level of pushed layers: zlib's default, the size/speed balance
/// registries and `docker push` use.
pub const LEVEL: u32 = 6;

/// Each chunk is compressed on its own; 1 MiB keeps the cost of the lost
/// dictionary (32 KiB per chunk) under 1 % and the memory per thread small.
const CHUNK: usize = 1 << 20;

/// A compressed layer as the cache records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Record {
    digest: String,
    size: u64,
}

/// One blob the gzip form names, and where its bytes are.
#[derive(Debug, Clone)]
pub struct GzipBlob {
    /// Its descriptor in the gzip manifest.
    pub descriptor: Descriptor,
    /// The file holding it (in the layout or the cache's blob store).
    pub path: PathBuf,
}

/// An image's gzip form, ready to push.
#[derive(Debug, Clone)]
pub struct GzipImage {
    /// The manifest bytes to push (the layout's own when no layer needed
    /// compressing).
    pub manifest: Vec<u8>,
    /// Their digest: the image's identity in the registry.
    pub digest: String,
    /// The manifest's media type.
    pub media_type: String,
    /// The config, then the layers, bottom first.
    pub blobs: Vec<GzipBlob>,
    /// Layers compressed in this call (0 when all came from the cache).
    pub layers_compressed: usize,
    /// Uncompressed bytes read by the compressor in this call.
    pub bytes_compressed: u64,
}

/// What the gzip form of a layout needs: read from the layout and the cache
/// without compressing anything, so a caller can tell how much work is left
/// before starting it (on a blocking thread).
#[derive(Debug, Clone)]
pub struct GzipPlan {
    layout: PathBuf,
    cache_dir: PathBuf,
    manifest_bytes: Vec<u8>,
    manifest: ImageManifest,
    /// Per layer: the cached gzip twin, if known.
    cached: Vec<Option<Record>>,
}

fn invalid(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::io("read", path, io::Error::other(reason.to_string()))
}

fn is_plain(media_type: &MediaType) -> bool {
    let text = media_type.to_string();
    text == PLAIN_LAYER || text == "application/vnd.docker.image.rootfs.diff.tar"
}

fn record_path(cache_dir: &Path, diff_id: &str) -> PathBuf {
    cache_dir
        .join("gzip")
        .join(format!("{}-{LEVEL}.json", hex_part(diff_id)))
}

fn cached_record(cache_dir: &Path, diff_id: &str) -> Option<Record> {
    let record: Record =
        serde_json::from_slice(&fs::read(record_path(cache_dir, diff_id)).ok()?).ok()?;
    BlobStore::new(cache_dir)
        .holds(&record.digest, record.size)
        .then_some(record)
}

/// Records that `diff_id`'s gzip form is the blob `digest` of `size` bytes in
/// the cache's store (a base layer that arrived gzipped).
pub(crate) fn remember(cache_dir: &Path, diff_id: &str, digest: &str, size: u64) -> Result<()> {
    let record = Record {
        digest: digest.to_owned(),
        size,
    };
    crate::base::save(&record_path(cache_dir, diff_id), &record)
}

impl GzipPlan {
    /// Reads the layout's single image manifest and looks each uncompressed
    /// layer up in the cache at `cache_dir`.
    ///
    /// # Errors
    ///
    /// The layout has no `index.json`, not exactly one manifest, or a
    /// manifest that does not match its digest.
    pub fn new(layout: &Path, cache_dir: &Path) -> Result<Self> {
        let index_path = layout.join("index.json");
        let index = ImageIndex::from_file(&index_path).map_err(|e| {
            invalid(
                &index_path,
                format!("{e}; pass the OCI layout `hoist build` wrote"),
            )
        })?;
        let [descriptor] = index.manifests().as_slice() else {
            return Err(invalid(
                &index_path,
                "holds more or less than one manifest; pass a layout with exactly one image",
            ));
        };
        let store = BlobStore::new(layout);
        let digest = descriptor.digest().to_string();
        let manifest_bytes = store.read(&digest)?;
        let actual = sha256(&manifest_bytes);
        if actual != digest {
            return Err(Error::DigestMismatch {
                what: format!("the manifest in {}", layout.display()),
                expected: digest,
                actual,
            });
        }
        let manifest = ImageManifest::from_reader(&manifest_bytes[..])
            .map_err(|e| invalid(&store.path(&digest), e))?;
        let cached = manifest
            .layers()
            .iter()
            .map(|layer| {
                is_plain(layer.media_type())
                    .then(|| cached_record(cache_dir, layer.digest().as_ref()))
                    .flatten()
            })
            .collect();
        Ok(Self {
            layout: layout.to_path_buf(),
            cache_dir: cache_dir.to_path_buf(),
            manifest_bytes,
            manifest,
            cached,
        })
    }

    /// Uncompressed bytes [`GzipPlan::run`] will compress (0: none).
    #[must_use]
    pub fn pending_bytes(&self) -> u64 {
        self.manifest
            .layers()
            .iter()
            .zip(&self.cached)
            .filter(|(layer, cached)| is_plain(layer.media_type()) && cached.is_none())
            .map(|(layer, _)| layer.size())
            .sum()
    }

    /// Compresses what the cache lacks (on every core, adding each chunk's
    /// uncompressed bytes to `progress`) and returns the gzip form.
    ///
    /// # Errors
    ///
    /// A layer blob is missing or does not match its digest, or the cache
    /// cannot be written.
    pub fn run(self, progress: &AtomicU64) -> Result<GzipImage> {
        let layout = BlobStore::new(&self.layout);
        let mut layers_compressed = 0;
        let mut bytes_compressed = 0;
        let mut cache = None;
        let mut blobs = vec![GzipBlob {
            descriptor: self.manifest.config().clone(),
            path: layout.path(self.manifest.config().digest().as_ref()),
        }];
        let mut changed = false;
        for (layer, cached) in self.manifest.layers().iter().zip(self.cached) {
            if !is_plain(layer.media_type()) {
                blobs.push(GzipBlob {
                    descriptor: layer.clone(),
                    path: layout.path(layer.digest().as_ref()),
                });
                continue;
            }
            changed = true;
            let diff_id = layer.digest().to_string();
            let record = if let Some(record) = cached {
                record
            } else {
                // Taken only when there is work: one writer at a time.
                let cache = match &mut cache {
                    Some(cache) => cache,
                    None => cache.insert(Cache::open(&self.cache_dir, true)?),
                };
                if let Some(record) = cached_record(&self.cache_dir, &diff_id) {
                    record
                } else {
                    let record = compress_layer(&layout, &diff_id, cache.store(), progress)?;
                    crate::base::save(&record_path(&self.cache_dir, &diff_id), &record)?;
                    layers_compressed += 1;
                    bytes_compressed += layer.size();
                    record
                }
            };
            let descriptor = DescriptorBuilder::default()
                .media_type(MediaType::ImageLayerGzip)
                .digest(parse_digest(&record.digest)?)
                .size(record.size);
            let descriptor = match layer.annotations() {
                Some(annotations) => descriptor.annotations(annotations.clone()),
                None => descriptor,
            }
            .build()
            .map_err(|e| invalid(&self.layout, e))?;
            blobs.push(GzipBlob {
                path: BlobStore::new(&self.cache_dir).path(&record.digest),
                descriptor,
            });
        }
        let (manifest, media_type) = if changed {
            let mut manifest = self.manifest.clone();
            manifest.set_layers(blobs[1..].iter().map(|b| b.descriptor.clone()).collect());
            (
                crate::output::canonical(&manifest),
                manifest
                    .media_type()
                    .clone()
                    .unwrap_or(MediaType::ImageManifest),
            )
        } else {
            (
                self.manifest_bytes,
                self.manifest
                    .media_type()
                    .clone()
                    .unwrap_or(MediaType::ImageManifest),
            )
        };
        Ok(GzipImage {
            digest: sha256(&manifest),
            manifest,
            media_type: media_type.to_string(),
            blobs,
            layers_compressed,
            bytes_compressed,
        })
    }
}

/// The gzip size of a stored layer, compressing it (once per machine, the
/// result kept for a push) when the cache does not know it yet.
pub(crate) fn compressed_size(cache: &Cache, packed: &crate::PackedLayer) -> Result<u64> {
    if packed.media_type.ends_with("gzip") {
        return Ok(packed.size);
    }
    if let Some(record) = cached_record(cache.dir(), &packed.diff_id) {
        return Ok(record.size);
    }
    let record = compress_layer(
        cache.store(),
        &packed.diff_id,
        cache.store(),
        &AtomicU64::new(0),
    )?;
    crate::base::save(&record_path(cache.dir(), &packed.diff_id), &record)?;
    Ok(record.size)
}

fn parse_digest(digest: &str) -> Result<oci_spec::image::Digest> {
    digest
        .parse()
        .map_err(|e| Error::io("parse digest", Path::new(digest), io::Error::other(e)))
}

/// Compresses the uncompressed layer `diff_id` of `layout` into `store`,
/// checking on the way that it hashes to its digest.
fn compress_layer(
    layout: &BlobStore,
    diff_id: &str,
    store: &BlobStore,
    progress: &AtomicU64,
) -> Result<Record> {
    let path = layout.path(diff_id);
    let file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
    let mut input = HashingReader::new(BufReader::with_capacity(CHUNK, file));
    let ((), digest, size) = store.write_with(|out| {
        gzip_parallel(&mut input, out, LEVEL, progress).map_err(|e| Error::io("compress", &path, e))
    })?;
    let (actual, _) = input.finish().map_err(|e| Error::io("read", &path, e))?;
    if actual != diff_id {
        let _ = fs::remove_file(store.path(&digest));
        return Err(Error::DigestMismatch {
            what: format!("layer blob {}", path.display()),
            expected: diff_id.to_owned(),
            actual,
        });
    }
    Ok(Record { digest, size })
}

/// Fills `buf` from `reader` up to its capacity; fewer bytes only at the end.
fn fill(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    reader.take(CHUNK as u64).read_to_end(buf)?;
    Ok(())
}

/// Writes `input` as one gzip member, compressing fixed-size chunks on all
/// cores; see the module docs for why the output is the same on any machine.
pub(crate) fn gzip_parallel(
    input: &mut impl Read,
    output: &mut impl Write,
    level: u32,
    progress: &AtomicU64,
) -> io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    gzip_on(threads, input, output, level, progress)
}

/// [`gzip_parallel`] on `threads` threads.
fn gzip_on(
    threads: usize,
    input: &mut impl Read,
    output: &mut impl Write,
    level: u32,
    progress: &AtomicU64,
) -> io::Result<()> {
    // A fixed header: no name, no mtime, OS "unknown", as flate2 writes it.
    output.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
    let mut crc = Crc::new();
    let mut next = Vec::with_capacity(CHUNK);
    fill(input, &mut next)?;
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(threads);
    loop {
        batch.clear();
        let mut last = false;
        while batch.len() < threads {
            let mut chunk = std::mem::replace(&mut next, Vec::with_capacity(CHUNK));
            fill(input, &mut next)?;
            crc.update(&chunk);
            last = next.is_empty();
            chunk.shrink_to_fit();
            batch.push(chunk);
            if last {
                break;
            }
        }
        let count = batch.len();
        let compressed: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .iter()
                .enumerate()
                .map(|(i, chunk)| {
                    let final_chunk = last && i + 1 == count;
                    scope.spawn(move || deflate_chunk(chunk, level, final_chunk))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a deflate thread panicked"))
                .collect()
        });
        for (chunk, out) in batch.iter().zip(compressed) {
            output.write_all(&out)?;
            progress.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        if last {
            break;
        }
    }
    output.write_all(&crc.sum().to_le_bytes())?;
    output.write_all(&crc.amount().to_le_bytes())?;
    Ok(())
}

/// Raw deflate of one chunk, on its own: a sync flush ends it on a byte
/// boundary so the next chunk's blocks follow; the final chunk finishes the
/// stream.
fn deflate_chunk(data: &[u8], level: u32, last: bool) -> Vec<u8> {
    let mut compress = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = usize::try_from(compress.total_in()).unwrap_or(usize::MAX);
        let status = compress
            .compress_vec(&data[consumed.min(data.len())..], &mut out, flush)
            .expect("deflate of an in-memory buffer cannot fail");
        let all_in = usize::try_from(compress.total_in()).unwrap_or(usize::MAX) >= data.len();
        let done = if last {
            status == Status::StreamEnd
        } else {
            // A flush is complete once it leaves output space unused.
            all_in && out.len() < out.capacity()
        };
        if done {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn parallel_gzip_round_trips_and_is_the_same_on_any_number_of_threads() {
        // Several chunks, the last one partial, with repetitive and random parts.
        let mut data = Vec::new();
        let mut x: u32 = 7;
        for i in 0..(3 * CHUNK + 12_345) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            data.push(if i % 3 == 0 { x.to_le_bytes()[2] } else { b'a' });
        }
        for input in [&data[..], &data[..CHUNK], &[][..], b"x"] {
            let progress = AtomicU64::new(0);
            let mut first = Vec::new();
            gzip_parallel(&mut &input[..], &mut first, LEVEL, &progress).unwrap();
            assert_eq!(gunzip(&first), input);
            assert_eq!(progress.load(Ordering::Relaxed), input.len() as u64);
            for threads in [1, 3] {
                let mut other = Vec::new();
                gzip_on(
                    threads,
                    &mut &input[..],
                    &mut other,
                    LEVEL,
                    &AtomicU64::new(0),
                )
                .unwrap();
                assert_eq!(first, other, "{threads} threads");
            }
        }
    }
}
