//! Retrying transient network failures with exponential backoff.

use std::future::Future;
use std::time::Duration;

/// Attempts in all, the first included.
const ATTEMPTS: u32 = 4;
/// The first pause; each later one doubles (0.25 s, 0.5 s, 1 s).
const FIRST_PAUSE: Duration = Duration::from_millis(250);

/// Runs `attempt` until it succeeds, fails with an error `transient` rejects,
/// or [`ATTEMPTS`] have failed; returns the last result.
pub(crate) async fn with_backoff<T, E, F, Fut>(
    transient: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut pause = FIRST_PAUSE;
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(error) if tries < ATTEMPTS && transient(&error) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
                tries += 1;
            }
            result => return result,
        }
    }
}

/// Whether an error's text describes a failure worth retrying: the connection
/// dropped or timed out, or the server was momentarily unable to answer.
pub(crate) fn looks_transient(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "connection reset",
        "connection closed",
        "broken pipe",
        "timed out",
        "timeout",
        "502 bad gateway",
        "503 service unavailable",
        "504 gateway timeout",
        "429 too many requests",
        "code: 502",
        "code: 503",
        "code: 504",
        "code: 429",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = Cell::new(0);
        let result: Result<u32, String> = with_backoff(
            |e: &String| looks_transient(e),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err("connection reset by peer".to_owned())
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn permanent_failures_and_exhaustion_stop() {
        let calls = Cell::new(0);
        let result: Result<(), String> = with_backoff(
            |e: &String| looks_transient(e),
            || {
                calls.set(calls.get() + 1);
                async { Err("401 unauthorized".to_owned()) }
            },
        )
        .await;
        assert_eq!(result, Err("401 unauthorized".to_owned()));
        assert_eq!(calls.get(), 1);

        calls.set(0);
        let result: Result<(), String> = with_backoff(
            |e: &String| looks_transient(e),
            || {
                calls.set(calls.get() + 1);
                async { Err("operation timed out".to_owned()) }
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), ATTEMPTS);
    }
}
