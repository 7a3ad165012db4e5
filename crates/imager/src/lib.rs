//! hoist-imager: daemonless, reproducible OCI image builds.
//!
//! The imager turns an image recipe (a base image, layers from host paths,
//! an image config) into an OCI image layout and a docker-archive, without a
//! Docker daemon. Long work reports progress through [`Reporter`], which the
//! caller implements (the hoist CLI draws progress bars with it).
//!
//! ```no_run
//! use hoist_imager::{NoReporter, Reporter};
//! let reporter = NoReporter;
//! let id = reporter.on_start("pack layer app", Some(1024));
//! reporter.on_progress(id, 1024);
//! reporter.on_finish(id, "packed");
//! ```
#![deny(missing_docs)]

pub mod report;

pub use report::{NoReporter, Reporter, TaskId};

/// Everything that can go wrong in the imager.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("read", "write", ...).
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The imager's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
