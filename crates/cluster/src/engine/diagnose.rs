//! Why a service did not become ready: findings, with the container's own
//! words (its last log lines), secrets masked.

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt as _;
use serde::Serialize;

use super::mask::Masker;

/// How many log lines a finding carries.
pub(super) const LOG_LINES: usize = 30;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Cause {
    /// The image is not in the daemon.
    ImageMissing,
    /// The daemon refused to create or start the container.
    StartFailed,
    /// The container exited.
    Exited,
    /// The kernel killed the container for memory (`OOMKilled`).
    OomKilled,
    /// The container restarted.
    Restarted,
    /// The image's HEALTHCHECK reports `unhealthy`.
    Unhealthy,
    /// The readiness check did not pass before the deadline.
    Deadline,
}

/// One diagnosed problem. Every text in it has the stack's secret values
/// masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// The service.
    pub service: String,
    /// The container, when one was made.
    pub container: Option<String>,
    /// What went wrong.
    pub cause: Cause,
    /// One line: the container's own last words, the check's output, or the daemon's.
    pub message: String,
    /// What to do next.
    pub fix: String,
    /// The exit code, when the container exited.
    pub exit_code: Option<i64>,
    /// Whether the kernel killed it for memory.
    pub oom_killed: bool,
    /// The last log lines (at most 30), oldest first.
    pub logs: Vec<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.container.as_deref().unwrap_or(&self.service);
        write!(
            f,
            "{} ({name}): {}; {}",
            self.service, self.message, self.fix
        )
    }
}

impl Finding {
    /// A finding without a container.
    pub(super) fn new(service: &str, cause: Cause, message: String, fix: String) -> Self {
        Self {
            service: service.to_owned(),
            container: None,
            cause,
            message,
            fix,
            exit_code: None,
            oom_killed: false,
            logs: Vec::new(),
        }
    }

    /// The same finding about `container`, with its last log lines.
    pub(super) fn with_logs(mut self, container: &str, logs: Vec<String>) -> Self {
        self.container = Some(container.to_owned());
        self.logs = logs;
        self
    }
}

/// The container's last `LOG_LINES` lines (both streams), masked.
pub(super) async fn last_logs(docker: &Docker, container: &str, masker: &Masker) -> Vec<String> {
    let options = LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .tail(&LOG_LINES.to_string())
        .build();
    let mut text = String::new();
    let mut stream = docker.logs(container, Some(options));
    while let Some(Ok(chunk)) = stream.next().await {
        if let LogOutput::StdOut { message }
        | LogOutput::StdErr { message }
        | LogOutput::Console { message } = chunk
        {
            text.push_str(&String::from_utf8_lossy(&message));
        }
    }
    let lines: Vec<String> = text
        .lines()
        .map(|line| masker.mask(line.trim_end()))
        .collect();
    let skip = lines.len().saturating_sub(LOG_LINES);
    lines.into_iter().skip(skip).collect()
}

/// The last non-empty line: usually the program's own error.
pub(super) fn last_words(logs: &[String]) -> Option<&str> {
    logs.iter()
        .rev()
        .map(|line| line.trim())
        .find(|line| !line.is_empty())
}

/// The fix for a container that stopped or never became ready.
pub(super) fn look_fix(project: &str, service: &str) -> String {
    format!(
        "see `hoist logs {service}` (or `docker logs {}`), fix the service or its configuration, and run `hoist up --engine docker` again",
        super::container_name(project, service, 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_words_skip_blank_lines() {
        let logs = vec![
            "starting".to_owned(),
            "boom: bad value".to_owned(),
            "  ".to_owned(),
        ];
        assert_eq!(last_words(&logs), Some("boom: bad value"));
        assert_eq!(last_words(&[]), None);
    }
}
