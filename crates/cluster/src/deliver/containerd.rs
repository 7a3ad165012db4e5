//! Importing into containerd inside a node container (kind, k3d, Minikube
//! with containerd) by running `ctr` there through a Docker exec, the archive
//! streamed into its standard input.

use std::path::Path;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use hoist_imager::Reporter;
use tokio::io::AsyncWriteExt as _;

use super::progress::{self, Counter};
use super::{DeliverError, Delivered, Image, Loader, Via};

/// The containerd namespace the kubelet's CRI plugin reads images from.
const NAMESPACE: &str = "k8s.io";

/// The label hoist puts on images it imported, holding the config digest.
const CONFIG_LABEL: &str = "dev.hoist.config";

/// Imports images into containerd in a node container, with `ctr -n k8s.io`.
#[derive(Debug, Clone)]
pub struct ContainerdLoader {
    docker: Docker,
    container: String,
}

/// What a command run in the node container printed, and how it ended.
struct Output {
    status: i64,
    stdout: String,
    stderr: String,
}

impl ContainerdLoader {
    /// A loader for the node container `container` (e.g. `kind-control-plane`)
    /// of the Docker daemon `docker`.
    #[must_use]
    pub fn new(docker: Docker, container: impl Into<String>) -> Self {
        Self {
            docker,
            container: container.into(),
        }
    }

    async fn check_running(&self) -> Result<(), DeliverError> {
        let running = self
            .docker
            .inspect_container(&self.container, None)
            .await
            .ok()
            .and_then(|container| container.state?.running)
            .unwrap_or(false);
        if running {
            Ok(())
        } else {
            Err(DeliverError::NodeNotRunning {
                container: self.container.clone(),
            })
        }
    }

    /// Runs `ctr -n k8s.io ARGS` in the node; with `stdin`, streams that
    /// file into it while reading its output, so neither side blocks.
    async fn ctr(
        &self,
        args: &[&str],
        stdin: Option<(&Path, &Counter, &dyn Reporter, hoist_imager::TaskId)>,
    ) -> Result<Output, DeliverError> {
        let cmd: Vec<String> = ["ctr", "-n", NAMESPACE]
            .iter()
            .chain(args)
            .map(|s| (*s).to_owned())
            .collect();
        let shown = cmd.join(" ");
        let result = self.exec(cmd, stdin).await?;
        if result.status == 0 {
            Ok(result)
        } else {
            Err(DeliverError::Containerd {
                container: self.container.clone(),
                command: shown,
                status: result.status,
                message: result.stderr,
            })
        }
    }

    /// Runs `cmd` in the node through a Docker exec and collects its output.
    async fn exec(
        &self,
        cmd: Vec<String>,
        stdin: Option<(&Path, &Counter, &dyn Reporter, hoist_imager::TaskId)>,
    ) -> Result<Output, DeliverError> {
        let daemon_error = |error: bollard::errors::Error| DeliverError::Daemon {
            endpoint: "the local Docker daemon".to_owned(),
            action: "exec in",
            image: self.container.clone(),
            message: error.to_string(),
        };
        let exec = self
            .docker
            .create_exec(
                &self.container,
                ExecConfig {
                    attach_stdin: Some(stdin.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd),
                    ..Default::default()
                },
            )
            .await
            .map_err(daemon_error)?;
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(daemon_error)?
        else {
            unreachable!("an exec started without `detach` is attached");
        };
        let write = async {
            if let Some((path, counter, reporter, task)) = stdin {
                let mut body = progress::file_stream(path, counter).await?;
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|error| DeliverError::Io {
                        action: "read",
                        path: path.to_owned(),
                        source: error,
                    })?;
                    reporter.on_progress(task, counter.get());
                    if input.write_all(&chunk).await.is_err() {
                        // ctr stopped reading; its stderr and status say why.
                        break;
                    }
                }
            }
            // Half-closing tells the daemon to close the process's stdin.
            let _ = input.shutdown().await;
            Ok::<_, DeliverError>(())
        };
        let read = async {
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            while let Some(item) = output.next().await {
                match item {
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        stdout.extend_from_slice(&message);
                    }
                    Ok(LogOutput::StdErr { message }) => stderr.extend_from_slice(&message),
                    Ok(LogOutput::StdIn { .. }) => {}
                    Err(error) => return Err(daemon_error(error)),
                }
            }
            Ok((stdout, stderr))
        };
        let (written, read) = tokio::join!(write, read);
        written?;
        let (stdout, stderr) = read?;
        let status = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(daemon_error)?
            .exit_code
            .unwrap_or(-1);
        Ok(Output {
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).trim().to_owned(),
        })
    }

    /// Whether containerd has `reference` labelled with this image's config
    /// digest: a tag alone could have been pointed elsewhere since.
    async fn has(&self, reference: &str, config: &str) -> Result<bool, DeliverError> {
        let listed = self.ctr(&["images", "ls"], None).await?;
        let label = format!("{CONFIG_LABEL}={config}");
        Ok(listed.stdout.lines().any(|line| {
            line.split_whitespace().next() == Some(reference)
                && line
                    .split_whitespace()
                    .last()
                    .is_some_and(|labels| labels.split(',').any(|l| l == label))
        }))
    }
}

impl Loader for ContainerdLoader {
    fn target(&self) -> String {
        format!("containerd in the node container {}", self.container)
    }

    fn deliver<'a>(
        &'a self,
        image: &'a Image,
        reporter: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<Delivered, DeliverError>> {
        Box::pin(async move {
            self.check_running().await?;
            let reference = image.local_reference();
            let task = reporter.on_start(
                &format!("import {} into {}", image.source.name, self.container),
                Some(image.archive_size),
            );
            let config = image.config_digest();
            let skipped = self.has(&reference, &config).await?;
            let counter = Counter::default();
            if !skipped {
                let loaded_as = hoist_imager::normalized_name(&image.archive_tag()?);
                let result = self
                    .ctr(
                        &["images", "import", "-"],
                        Some((&image.source.archive, &counter, reporter, task)),
                    )
                    .await;
                if let Err(error) = result {
                    reporter.on_finish(task, "failed");
                    return Err(match error {
                        DeliverError::Containerd { message, .. }
                            if message.contains("no space left on device") =>
                        {
                            DeliverError::NoSpace {
                                target: format!("the node container {}", self.container),
                                image: image.source.archive.display().to_string(),
                                message,
                                fix: "`crictl rmi --prune` in the node removes unused images",
                            }
                        }
                        other => other,
                    });
                }
                self.ctr(&["images", "tag", "--force", &loaded_as, &reference], None)
                    .await?;
                let label = format!("{CONFIG_LABEL}={config}");
                self.ctr(&["images", "label", &reference, &label], None)
                    .await?;
            }
            reporter.on_finish(task, &progress::outcome(counter.get(), skipped));
            Ok(Delivered {
                digest: image.digest.clone(),
                reference,
                bytes_sent: counter.get(),
                skipped,
                via: Via::Containerd,
            })
        })
    }
}
