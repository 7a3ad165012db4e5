//! The imager's API is blocking; its registry and Docker clients are async.
//! Each call runs them on a current-thread runtime of its own, on a scoped
//! thread when the caller's thread already drives a runtime (the hoist CLI
//! builds from async code), where starting another would panic.

use std::future::Future;
use std::path::Path;

use crate::{Error, Result};

/// Runs the future `make` returns to completion; `what` names the client in
/// the error when no runtime can be started.
pub(crate) fn block_on<T, Fut>(what: &str, make: impl FnOnce() -> Fut + Send) -> Result<T>
where
    T: Send,
    Fut: Future<Output = Result<T>>,
{
    let run = move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("start", Path::new(what), e))?
            .block_on(make())
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return run();
    }
    std::thread::scope(|scope| {
        scope
            .spawn(run)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_inside_and_outside_a_runtime() {
        let outside = super::block_on("test", || async { Ok(1) }).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let inside = runtime.block_on(async { super::block_on("test", || async { Ok(2) }) });
        assert_eq!((outside, inside.unwrap()), (1, 2));
    }
}
