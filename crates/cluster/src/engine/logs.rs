//! `logs [-f]`: the project's container logs as one stream, secrets masked,
//! following a container through its restarts and its replacement by `up`.

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures::channel::mpsc;
use futures::{Stream, StreamExt as _};
use serde::Serialize;

use super::mask::Masker;
use super::plan::EngineProject;
use super::{EngineError, connect, containers, daemon_message, is_not_found};

/// How long a followed container may be gone before its stream ends: long
/// enough for `up` to replace it.
const GONE_GRACE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(500);

/// Which logs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LogOptions {
    /// Only these services (all when empty).
    pub services: Vec<String>,
    /// Keep streaming new lines, through restarts (`-f`).
    pub follow: bool,
    /// Only the last lines of each container.
    pub tail: Option<usize>,
}

impl LogOptions {
    /// The given services' logs.
    #[must_use]
    pub fn new(services: Vec<String>, follow: bool, tail: Option<usize>) -> Self {
        Self {
            services,
            follow,
            tail,
        }
    }
}

/// One log line, secret values masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The service.
    pub service: String,
    /// The container.
    pub container: String,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// Docker's RFC 3339 timestamp of the line.
    pub timestamp: String,
    /// The text, without the newline.
    pub line: String,
}

/// The logs of the project's containers, interleaved as they arrive
/// (each container's lines in order). Without `follow` the stream ends
/// after the existing lines.
///
/// # Errors
///
/// [`EngineError::NoEngine`] when no daemon answers and
/// [`EngineError::Daemon`] when it refuses the listing; errors while
/// streaming are items of the stream.
pub async fn logs(
    project: &EngineProject,
    options: &LogOptions,
) -> Result<impl Stream<Item = Result<LogLine, EngineError>> + Send + 'static, EngineError> {
    let docker = connect(&project.endpoint).await?;
    let endpoint = project.endpoint.host.clone();
    let listed = containers::list(&docker, &endpoint, &project.name, None).await?;
    let (tx, rx) = mpsc::unbounded();
    for container in listed {
        if !options.services.is_empty() && !options.services.contains(&container.service) {
            continue;
        }
        let follower = Follower {
            docker: docker.clone(),
            endpoint: endpoint.clone(),
            masker: project.masker.clone(),
            service: container.service,
            container: container.name,
            options: options.clone(),
            tx: tx.clone(),
        };
        tokio::spawn(follower.run());
    }
    Ok(rx)
}

struct Follower {
    docker: Docker,
    endpoint: String,
    masker: Masker,
    service: String,
    container: String,
    options: LogOptions,
    tx: mpsc::UnboundedSender<Result<LogLine, EngineError>>,
}

impl Follower {
    async fn run(self) {
        let mut last: Option<(i64, u32)> = None;
        loop {
            let mut builder = LogsOptionsBuilder::new()
                .stdout(true)
                .stderr(true)
                .timestamps(true)
                .follow(self.options.follow);
            match (last, self.options.tail) {
                (Some((secs, _)), _) => {
                    builder = builder.since(i32::try_from(secs).unwrap_or(i32::MAX));
                }
                (None, Some(tail)) => builder = builder.tail(&tail.to_string()),
                (None, None) => {}
            }
            let mut stream = self.docker.logs(&self.container, Some(builder.build()));
            while let Some(item) = stream.next().await {
                match item {
                    Ok(chunk) => {
                        if !self.send(&chunk, &mut last) {
                            return; // Nobody listens any more.
                        }
                    }
                    Err(error) if is_not_found(&error) => break,
                    Err(error) => {
                        let _ = self.tx.unbounded_send(Err(EngineError::Daemon {
                            endpoint: self.endpoint.clone(),
                            action: format!("stream the logs of {}", self.container),
                            message: daemon_message(error),
                        }));
                        return;
                    }
                }
            }
            if !self.options.follow || !self.wait_until_running().await {
                return;
            }
        }
    }

    /// Sends the chunk's lines newer than `last`; `false` once the receiver is gone.
    fn send(&self, chunk: &LogOutput, last: &mut Option<(i64, u32)>) -> bool {
        let (stream, bytes) = match chunk {
            LogOutput::StdErr { message } => ("stderr", message),
            LogOutput::StdOut { message } | LogOutput::Console { message } => ("stdout", message),
            LogOutput::StdIn { .. } => return true,
        };
        for raw in String::from_utf8_lossy(bytes).lines() {
            let (timestamp, text) = raw.split_once(' ').unwrap_or((raw, ""));
            let at = parse_timestamp(timestamp);
            if let (Some(at), Some(seen)) = (at, *last)
                && at <= seen
            {
                continue; // Sent before the container restarted.
            }
            if at.is_some() {
                *last = at;
            }
            let line = LogLine {
                service: self.service.clone(),
                container: self.container.clone(),
                stream,
                timestamp: timestamp.to_owned(),
                line: self.masker.mask(text.trim_end()),
            };
            if self.tx.unbounded_send(Ok(line)).is_err() {
                return false;
            }
        }
        true
    }

    /// Waits for the container (or its replacement) to run again; `false`
    /// when it stays gone, or nobody listens any more.
    async fn wait_until_running(&self) -> bool {
        let mut gone_since: Option<Instant> = None;
        loop {
            if self.tx.is_closed() {
                return false;
            }
            match self.docker.inspect_container(&self.container, None).await {
                Ok(info) if info.state.as_ref().and_then(|s| s.running) == Some(true) => {
                    return true;
                }
                Ok(_) => gone_since = None,
                Err(error) if is_not_found(&error) => {
                    let since = *gone_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > GONE_GRACE {
                        return false;
                    }
                }
                Err(_) => return false,
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// `2026-12-01T16:35:41.123456789Z` as (Unix seconds, nanoseconds).
fn parse_timestamp(text: &str) -> Option<(i64, u32)> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut clock = clock.splitn(3, ':').map(str::parse::<i64>);
    let (hour, minute, second) = (
        clock.next()?.ok()?,
        clock.next()?.ok()?,
        clock.next()?.ok()?,
    );
    let digits: String = fraction
        .chars()
        .chain("000000000".chars())
        .take(9)
        .collect();
    let nanos: u32 = digits.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hour * 3600 + minute * 60 + second, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_timestamps_parse_to_unix_time() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_timestamp("2024-02-29T12:34:56.5Z"),
            Some((1_709_210_096, 500_000_000))
        );
        assert_eq!(
            parse_timestamp("2026-12-01T16:35:41.123456789Z"),
            Some((1_796_142_941, 123_456_789))
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
