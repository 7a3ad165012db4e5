//! Progress reporting from long operations, implemented by the caller.

/// Identifies one unit of work between [`Reporter::on_start`] and
/// [`Reporter::on_finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskId(pub u64);

/// Receives progress from the imager (and from the cluster crate, which shares
/// this trait). Implementations must be cheap: they are called from hot loops.
pub trait Reporter: Send + Sync {
    /// A unit of work starts; `total` is its size in bytes when known.
    fn on_start(&self, what: &str, total: Option<u64>) -> TaskId;
    /// `done` bytes (cumulative) of the unit are complete.
    fn on_progress(&self, id: TaskId, done: u64);
    /// The unit ended; `outcome` is a short human summary.
    fn on_finish(&self, id: TaskId, outcome: &str);
}

/// A reporter that discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoReporter;

impl Reporter for NoReporter {
    fn on_start(&self, _what: &str, _total: Option<u64>) -> TaskId {
        TaskId(0)
    }
    fn on_progress(&self, _id: TaskId, _done: u64) {}
    fn on_finish(&self, _id: TaskId, _outcome: &str) {}
}
