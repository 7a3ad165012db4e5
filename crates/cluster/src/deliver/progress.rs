//! Streaming a file from disk in chunks while counting and reporting the bytes
//! sent, so an image is never held in memory whole.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use hoist_imager::{Reporter, TaskId};
use tokio_util::io::ReaderStream;

use super::DeliverError;

/// Chunks of 256 KiB: large enough for throughput, small enough that memory
/// stays flat whatever the image size.
const CHUNK: usize = 256 * 1024;

/// How often progress is reported while bytes flow.
const TICK: std::time::Duration = std::time::Duration::from_millis(200);

/// Bytes counted as they leave, shared with the code that reports the total.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counter(Arc<AtomicU64>);

impl Counter {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// The shared count itself, for work on another thread.
    pub(crate) fn shared(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.0)
    }
}

/// Opens `path` as a stream of chunks; each chunk adds to `counter`.
///
/// # Errors
///
/// [`DeliverError::Io`] when the file cannot be opened.
pub(crate) async fn file_stream(
    path: &Path,
    counter: &Counter,
) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + use<>, DeliverError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|error| DeliverError::Io {
            action: "read",
            path: path.to_owned(),
            source: error,
        })?;
    let counter = counter.clone();
    Ok(
        ReaderStream::with_capacity(file, CHUNK).inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                counter.0.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        }),
    )
}

/// Runs `work`, reporting `counter` as the progress of `task` several times a
/// second. Request bodies must be `'static`, so they cannot call the
/// reporter themselves; they only count.
pub(crate) async fn reporting<T>(
    work: impl Future<Output = T>,
    counter: &Counter,
    reporter: &dyn Reporter,
    task: TaskId,
) -> T {
    let mut work = std::pin::pin!(work);
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            done = &mut work => {
                reporter.on_progress(task, counter.get());
                return done;
            }
            _ = tick.tick() => reporter.on_progress(task, counter.get()),
        }
    }
}

/// Formats a byte count for a reporter's outcome line.
pub(crate) fn outcome(bytes: u64, skipped: bool) -> String {
    if skipped {
        "already present, nothing sent".to_owned()
    } else {
        format!("sent {:.1} MB", bytes as f64 / 1_000_000.0)
    }
}
