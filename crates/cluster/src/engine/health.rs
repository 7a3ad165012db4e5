//! Health gating: when a container counts as ready, and watching it until
//! it is, or until it exits, restarts, turns unhealthy or misses its
//! deadline.

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, Health, HealthStatusEnum,
};
use futures::StreamExt as _;
use hoist_config::ReadyCheck;
use serde::Serialize;
use tokio::io::AsyncReadExt as _;

use super::diagnose::{Cause, Finding, last_logs, last_words, look_fix};
use super::mask::Masker;
use super::plan::ServicePlan;

/// How often a container is looked at while waiting.
const POLL: Duration = Duration::from_millis(250);
/// How long one HTTP or exec check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection Docker's port proxy keeps open this long has a listener behind it.
const TCP_SETTLE: Duration = Duration::from_millis(300);

/// What decides that a service is ready; see the module docs' order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Gate {
    /// A check hoist runs.
    Check(ReadyCheck),
    /// The image's HEALTHCHECK, run by Docker.
    Healthcheck,
    /// The container running.
    Running,
}

impl Gate {
    /// The gate for `service`, whose image has a HEALTHCHECK or not.
    pub(super) fn for_service(service: &ServicePlan, image_healthcheck: bool) -> Self {
        match (&service.ready, image_healthcheck, service.ports.first()) {
            (Some(check), _, _) => Self::Check(check.clone()),
            (None, true, _) => Self::Healthcheck,
            (None, false, Some(port)) => Self::Check(ReadyCheck::Tcp { port: *port }),
            (None, false, None) => Self::Running,
        }
    }

    /// The check in words, e.g. `GET /ready on port 8000`.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::Check(ReadyCheck::Http { path, port }) => format!("GET {path} on port {port}"),
            Self::Check(ReadyCheck::Tcp { port }) => format!("TCP port {port}"),
            Self::Check(ReadyCheck::Exec { command }) => format!("`{}`", command.join(" ")),
            Self::Healthcheck => "the image's HEALTHCHECK".to_owned(),
            Self::Running => "the container running".to_owned(),
        }
    }

    pub(super) fn check(&self) -> Option<&ReadyCheck> {
        match self {
            Self::Check(check) => Some(check),
            _ => None,
        }
    }
}

/// One container to wait for.
pub(super) struct Watch<'a> {
    pub(super) docker: &'a Docker,
    pub(super) masker: &'a Masker,
    pub(super) project: &'a str,
    pub(super) service: &'a ServicePlan,
    pub(super) container: &'a str,
    pub(super) gate: &'a Gate,
    /// Restarts already counted before this wait (an unchanged container's).
    pub(super) baseline_restarts: i64,
}

impl Watch<'_> {
    /// Waits until the container is ready.
    ///
    /// # Errors
    ///
    /// The [`Finding`] that explains why it is not.
    pub(super) async fn ready(&self) -> Result<(), Finding> {
        let started = Instant::now();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(CHECK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a plain HTTP client builds");
        loop {
            let info = match self.docker.inspect_container(self.container, None).await {
                Ok(info) => info,
                Err(error) => {
                    let message = format!(
                        "the container could not be inspected: {}",
                        super::daemon_message(error)
                    );
                    return Err(self.finding(Cause::Exited, message, None, false).await);
                }
            };
            self.judge_state(&info).await?;
            let outcome = match self.gate {
                Gate::Check(check) => self.probe(check, &info, &http).await,
                Gate::Healthcheck => self.healthcheck(&info).await?,
                Gate::Running => Ok(()),
            };
            let last_output = match outcome {
                Ok(()) => return Ok(()),
                Err(output) => self.masker.mask(&output),
            };
            if started.elapsed() >= self.service.deadline {
                let message = format!(
                    "{} did not pass within {}s; last output: {last_output}",
                    self.gate.describe(),
                    self.service.deadline.as_secs_f32()
                );
                return Err(self.finding(Cause::Deadline, message, None, false).await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Fails on an exited, dead or restarted container.
    async fn judge_state(&self, info: &ContainerInspectResponse) -> Result<(), Finding> {
        let state = info.state.clone().unwrap_or_default();
        let restarts = info.restart_count.unwrap_or(0);
        let code = state.exit_code;
        let oom = state.oom_killed.unwrap_or(false);
        let stopped = matches!(
            state.status,
            Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
        );
        if stopped {
            let cause = if oom { Cause::OomKilled } else { Cause::Exited };
            let how = if oom {
                format!(
                    "was killed for memory (OOMKilled, exit code {})",
                    code.unwrap_or(137)
                )
            } else {
                format!("exited with code {}", code.unwrap_or(-1))
            };
            return Err(self.finding(cause, how, code, oom).await);
        }
        if restarts > self.baseline_restarts || state.restarting == Some(true) {
            let how = format!(
                "restarted {} time{} (last exit code {})",
                restarts - self.baseline_restarts,
                if restarts - self.baseline_restarts == 1 {
                    ""
                } else {
                    "s"
                },
                code.unwrap_or(-1)
            );
            return Err(self.finding(Cause::Restarted, how, code, oom).await);
        }
        Ok(())
    }

    /// Docker's own health state: `Ok(Ok)` healthy, `Ok(Err)` not yet.
    async fn healthcheck(
        &self,
        info: &ContainerInspectResponse,
    ) -> Result<Result<(), String>, Finding> {
        let health: Health = info
            .state
            .as_ref()
            .and_then(|s| s.health.clone())
            .unwrap_or_default();
        let output = health
            .log
            .as_ref()
            .and_then(|log| log.last())
            .and_then(|result| result.output.clone())
            .map_or_else(|| "starting".to_owned(), |o| self.masker.mask(o.trim()));
        match health.status {
            Some(HealthStatusEnum::HEALTHY) => Ok(Ok(())),
            Some(HealthStatusEnum::UNHEALTHY) => {
                let message = format!("the image's HEALTHCHECK reports unhealthy: {output}");
                Err(self.finding(Cause::Unhealthy, message, None, false).await)
            }
            _ => Ok(Err(output)),
        }
    }

    /// Runs a check once: `Err` holds its output.
    async fn probe(
        &self,
        check: &ReadyCheck,
        info: &ContainerInspectResponse,
        http: &reqwest::Client,
    ) -> Result<(), String> {
        match check {
            ReadyCheck::Http { path, port } => {
                let host_port = host_port(info, *port)?;
                let url = format!("http://127.0.0.1:{host_port}{path}");
                let response = http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| format!("GET {path}: {}", reqwest_reason(&e)))?;
                let status = response.status();
                if status.is_success() || status.is_redirection() {
                    return Ok(());
                }
                let body = response.text().await.unwrap_or_default();
                let body: String = body.trim().chars().take(200).collect();
                Err(format!("HTTP {} from GET {path}: {body}", status.as_u16()))
            }
            ReadyCheck::Tcp { port } => {
                let host_port = host_port(info, *port)?;
                tcp_accepts(host_port)
                    .await
                    .map_err(|why| format!("TCP port {port}: {why}"))
            }
            ReadyCheck::Exec { command } => exec(self.docker, self.container, command).await,
        }
    }

    async fn finding(
        &self,
        cause: Cause,
        how: String,
        exit_code: Option<i64>,
        oom_killed: bool,
    ) -> Finding {
        let logs = last_logs(self.docker, self.container, self.masker).await;
        let message = match (cause, last_words(&logs)) {
            (Cause::Exited | Cause::OomKilled | Cause::Restarted, Some(words)) => {
                format!("{how}: {words}")
            }
            _ => how,
        };
        let mut finding = Finding::new(
            &self.service.name,
            cause,
            self.masker.mask(&message),
            look_fix(self.project, &self.service.name),
        )
        .with_logs(self.container, logs);
        finding.exit_code = exit_code;
        finding.oom_killed = oom_killed;
        finding
    }
}

/// The loopback port Docker published `port` on.
fn host_port(info: &ContainerInspectResponse, port: u16) -> Result<u16, String> {
    info.network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref())
        .and_then(|ports| ports.get(&format!("{port}/tcp")))
        .and_then(|bindings| bindings.as_ref())
        .and_then(|bindings| {
            bindings
                .iter()
                .find_map(|b| b.host_port.as_deref()?.parse().ok())
        })
        .ok_or_else(|| {
            format!("port {port} is not published by Docker (is the container running?)")
        })
}

fn reqwest_reason(error: &reqwest::Error) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    reason
}

/// Connects; a connection the port proxy closes at once has no listener.
async fn tcp_accepts(host_port: u16) -> Result<(), String> {
    let mut stream = tokio::time::timeout(
        CHECK_TIMEOUT,
        tokio::net::TcpStream::connect(("127.0.0.1", host_port)),
    )
    .await
    .map_err(|_| "connect timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(TCP_SETTLE, stream.read(&mut byte)).await {
        Ok(Ok(0)) => Err("connection closed at once: nothing listens in the container".to_owned()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

/// Runs `command` in the container; `Err` holds its exit code and output.
async fn exec(docker: &Docker, container: &str, command: &[String]) -> Result<(), String> {
    let shown = command.join(" ");
    let run = async {
        let created = docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(command.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(super::daemon_message)?;
        let mut output = String::new();
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = docker
            .start_exec(&created.id, None)
            .await
            .map_err(super::daemon_message)?
        {
            while let Some(Ok(chunk)) = stream.next().await {
                if let LogOutput::StdOut { message } | LogOutput::StdErr { message } = chunk {
                    output.push_str(&String::from_utf8_lossy(&message));
                }
            }
        }
        let inspected = docker
            .inspect_exec(&created.id)
            .await
            .map_err(super::daemon_message)?;
        Ok::<_, String>((inspected.exit_code, output))
    };
    match tokio::time::timeout(CHECK_TIMEOUT, run).await {
        Err(_) => Err(format!(
            "`{shown}` did not finish within {}s",
            CHECK_TIMEOUT.as_secs()
        )),
        Ok(Err(message)) => Err(format!("`{shown}` could not run: {message}")),
        Ok(Ok((Some(0), _))) => Ok(()),
        Ok(Ok((code, output))) => {
            let tail: Vec<&str> = output.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(format!(
                "`{shown}` exited with {}: {}",
                code.map_or_else(|| "no code".to_owned(), |c| c.to_string()),
                tail.join(" / ").trim()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_is_the_setting_then_the_healthcheck_then_tcp_then_running() {
        let http = ReadyCheck::Http {
            path: "/ready".to_owned(),
            port: 8000,
        };
        let service = |ready: Option<ReadyCheck>, ports: Vec<u16>| ServicePlan {
            ready,
            ports,
            ..test_service()
        };
        assert_eq!(
            Gate::for_service(&service(Some(http.clone()), vec![8000]), true),
            Gate::Check(http)
        );
        assert_eq!(
            Gate::for_service(&service(None, vec![8000]), true),
            Gate::Healthcheck
        );
        let tcp = Gate::for_service(&service(None, vec![5432]), false);
        assert_eq!(tcp, Gate::Check(ReadyCheck::Tcp { port: 5432 }));
        assert_eq!(tcp.describe(), "TCP port 5432");
        assert_eq!(
            Gate::for_service(&service(None, vec![]), false),
            Gate::Running
        );
    }

    fn test_service() -> ServicePlan {
        ServicePlan {
            name: "api".to_owned(),
            image: "hoist.local/p/api:000000000000".to_owned(),
            digest: String::new(),
            env: Vec::new(),
            config_hash: String::new(),
            depends_on: Vec::new(),
            ready: None,
            deadline: Duration::from_secs(1),
            ports: Vec::new(),
            publish: None,
            volumes: Vec::new(),
            replicas: 1,
        }
    }
}
