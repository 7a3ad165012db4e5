//! `minikube image load`: the last resort when neither Minikube's Docker
//! daemon nor its node's containerd can be reached directly. It is slow and
//! holds the image in memory, so hoist reports when it used it.

use std::ffi::OsString;

use futures::future::BoxFuture;
use hoist_imager::Reporter;
use tokio::process::Command;

use super::progress;
use super::{DeliverError, Delivered, Image, Loader, Via};

/// Runs the `minikube` command for one profile.
#[derive(Debug, Clone)]
pub struct MinikubeCliLoader {
    program: OsString,
    profile: String,
}

impl MinikubeCliLoader {
    /// A loader running `minikube` from `PATH` for `profile`.
    #[must_use]
    pub fn new(profile: impl Into<String>) -> Self {
        Self {
            program: "minikube".into(),
            profile: profile.into(),
        }
    }

    /// A loader running `program` instead of `minikube` from `PATH`.
    #[must_use]
    pub fn with_program(program: impl Into<OsString>, profile: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            profile: profile.into(),
        }
    }

    async fn minikube(&self, args: &[&str]) -> Result<String, DeliverError> {
        let command = format!("minikube -p {} {}", self.profile, args.join(" "));
        let output = Command::new(&self.program)
            .arg("-p")
            .arg(&self.profile)
            .args(args)
            .output()
            .await
            .map_err(|error| DeliverError::MinikubeCli {
                command: command.clone(),
                message: if error.kind() == std::io::ErrorKind::NotFound {
                    "minikube is not on PATH; install it or choose another --target".to_owned()
                } else {
                    error.to_string()
                },
            })?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(DeliverError::MinikubeCli {
                command,
                message: format!(
                    "{}: {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            })
        }
    }
}

impl Loader for MinikubeCliLoader {
    fn target(&self) -> String {
        format!("`minikube image load` (profile {})", self.profile)
    }

    fn deliver<'a>(
        &'a self,
        image: &'a Image,
        reporter: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<Delivered, DeliverError>> {
        Box::pin(async move {
            let reference = image.local_reference();
            let task = reporter.on_start(
                &format!("minikube image load {}", image.source.name),
                Some(image.archive_size),
            );
            let listed = self.minikube(&["image", "ls"]).await?;
            let skipped = listed
                .lines()
                .any(|line| line.trim().trim_start_matches("docker.io/") == reference);
            let mut bytes_sent = 0;
            if !skipped {
                let archive = image.source.archive.to_string_lossy();
                self.minikube(&["image", "load", &archive]).await?;
                let loaded_as = image.archive_tag()?;
                self.minikube(&["image", "tag", &loaded_as, &reference])
                    .await?;
                bytes_sent = image.archive_size;
                reporter.on_progress(task, bytes_sent);
            }
            reporter.on_finish(task, &progress::outcome(bytes_sent, skipped));
            Ok(Delivered {
                digest: image.digest.clone(),
                reference,
                bytes_sent,
                skipped,
                via: Via::MinikubeCli,
            })
        })
    }
}
