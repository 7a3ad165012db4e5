//! Loading into a Docker daemon: the local one, Minikube's (TCP and TLS), or
//! Docker Desktop's.

use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{ImportImageOptionsBuilder, TagImageOptionsBuilder};
use futures::TryStreamExt as _;
use futures::future::BoxFuture;
use hoist_imager::Reporter;

use super::progress::{self, Counter};
use super::retry::{looks_transient, with_backoff};
use super::{DeliverError, Delivered, Image, Loader, Via};

/// How long one load may take: it is a single request carrying the whole
/// archive, so the endpoint's default request timeout is too short.
const LOAD_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Loads images into a Docker daemon with `POST /images/load`, streaming the
/// docker-archive from disk, then tags them `hoist.local/<name>:<hex12>`.
#[derive(Debug, Clone)]
pub struct DaemonLoader {
    docker: Docker,
    endpoint: String,
}

impl DaemonLoader {
    /// A loader for an already connected daemon; `endpoint` names it in messages.
    #[must_use]
    pub fn new(docker: Docker, endpoint: impl Into<String>) -> Self {
        Self {
            docker: docker.with_timeout(LOAD_TIMEOUT),
            endpoint: endpoint.into(),
        }
    }

    /// Whether the daemon has an image by this name or ID.
    async fn has(&self, name: &str) -> Result<bool, DeliverError> {
        Ok(self.id_of(name).await?.is_some())
    }

    /// The ID of the daemon's image by this name or ID, if it has one.
    async fn id_of(&self, name: &str) -> Result<Option<String>, DeliverError> {
        match self.docker.inspect_image(name).await {
            Ok(image) => Ok(Some(image.id.unwrap_or_default())),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(error) => Err(DeliverError::DaemonUnreachable {
                endpoint: self.endpoint.clone(),
                message: error.to_string(),
            }),
        }
    }

    async fn load(&self, image: &Image, reporter: &dyn Reporter) -> Result<u64, DeliverError> {
        let path = &image.source.archive;
        let task = reporter.on_start(
            &format!("load {} into Docker", image.source.name),
            Some(image.archive_size),
        );
        let counter = Counter::default();
        let work = with_backoff(
            |error: &DeliverError| matches!(error, DeliverError::DaemonUnreachable { message, .. } if looks_transient(message)),
            || async {
                let body = progress::file_stream(path, &counter).await?;
                self.docker
                    .import_image_stream(
                        ImportImageOptionsBuilder::new().quiet(true).build(),
                        body,
                        None,
                    )
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|error| self.load_error(image, error))
            },
        );
        let result = progress::reporting(work, &counter, reporter, task).await;
        let sent = counter.get();
        reporter.on_finish(
            task,
            &match &result {
                Ok(_) => progress::outcome(sent, false),
                Err(_) => "failed".to_owned(),
            },
        );
        result.map(|_| sent)
    }

    fn load_error(&self, image: &Image, error: BollardError) -> DeliverError {
        let message = match error {
            // The daemon's text is inside these; their Display hides or wraps it.
            BollardError::DockerStreamError { error } => error,
            BollardError::DockerResponseServerError { message, .. } => message,
            other => {
                return DeliverError::DaemonUnreachable {
                    endpoint: self.endpoint.clone(),
                    message: other.to_string(),
                };
            }
        };
        let shown = image.source.archive.display().to_string();
        if message.contains("no space left on device") {
            DeliverError::NoSpace {
                target: format!("the Docker daemon at {}", self.endpoint),
                image: shown,
                message,
                fix: "`docker image prune` removes unused images",
            }
        } else {
            DeliverError::Daemon {
                endpoint: self.endpoint.clone(),
                action: "load",
                image: shown,
                message,
            }
        }
    }

    async fn tag(&self, image: &Image, reference: &str) -> Result<(), DeliverError> {
        let (repo, tag) = reference
            .rsplit_once(':')
            .expect("local references always carry a tag");
        let options = TagImageOptionsBuilder::new().repo(repo).tag(tag).build();
        // Docker's own store names an image by its config digest; a
        // containerd-backed store (Docker Desktop) by the archive's tag.
        let mut source = image.config_digest();
        if !self.has(&source).await? {
            source = image.archive_tag()?;
        }
        self.docker
            .tag_image(&source, Some(options))
            .await
            .map_err(|error| DeliverError::Daemon {
                endpoint: self.endpoint.clone(),
                action: "tag",
                image: source.clone(),
                message: error.to_string(),
            })
    }
}

impl Loader for DaemonLoader {
    fn target(&self) -> String {
        format!("the Docker daemon at {}", self.endpoint)
    }

    fn deliver<'a>(
        &'a self,
        image: &'a Image,
        reporter: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<Delivered, DeliverError>> {
        Box::pin(async move {
            let reference = image.local_reference();
            // The tag is only trusted when it names this very image: Docker's
            // store identifies it by config digest, a containerd store by
            // manifest digest.
            let skipped = self
                .id_of(&reference)
                .await?
                .is_some_and(|id| id == image.config_digest() || id == image.digest);
            let bytes_sent = if skipped {
                let task = reporter.on_start(&format!("load {}", image.source.name), Some(0));
                reporter.on_finish(task, &progress::outcome(0, true));
                0
            } else {
                let sent = self.load(image, reporter).await?;
                self.tag(image, &reference).await?;
                sent
            };
            Ok(Delivered {
                digest: image.digest.clone(),
                reference,
                bytes_sent,
                skipped,
                via: Via::DockerDaemon,
            })
        })
    }
}
