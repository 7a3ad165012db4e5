//! Packing a walked layer: each file read once, then hashed, scanned and
//! tarred by three threads in a pipeline, as `tar -c | sha256sum` splits
//! reading from hashing.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, mpsc};

use hoist_secrets::{Finding, Scanner};

use super::{FileSize, Kind, PLAIN_LAYER, PackedLayer, Walked, human};
use crate::blobs::BlobStore;
use crate::digest::HashingReader;
use crate::{Error, Reporter, Result};

/// Files up to this size are read into memory once and hashed, scanned and
/// tarred from there; a bigger one is streamed into the tar and read a
/// second time by the scan, which keeps the peak memory flat.
const IN_MEMORY: u64 = 8 << 20;

/// File content held in memory between reading a file and writing it to
/// the tar, at most: two of the biggest files held in memory. Many small
/// files fit at once, so a stage never waits on the next for each one.
const IN_FLIGHT: u64 = 2 * IN_MEMORY;

/// What packing a layer learnt in its one read of each file.
#[derive(Debug)]
pub(crate) struct Packed {
    pub(crate) layer: PackedLayer,
    /// Each regular file's content digest, by image path.
    pub(crate) digests: BTreeMap<String, String>,
    /// What the scan found (empty when it was not asked to scan).
    pub(crate) findings: Vec<Finding>,
    /// Host files opened and read.
    pub(crate) reads: usize,
}

/// Packs the walked entries into an uncompressed tar blob in `store`, whose
/// digest is its `diff_id`. Each file is read once: the same bytes are
/// hashed (for the cache key), handed to `scanner` when given, and tarred.
///
/// Three threads share the work: this one reads and scans each file, the
/// next hashes it, the last writes the tar and hashes that (the `diff_id`).
/// Entries reach the tar in the same order either way, so the bytes are
/// those of a single-threaded pack.
///
/// # Errors
///
/// Reading a host file or writing the blob fails, or a file changed size
/// while being packed.
pub(crate) fn pack(
    walked: &Walked,
    name: &str,
    mtime: u64,
    store: &BlobStore,
    scanner: Option<&Scanner>,
    reporter: &dyn Reporter,
) -> Result<Packed> {
    let task = reporter.on_start(&format!("pack layer {name}"), Some(walked.content_bytes()));
    let mut files = Vec::new();
    let mut reads = 0;
    let mut digests = BTreeMap::new();
    let mut findings = Vec::new();
    let (streamed, digest, size) = store.write_with(|blob| {
        let (items, to_hasher) = mpsc::sync_channel::<Item>(64);
        let (to_writer, for_writer) = mpsc::sync_channel::<Item>(64);
        let in_flight = InFlight::default();
        std::thread::scope(|scope| {
            let in_flight = &in_flight;
            let writer = scope.spawn(move || {
                // However the writer ends, a reader waiting for room hears of it.
                let _closing = Closing(in_flight);
                let mut tar = tar::Builder::new(blob);
                let mut sink = TarSink::new(&mut tar, name);
                for item in for_writer {
                    if let Some(data) = sink.append(item)? {
                        in_flight.give(data.len() as u64);
                    }
                }
                let streamed = sink.streamed;
                tar.into_inner()
                    .and_then(Write::flush)
                    .map_err(|e| Error::io("pack", Path::new(name), e))?;
                Ok::<_, Error>(streamed)
            });
            // The content digests get a stage of their own: hashed while
            // reading, they made the reader the slow side of two; split in
            // three, the work spreads evenly over two cores.
            let hasher = scope.spawn(move || {
                let mut hashed = Vec::new();
                for item in to_hasher {
                    if let Item::File { path, data, .. } = &item {
                        hashed.push((path.clone(), crate::digest::sha256(data)));
                    }
                    if to_writer.send(item).is_err() {
                        break;
                    }
                }
                hashed
            });
            let mut piped = Piped { items, in_flight };
            let mut on_file = |file: FileSize, done: u64| {
                files.push(file);
                reporter.on_progress(task, done);
            };
            let mut reader = FileReader {
                scanner,
                findings: &mut findings,
                reads: &mut reads,
            };
            let produced = produce(walked, name, mtime, &mut reader, &mut piped, &mut on_file);
            // Closing the channel lets the other stages finish what they were sent.
            drop(piped);
            digests.extend(hasher.join().expect("the hashing stage panicked"));
            let written = writer.join().expect("the tar writer panicked");
            // The writer's error comes first: a reader that stopped because
            // the writer had gone only says so.
            let streamed = written?;
            produced.map(|()| streamed)
        })
    })?;
    digests.extend(streamed);
    reporter.on_finish(task, &human(size));
    Ok(Packed {
        layer: PackedLayer {
            diff_id: digest.clone(),
            digest,
            size,
            uncompressed_size: size,
            media_type: PLAIN_LAYER.to_owned(),
            files,
        },
        digests,
        findings,
        reads,
    })
}

/// Appends the walked entries to `tar`, without scanning (a Dockerfile
/// build's context, which the daemon reads and the image scan covers).
pub(crate) fn append_all<W: Write>(
    tar: &mut tar::Builder<W>,
    walked: &Walked,
    name: &str,
    mtime: u64,
) -> Result<()> {
    let (mut reads, mut findings) = (0, Vec::new());
    let mut reader = FileReader {
        scanner: None,
        findings: &mut findings,
        reads: &mut reads,
    };
    let mut inline = Inline {
        sink: TarSink::new(tar, name),
        spare: Vec::new(),
    };
    produce(
        walked,
        name,
        mtime,
        &mut reader,
        &mut inline,
        &mut |_, _| {},
    )
}

/// An entry on its way into the tar, its header complete. A file's bytes
/// are in memory (already hashed and scanned), or too many to hold: then
/// whoever writes the tar streams them from the host and hashes them.
enum Item {
    Dir {
        header: tar::Header,
        path: String,
    },
    Link {
        header: tar::Header,
        path: String,
        target: PathBuf,
    },
    File {
        header: tar::Header,
        path: String,
        data: Vec<u8>,
    },
    Stream {
        header: tar::Header,
        path: String,
        host: PathBuf,
        size: u64,
    },
}

/// Where [`produce`] hands its entries, and where it gets file buffers.
trait Sink {
    /// An empty buffer to read a file of `size` bytes into.
    fn buffer(&mut self, size: u64) -> Result<Vec<u8>>;
    /// Passes an entry on to the tar.
    fn send(&mut self, item: Item) -> Result<()>;
}

/// Entries written to the tar on the calling thread.
struct Inline<'a, W: Write> {
    sink: TarSink<'a, W>,
    spare: Vec<u8>,
}

impl<W: Write> Sink for Inline<'_, W> {
    fn buffer(&mut self, _size: u64) -> Result<Vec<u8>> {
        Ok(std::mem::take(&mut self.spare))
    }

    fn send(&mut self, item: Item) -> Result<()> {
        if let Some(mut buffer) = self.sink.append(item)? {
            buffer.clear();
            self.spare = buffer;
        }
        Ok(())
    }
}

/// Entries sent down the pipeline, each file's buffer made to measure
/// once there is room for it.
struct Piped<'a> {
    items: mpsc::SyncSender<Item>,
    in_flight: &'a InFlight,
}

/// What the reading side says when the writer stopped first; the writer's
/// own error is the one reported.
fn writer_gone() -> Error {
    Error::io(
        "pack",
        Path::new("layer"),
        io::Error::other("the tar writer stopped"),
    )
}

impl Sink for Piped<'_> {
    fn buffer(&mut self, size: u64) -> Result<Vec<u8>> {
        self.in_flight.take(size)?;
        Ok(Vec::with_capacity(usize::try_from(size).unwrap_or(0)))
    }

    fn send(&mut self, item: Item) -> Result<()> {
        self.items.send(item).map_err(|_| writer_gone())
    }
}

/// The file content between the reader and the tar writer, in bytes; the
/// reader waits while another file would take it over [`IN_FLIGHT`].
#[derive(Default)]
struct InFlight {
    state: Mutex<(u64, bool)>,
    changed: Condvar,
}

impl InFlight {
    /// The bytes held and whether the writer has stopped. A panic elsewhere
    /// leaves the numbers whole, so a poisoned lock is still read.
    fn state(&self) -> MutexGuard<'_, (u64, bool)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `size` more bytes fit (or nothing is in flight); fails
    /// once the writer has stopped.
    fn take(&self, size: u64) -> Result<()> {
        let mut state = self.state();
        loop {
            let (held, closed) = *state;
            if closed {
                return Err(writer_gone());
            }
            if held == 0 || held + size <= IN_FLIGHT {
                state.0 = held + size;
                return Ok(());
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// `size` bytes were written out.
    fn give(&self, size: u64) {
        let mut state = self.state();
        state.0 = state.0.saturating_sub(size);
        self.changed.notify_all();
    }

    fn close(&self) {
        let mut state = self.state();
        state.1 = true;
        self.changed.notify_all();
    }
}

/// Closes [`InFlight`] when the writer's thread ends, by error or panic too.
struct Closing<'a>(&'a InFlight);

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Writes [`Item`]s into a tar, keeping the digests of streamed files.
struct TarSink<'a, W: Write> {
    tar: &'a mut tar::Builder<W>,
    layer: &'a str,
    /// Image path and content digest of each file streamed from the host.
    streamed: Vec<(String, String)>,
}

impl<'a, W: Write> TarSink<'a, W> {
    fn new(tar: &'a mut tar::Builder<W>, layer: &'a str) -> Self {
        Self {
            tar,
            layer,
            streamed: Vec::new(),
        }
    }

    /// Appends `item`; hands back a file's buffer for reuse.
    fn append(&mut self, item: Item) -> Result<Option<Vec<u8>>> {
        let io_err = |path: &str| {
            let path = path.to_owned();
            move |e: io::Error| Error::io("pack", Path::new(&path), e)
        };
        match item {
            Item::Dir { mut header, path } => {
                self.tar
                    .append_data(&mut header, format!("{path}/"), io::empty())
                    .map_err(io_err(&path))?;
                Ok(None)
            }
            Item::Link {
                mut header,
                path,
                target,
            } => {
                self.tar
                    .append_link(&mut header, &path, target)
                    .map_err(io_err(&path))?;
                Ok(None)
            }
            Item::File {
                mut header,
                path,
                data,
            } => {
                self.tar
                    .append_data(&mut header, &path, &data[..])
                    .map_err(io_err(&path))?;
                Ok(Some(data))
            }
            Item::Stream {
                mut header,
                path,
                host,
                size,
            } => {
                let read_err = |e: io::Error| Error::io("read", &host, e);
                let file = File::open(&host).map_err(read_err)?;
                let mut reader = HashingReader::new(file.take(size));
                self.tar
                    .append_data(&mut header, &path, &mut reader)
                    .map_err(read_err)?;
                let (digest, count) = reader.finish().map_err(read_err)?;
                if count != size {
                    return Err(changed(self.layer, &host));
                }
                self.streamed.push((path, digest));
                Ok(None)
            }
        }
    }
}

/// The error for a file that grew or shrank while it was packed: the tar
/// would not match the header already written.
fn changed(layer: &str, host: &Path) -> Error {
    Error::Layer {
        layer: layer.to_owned(),
        reason: format!(
            "{} changed while it was packed; build again",
            host.display()
        ),
    }
}

/// Reads host files for [`produce`], hashing and scanning as it goes.
struct FileReader<'a> {
    scanner: Option<&'a Scanner>,
    findings: &'a mut Vec<Finding>,
    reads: &'a mut usize,
}

impl FileReader<'_> {
    /// The entry for the file at `host` as `path`; its content digest comes
    /// later in the pipeline.
    fn item(
        &mut self,
        sink: &mut dyn Sink,
        header: tar::Header,
        path: &str,
        host: &Path,
        size: u64,
        layer: &str,
    ) -> Result<Item> {
        let read_err = |e: io::Error| Error::io("read", host, e);
        let image_path = format!("/{path}");
        if size > IN_MEMORY {
            if let Some(scanner) = self.scanner {
                *self.reads += 1;
                let file = BufReader::new(File::open(host).map_err(read_err)?);
                self.findings
                    .extend(scanner.scan_reader(&image_path, file).map_err(read_err)?);
            }
            *self.reads += 1;
            return Ok(Item::Stream {
                header,
                path: path.to_owned(),
                host: host.to_owned(),
                size,
            });
        }
        let file = File::open(host).map_err(read_err)?;
        *self.reads += 1;
        let mut data = sink.buffer(size)?;
        file.take(size).read_to_end(&mut data).map_err(read_err)?;
        if data.len() as u64 != size {
            return Err(changed(layer, host));
        }
        if let Some(scanner) = self.scanner {
            self.findings.extend(scanner.scan_file(&image_path, &data));
        }
        Ok(Item::File {
            header,
            path: path.to_owned(),
            data,
        })
    }
}

/// Sends the walked entries to `sink` in order, with normalised headers;
/// `on_file` hears of each regular file and the bytes handled so far.
fn produce(
    walked: &Walked,
    name: &str,
    mtime: u64,
    reader: &mut FileReader<'_>,
    sink: &mut dyn Sink,
    on_file: &mut dyn FnMut(FileSize, u64),
) -> Result<()> {
    let mut done = 0;
    for (path, entry) in &walked.entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(mtime);
        header.set_uid(walked.uid);
        header.set_gid(walked.gid);
        header.set_mode(entry.mode);
        let path = path.clone();
        match &entry.kind {
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                sink.send(Item::Dir { header, path })?;
            }
            Kind::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                sink.send(Item::Link {
                    header,
                    path,
                    target: target.clone(),
                })?;
            }
            Kind::File { host, stat } => {
                let size = stat.size;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(size);
                let item = reader.item(sink, header, &path, host, size, name)?;
                sink.send(item)?;
                done += size;
                on_file(FileSize { path, size }, done);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::NoReporter;
    use crate::recipe::{Copy, Layer};

    /// The two-thread pack writes the bytes the one-thread writer does, with
    /// a file too big to hold (streamed by the writer thread) among small
    /// ones, and learns every file's digest either way.
    #[test]
    fn the_piped_pack_writes_what_the_inline_writer_writes() {
        let src = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..IN_MEMORY + 4097).map(|i| (i % 251) as u8).collect();
        fs::write(src.path().join("big.bin"), &big).unwrap();
        for i in 0..40 {
            let dir = src.path().join(format!("d{}", i % 3));
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(format!("f{i}.txt")), "x".repeat(i * 700)).unwrap();
        }
        let layer = Layer {
            name: "app".into(),
            copy: vec![Copy {
                from: src.path().to_path_buf(),
                to: "/srv".into(),
            }],
            exclude: Vec::new(),
            owner: None,
            file_mode: None,
            dir_mode: None,
        };
        let walked = super::super::walk(&layer).unwrap();
        let store_dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(store_dir.path());
        let scanner = Scanner::new(hoist_secrets::Allowlist::new());
        let packed = pack(&walked, "app", 7, &store, Some(&scanner), &NoReporter).unwrap();

        let mut inline = tar::Builder::new(Vec::new());
        append_all(&mut inline, &walked, "app", 7).unwrap();
        let inline = inline.into_inner().unwrap();
        assert_eq!(fs::read(store.path(&packed.layer.digest)).unwrap(), inline);
        assert_eq!(packed.digests.len(), 41);
        assert_eq!(packed.digests["srv/big.bin"], crate::digest::sha256(&big));
        assert_eq!(
            packed.digests["srv/d1/f1.txt"],
            crate::digest::sha256("x".repeat(700).as_bytes())
        );
        // The big file is read twice (tar, then scan); the others once.
        assert_eq!(packed.reads, 42);
    }

    /// The reader waits for room while the content in flight would pass
    /// [`IN_FLIGHT`], goes on once the writer gives some back, and stops
    /// with an error, rather than waiting for ever, when the writer stops.
    #[test]
    fn the_reader_waits_for_room_and_hears_when_the_writer_stops() {
        let in_flight = InFlight::default();
        in_flight.take(IN_FLIGHT - 10).unwrap();
        in_flight.take(10).unwrap();
        let (took, took_rx) = mpsc::channel();
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| {
                let first = in_flight.take(IN_MEMORY);
                took.send(()).unwrap();
                let second = in_flight.take(IN_FLIGHT);
                (first, second)
            });
            // Nothing given back yet: the reader is still waiting.
            let waited = took_rx.recv_timeout(std::time::Duration::from_millis(200));
            assert!(waited.is_err(), "took room that was not there");
            in_flight.give(IN_MEMORY);
            took_rx.recv().unwrap();
            // Full again: the second take waits until the writer stops.
            in_flight.close();
            let (first, second) = waiting.join().unwrap();
            assert!(first.is_ok());
            assert_eq!(second.unwrap_err().to_string(), writer_gone().to_string());
        });
        // A file bigger than the room still goes when nothing else is held.
        let empty = InFlight::default();
        empty.take(IN_FLIGHT + 1).unwrap();
    }
}
